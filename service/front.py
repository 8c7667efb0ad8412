"""The nginx front of `run.py`: find the binary, render deploy/nginx's template and a main config.

The site template (deploy/nginx/music-analyzer.conf.template) is the one docker-compose's nginx uses
too; this module only adds what a run of its own needs around it: daemon off (the supervisor runs
it), pid file and temp folders inside DATA_DIR, and the worker user when started as root.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from service.layout import RunLayout

ROOT = Path(__file__).resolve().parent.parent
SITE_TEMPLATE = ROOT / "deploy" / "nginx" / "music-analyzer.conf.template"
_PLACEHOLDER = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")


@dataclass(frozen=True)
class FrontSettings:
    listen: str  # nginx `listen` address: "127.0.0.1:8000", "[::1]:8000", "8000"
    upstream: str  # the API for nginx `server`: "unix:/path/api.sock" or "api:8000"
    max_body_bytes: int  # the API's MAX_UPLOAD_BYTES
    access_log: str  # a file, or /dev/stdout
    header_timeout: int = 10  # seconds for the whole request header
    body_timeout: int = 30  # seconds the body may pause between two reads
    events_upstream: str | None = None  # the server of GET /jobs/<id>/events; None: the API itself
    data_dir: str = ""  # the API's DATA_DIR, absolute: downloads are sent from there (write_configs: the layout's)


def find_nginx() -> str | None:
    """The nginx binary: $NGINX_BIN if set, else on PATH or in /usr/sbin (not on a user's PATH on Debian)."""
    chosen = os.environ.get("NGINX_BIN", "").strip()
    if chosen:
        return shutil.which(chosen)
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin:/usr/local/nginx/sbin")


def render(template: str, values: dict[str, str]) -> str:
    """Fill ${NAME} placeholders as envsubst does; leave nginx's $variables alone; fail on a missing one."""
    missing = sorted({m for m in _PLACEHOLDER.findall(template) if m not in values})
    if missing:
        raise KeyError(f"no value for placeholder(s) {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def site_values(front: FrontSettings) -> dict[str, str]:
    return {"LISTEN": front.listen, "API_UPSTREAM": front.upstream, "ACCESS_LOG": front.access_log,
            "EVENTS_UPSTREAM": front.events_upstream or front.upstream,
            "CLIENT_MAX_BODY_SIZE": str(int(front.max_body_bytes)),
            "CLIENT_HEADER_TIMEOUT": str(int(front.header_timeout)),
            "CLIENT_BODY_TIMEOUT": str(int(front.body_timeout)), "DATA_DIR": front.data_dir}


def listen_address(host: str, port: int) -> str:
    if host in ("", "0.0.0.0", "*"):
        return str(port)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _worker_user(data: Path) -> str:
    """`user` line for a master started as root: workers run as the data directory's owner.

    nginx's default worker user (nobody) could not reach the API socket and temp folders inside a
    private data directory; the owner of DATA_DIR is the account the rest of the service runs as.
    """
    if os.geteuid() != 0:
        return ""  # a non-root master cannot switch users; its workers run as itself
    owner = pwd.getpwuid(data.stat().st_uid)
    return f"user {owner.pw_name} {grp.getgrgid(owner.pw_gid).gr_name};"


def main_config(layout: RunLayout) -> str:
    temp = {name: layout.nginx / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for folder in temp.values():
        folder.mkdir(parents=True, exist_ok=True)
    user = _worker_user(layout.data)
    return "\n".join([
        "# written by run.py (service/front.py); the site itself is deploy/nginx/music-analyzer.conf.template",
        "daemon off;  # supervisord runs it in the foreground",
        "worker_processes auto;",
        "worker_rlimit_nofile 8192;",
        # a graceful stop waits for open requests, and a job's event stream stays open until the job ends
        "worker_shutdown_timeout 5s;",
        f"pid {layout.run / 'nginx.pid'};",
        "error_log stderr notice;  # into DATA_DIR/logs/nginx.log via supervisord",
        user,
        "events { worker_connections 4096; }",
        "http {",
        "    default_type application/octet-stream;",
        "    sendfile on;",
        *[f"    {name}_temp_path {path};" for name, path in temp.items()],
        f"    include {layout.nginx_site_conf};",
        "}",
        "",
    ])


def write_configs(layout: RunLayout, front: FrontSettings) -> None:
    front = replace(front, data_dir=front.data_dir or str(layout.data.resolve()))
    site = render(SITE_TEMPLATE.read_text(), site_values(front))
    layout.nginx_site_conf.write_text(site)
    layout.nginx_conf.write_text(main_config(layout))


def command(nginx: str, layout: RunLayout) -> list[str]:
    # -e stderr: nginx opens its compiled-in error log before reading the config; a non-root user
    # cannot write /var/log/nginx, so the early messages go to stderr as well.
    return [nginx, "-e", "stderr", "-p", str(layout.nginx), "-c", str(layout.nginx_conf)]


def check(nginx: str, layout: RunLayout) -> str | None:
    """nginx -t on the rendered config: None when it is valid, else nginx's complaint."""
    proc = subprocess.run([*command(nginx, layout), "-t", "-q"], capture_output=True, text=True, timeout=30)
    return None if proc.returncode == 0 else (proc.stderr or proc.stdout).strip()
