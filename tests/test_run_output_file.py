"""run.py's output sent to a file with a shell's `>` (`bash run.sh > run.log 2>&1`): every line of it is kept.

supervisord writes its lines through the descriptor it shares with run.py (one offset, not appending), and the
guard's notes reach the same file through `/dev/stdout` opened anew, appending. Each guard note was written at the
end of the file and then overwritten by supervisord's next line at the shared offset: a stranger's run.log held
"lled 2 process(es) [25053, 25054] left behind by a dead program", and of the note before it nothing at all.
"""

from __future__ import annotations

import os
import re
import signal

import pytest
from werkzeug.security import generate_password_hash

from tests.conftest import wait_for
from tests.run_served import PASSWORD, USER, start_run, stop_run


@pytest.mark.slow  # a run.py of its own: ~15 s here
def test_the_guards_notes_survive_in_a_file_that_run_py_writes_with_a_shells_redirect(tmp_path):
    log = tmp_path / "run.log"
    run = start_run(tmp_path, {"AUTH_USERS": f"{USER}:{generate_password_hash(PASSWORD)}", "AUTH_DISABLED": "0"},
                    ["--no-gpu-worker", "--front", "none"], output=log)
    try:
        # its banner comes once every program is up (no /health "ok": there is no GPU worker)
        wait_for(lambda: "Music Analyzer API:" in log.read_text(), timeout=300, interval=0.2, message="the banner")
        sup = run.sup()
        api = sup.pid("api")  # gunicorn's master: its workers stay in its group when it is killed
        os.kill(api, signal.SIGKILL)
        wait_for(lambda: f"left behind by a dead program (group {api})" in log.read_text(), timeout=60,
                 message="the guard's note of the API's leftover workers")
    finally:
        if run.proc.poll() is None:
            stop_run(run)  # supervisord logs the stop after the note, at its own offset
    text = log.read_text()
    assert re.search(rf"\d guard: killed \d+ process\(es\) \[[\d, ]+\] left behind by a dead program \(group {api}\)",
                     text), text
    assert "exited: api (terminated by SIGKILL" in text, text
    assert "\0" not in text
