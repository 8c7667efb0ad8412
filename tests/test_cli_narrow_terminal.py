"""The command line's tables on an 80-column terminal (real CLI subprocess on a pseudo-terminal, real HTTP, real
Celery worker and valkey).

A stranger's `ma jobs` on an 80-column terminal folded each job id over 5 lines and its state as "succeede" / "d",
and `ma library tracks` a session id over 2: neither could be read or copied into `ma cancel` or `--session`. Ids,
states and numbers now stay whole, the text columns fold, and a table that still does not fit is as wide as its
ids need, each row one line that the terminal wraps.
"""

from __future__ import annotations

import os
import pty
import subprocess

from tests.audio_synth import sine, write
from tests.test_api_sessions import upload
from tests.test_cli import CLI, cli_env


def on_a_terminal(command: list[str], env: dict[str, str], cwd, columns: int) -> list[str]:
    """The command's stdout as a person's terminal of `columns` columns gets it (a pseudo-terminal), line by line."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(command, env={**env, "COLUMNS": str(columns), "TERM": "dumb"}, cwd=cwd,
                              stdout=follower, stderr=subprocess.PIPE, text=True, timeout=60)
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end closed: everything is read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    assert proc.returncode == 0, proc.stderr
    return b"".join(chunks).decode().splitlines()


def test_ids_and_states_stay_whole_on_an_80_column_terminal(server, celery_worker, client, session_id, tmp_path):
    env = cli_env(server, tmp_path)
    assert upload(client, session_id, write(tmp_path / "narrow tone.wav", sine(523, 1.0))).status_code == 201
    job_id = client.post(f"/process/features/{session_id}", json={"file": "narrow_tone.wav"}).json()["job_id"]
    assert client.wait_job(job_id)["state"] == "succeeded"
    lines = on_a_terminal([*CLI, "jobs", "--session", session_id], env, tmp_path, 80)
    row = next((line for line in lines if job_id in line), None)
    assert row is not None, "\n".join(lines)  # the whole id on one line, where it had been folded over 5
    assert session_id in row and " succeeded " in row and "100%" in row, row
    lines = on_a_terminal([*CLI, "sessions"], env, tmp_path, 80)
    assert any(session_id in line for line in lines), "\n".join(lines)
