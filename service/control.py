"""A client of a run's supervisord, over its unix socket (what `supervisorctl` talks to)."""

from __future__ import annotations

import xmlrpc.client
from typing import Any

from supervisor.xmlrpc import SupervisorTransport

from service.layout import RunLayout


class Supervisor:
    def __init__(self, layout: RunLayout) -> None:
        self._socket = f"unix://{layout.supervisor_socket}"

    @property
    def _rpc(self) -> Any:  # an XML-RPC proxy: its replies are untyped structures
        # a fresh connection per call: a call that failed (supervisord not up yet) spoils a kept one
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=SupervisorTransport(None, None, self._socket))

    def programs(self) -> dict[str, dict[str, Any]]:
        """name -> supervisord's process info (statename, pid, start, ...)."""
        return {p["name"]: p for p in self._rpc.supervisor.getAllProcessInfo()}

    def pid(self, name: str) -> int:
        """The program's pid while it is RUNNING, else 0."""
        info = self._rpc.supervisor.getProcessInfo(name)
        return int(info["pid"]) if info["statename"] == "RUNNING" else 0

    def stop(self, name: str) -> None:
        self._rpc.supervisor.stopProcess(name, True)

    def send_stop(self, name: str) -> None:
        """Send the program its stop signal and return: supervisord goes on to SIGKILL it after its stopwaitsecs."""
        self._rpc.supervisor.stopProcess(name, False)

    def start(self, name: str) -> None:
        self._rpc.supervisor.startProcess(name, True)
