"""supervisord's logs on a full data disk: one note on run.py's output, not a traceback for every lost line.

A real supervisord (started as run.py starts it) with a real program writing its output, the logs on a small tmpfs
filled to the last byte, then freed. A stranger's full-disk trial had read supervisord's 9-line "OSError: [Errno 28]
No space left on device" traceback for every line it could not log (81 of them in 90 s of an idle service).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time

from service.layout import RunLayout
from service.programs import Program
from tests.small_disk import fill, small_disk
from tests.supervised import start_supervisord

TIMEOUT = 30  # for each line awaited, from the call on; they come within a second or two


class Output:
    """supervisord's output (run.py's), line by line as it comes, all of it kept."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._new: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self._new.put(line)
        self._new.put(None)

    def until(self, text: str) -> str:
        """The next line holding `text` within TIMEOUT s (each line read on the way is kept in `lines`)."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                line = self._new.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line with {text!r} within {TIMEOUT} s; output so far:\n"
                                     + "".join(self.lines[-40:])) from None
            assert line is not None, f"supervisord exited before a line with {text!r}:\n" + "".join(self.lines[-40:])
            self.lines.append(line)
            if text in line:
                return line


def test_a_full_log_disk_is_said_once_and_its_return_with_the_lines_lost(tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        layout = RunLayout.for_data_dir(disk / "data")
        feed = tmp_path / "feed"  # off the small disk: each line the test writes here, the program prints
        os.mkfifo(feed)
        chatty = Program("chatty", [sys.executable, "-u", "-c",
                                    f"[print('line', x.strip()) for x in open({str(feed)!r})]"],
                         priority=10, startsecs=1)
        proc = start_supervisord(layout, [chatty], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            out = Output(proc)
            lines = open(feed, "w", buffering=1)  # opens once the program has opened its end
            lines.write("before\n")  # logged within its first second, before supervisord calls it running
            out.until("success: chatty entered RUNNING state")
            log = layout.logs / "chatty.log"
            assert log.stat().st_size > 0

            filler = fill(disk)
            # a line supervisord cannot log: longer than the room a full disk may leave in the log's last block
            lines.write("x" * 65536 + "\n")
            note = out.until(f"cannot write {log}")
            assert note.startswith("supervisord: ") and "No space left on device" in note
            assert "its lines are lost until there is room again" in note

            os.remove(filler)
            lines.write("after\n")  # logged again
            back = out.until(f"{log} is written again;")
            lost = int(back.split("; ")[1].split(" ")[0])
            assert lost >= 1, back

            said = "".join(out.lines)
            assert "Traceback" not in said and "Errno 28" not in said, said[-3000:]
            assert said.count(f"cannot write {log}") == 1
            assert proc.poll() is None
            lines.close()
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
