"""`music-analyzer models generate` as a real subprocess against the live test service: Ctrl-C asks whether to
cancel the generation (a stranger's went on holding the GPU queue after the CLI had exited), and a generation
canceled from elsewhere prints the text it had written."""

from __future__ import annotations

import queue
import signal
import subprocess
import threading

from music_analyzer_client.watching import job_text

from tests.sse import open_stream
from tests.test_cli import CLI, cli_env, on_a_terminal

PROMPT = "Write the numbers from 1 to 300, separated by commas."  # greedy SmolLM2: all 600 tokens, ~45 s


def start(env: dict[str, str]) -> tuple[subprocess.Popen, queue.Queue[str], threading.Thread]:
    # SIGINT handled, not ignored, while the child starts (see tests/test_cli.py: an ignored one stays ignored)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen([*CLI, "models", "generate", PROMPT, "--max-length", "600", "--temperature", "0"],
                                env=env, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    finally:
        signal.signal(signal.SIGINT, previous)
    lines: queue.Queue[str] = queue.Queue()  # stderr, read by this thread alone (communicate() would race it)
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr or ()], daemon=True)
    reader.start()
    return proc, lines, reader


def queued_job(lines: queue.Queue[str]) -> str:
    while "queued; Ctrl-C asks whether to cancel it" not in (line := lines.get(timeout=120)):
        continue
    return line.split("job ", 1)[1].split(" ", 1)[0]


def wait_for_tokens(client, job_id: str) -> None:
    with open_stream(client.base, job_id, client.s.auth, None) as events:  # its first tokens are out
        while (event := events.next()) is not None and not (
                event.event == "progress" and event.json()["stage"] == "generating"):
            continue


def test_ctrl_c_asks_whether_to_cancel_the_generation_and_shows_what_it_wrote(server, celery_worker, client,
                                                                            smollm2_folder, tmp_path):
    proc, lines, reader = start(cli_env(server, tmp_path))
    job_id = queued_job(lines)
    wait_for_tokens(client, job_id)
    proc.send_signal(signal.SIGINT)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("y\n")
    proc.stdin.close()
    stdout = proc.stdout.read()
    assert proc.wait(timeout=120) == 130
    reader.join(timeout=30)
    text = "".join(lines.queue)
    assert "cancel the 1 unfinished job(s) on the server? [y/N]" in text and "Traceback" not in text
    assert client.wait_job(job_id, timeout=300)["state"] == "canceled"
    assert "the text written before the cancel:" in text and stdout.startswith("1")  # greedy: "1, 2, 3, ..." cut


def test_a_generation_canceled_elsewhere_prints_what_it_had_written(server, celery_worker, client, smollm2_folder,
                                                                  tmp_path):
    proc, lines, reader = start(cli_env(server, tmp_path))
    job_id = queued_job(lines)
    wait_for_tokens(client, job_id)
    assert client.delete(f"/jobs/{job_id}").json()["state"] == "cancel_requested"
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    stdout = proc.stdout.read()
    assert proc.wait(timeout=300) == 1
    reader.join(timeout=30)
    assert stdout.startswith("1") and len(stdout) < 4 * 600  # greedy: the start of "1, 2, 3, ...", cut
    assert "the text written before it follows" in "".join(lines.queue)


def test_the_spinner_says_what_a_model_job_does(server, celery_worker, client, smollm2_folder, tmp_path):
    """It said "waiting for the GPU worker…" while the model loaded and the text was written; on a terminal it
    now follows the job's events."""
    code, screen, stdout = on_a_terminal(["models", "generate", "Count from 1 to 20.", "--max-length", "40",
                                          "--temperature", "0"], cli_env(server, tmp_path))
    assert code == 0 and stdout.strip(), screen
    assert "generate: running · " in screen and "Traceback" not in screen, screen
    assert job_text({"state": "queued", "progress": 0.0}) == "waiting for the GPU worker…"
    assert job_text({"state": "running", "stage": "generating", "progress": 0.4}) == "running · generating 40%"
    assert job_text({"state": "running", "stage": "loading model", "progress": 0.0}) == "running · loading model"


def test_models_status_before_any_gpu_worker_reported_says_so(own_queues, private_redis, tmp_path):
    """A server whose GPU worker has not published its status (none started yet): the status line had read
    "device: ?". A Redis of its own: the status a worker publishes is the deployment's, and the suite's workers
    publish theirs in the shared one."""
    from app import create_app
    from tests.conftest import serving
    from tests.test_cli import ma

    settings = {**own_queues, "REDIS_URL": f"redis://127.0.0.1:{private_redis.port}/0"}
    with serving(create_app(settings)) as base:
        status = ma(cli_env(base, tmp_path), "models", "status")
    assert status.returncode == 0, status.stderr
    assert "current model: none · device: not reported yet (no GPU worker has published its status)" in \
        status.stdout, status.stdout
