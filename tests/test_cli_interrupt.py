"""Ctrl-C while the command line waits for its jobs: a real SIGINT to `python -m music_analyzer_client`, the answer
to its "cancel them? [y/N]" on its stdin, against the live test service (real HTTP, real Celery worker)."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from tests.test_cli import CLI, cli_env, ma, song


@pytest.fixture()
def env(server, celery_worker, tmp_path) -> dict[str, str]:
    return cli_env(server, tmp_path)


class Interruptible:
    """The CLI as a subprocess whose stderr lines are read as they come (a thread), ready for a real SIGINT.

    A suite started in the background of a non-interactive shell runs with SIGINT ignored, and an ignored signal
    stays ignored across exec: the CLI would never see the Ctrl-C. A handled one is reset to the default, under
    which Python raises KeyboardInterrupt, so the parent handles it while the child starts."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            self.proc = subprocess.Popen([*CLI, *args], env=env, cwd=cwd, text=True, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        finally:
            signal.signal(signal.SIGINT, previous)
        assert self.proc.stdin is not None and self.proc.stdout is not None and self.proc.stderr is not None
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        stderr = self.proc.stderr
        self.reader = threading.Thread(target=lambda: [self.lines.put(line) for line in stderr], daemon=True)
        self.reader.start()

    def wait_for(self, text: str) -> None:
        while not self.seen or text not in self.seen[-1]:
            self.seen.append(self.lines.get(timeout=120))

    def interrupt_and_answer(self, answer: str) -> tuple[int, str]:
        """Ctrl-C, then the answer: the exit code and everything it printed on stderr."""
        self.proc.send_signal(signal.SIGINT)
        return self.answer(answer)

    def answer(self, answer: str) -> tuple[int, str]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(answer + "\n")
        self.proc.stdin.close()
        self.proc.stdout.read()
        code = self.proc.wait(timeout=120)
        self.reader.join(timeout=30)
        return code, "".join(self.seen + list(self.lines.queue))


def songs(folder: Path, names: tuple[str, ...], start: int, bars: int = 9) -> None:
    for tonic, name in enumerate(names, start=start):
        # audio no other test analyses: a cached result (same owner, same content) would finish at once
        song(folder / name, tonic=tonic, bars=bars)


def test_ctrl_c_while_waiting_asks_and_cancels(env, tmp_path, client):
    songs(tmp_path, ("x.wav", "y.wav", "z.wav"), start=3)
    cli = Interruptible(["analyze", "x.wav", "y.wav", "z.wav", "--session", "cli-interrupt", "--features",
                         "--pitch", "--wait"], env, tmp_path)
    cli.wait_for("job(s) started")  # all six requested: now interrupt the wait
    code, text = cli.interrupt_and_answer("y")
    assert code == 130, text
    assert "cancel the" in text and "unfinished job(s) on the server? [y/N]" in text and "Traceback" not in text
    jobs = client.get("/jobs", params={"session_id": "cli-interrupt"}).json()["jobs"]
    assert len(jobs) == 6
    finals = [client.wait_job(j["job_id"])["state"] for j in jobs]
    # one worker runs them one after another: the later ones were still queued when the answer came
    assert "canceled" in finals and set(finals) <= {"canceled", "succeeded"}, finals


def test_jobs_that_end_while_the_question_waits_are_not_listed_as_left_running(env, tmp_path, client):
    """A stranger's Ctrl-C: the state lines of jobs still running printed over the "[y/N]" question, and "N" then
    listed a job that had succeeded meanwhile as "left running" ("y" tried to cancel it). Here every job ends on
    the server before the answer comes."""
    songs(tmp_path, ("u.wav", "v.wav", "w.wav"), start=0, bars=11)
    cli = Interruptible(["analyze", "u.wav", "v.wav", "w.wav", "--session", "cli-ended", "--features", "--pitch",
                         "--wait"], env, tmp_path)
    cli.wait_for("job(s) started")
    cli.proc.send_signal(signal.SIGINT)
    jobs = client.get("/jobs", params={"session_id": "cli-ended"}).json()["jobs"]
    assert len(jobs) == 6
    assert {client.wait_job(j["job_id"])["state"] for j in jobs} == {"succeeded"}  # all ended: now the answer
    code, text = cli.answer("n")
    assert code == 130 and "Traceback" not in text, text
    asked = re.search(r"cancel the (\d+) unfinished job\(s\) on the server\? \[y/N\] ", text)
    assert asked is not None, text
    after = text[asked.end():]
    assert "left running" not in after and "succeeded (" not in after, after  # no state line over the question
    ended = re.findall(r"(\w+) \(succeeded\)", after.split("ended while asking:")[1])
    # those the question counted as unfinished (the one worker runs them in turn: at least the last one)
    assert len(ended) == int(asked.group(1)) >= 1 and set(ended) <= {j["job_id"] for j in jobs}, after


def test_a_batch_canceled_at_ctrl_c_is_finished_by_one_resume(env, tmp_path, client):
    """A stranger's Ctrl-C, "cancel them: y", then --resume reported the canceled jobs as failed and ran them only
    at a second --resume. Real SIGINT, real cancel, the real progress file."""
    folder = tmp_path / "set"
    folder.mkdir()
    songs(folder, ("r.wav", "s.wav", "t.wav"), start=7)
    cli = Interruptible(["batch", str(folder), "--pitch", "--jobs", "1", "--session", "cli-resume"], env, tmp_path)
    cli.wait_for("pitch: running")  # the first job runs: interrupt it
    code, text = cli.interrupt_and_answer("y")
    assert code == 130, text
    canceled = [j for j in client.get("/jobs", params={"session_id": "cli-resume"}).json()["jobs"]
                if client.wait_job(j["job_id"])["state"] == "canceled"]
    assert canceled  # the running one at least
    resumed = ma(env, "batch", str(folder), "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "failed" not in resumed.stdout and "canceled" not in resumed.stdout, resumed.stdout
    states = [j["state"] for j in client.get("/jobs", params={"session_id": "cli-resume"}).json()["jobs"]]
    assert states.count("succeeded") == 3, states
