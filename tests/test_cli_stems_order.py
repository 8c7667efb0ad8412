"""`analyze --stems --lyrics --wait` over several files: each file's transcription starts once its own stems are
done, not after the stems of every file before it (a stranger's three files waited 3 minutes on a slow first file
with a second worker idle)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import serving, wait_for
from tests.test_cli import cli_env, ma
from tests.test_resilience import start_worker_process, stop_all


def speech(path, words: str, *, silence_seconds: float = 0.0) -> None:
    """Spoken `words`, then digital silence (separated like music, and skipped by Whisper: a long file whose
    transcription is quick)."""
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(path), words], check=True)
    y, sr = sf.read(path)
    sf.write(path, np.concatenate([y, np.zeros(int(silence_seconds * sr))]), sr)


@pytest.mark.slow
@pytest.mark.needs_espeak
def test_each_files_lyrics_start_when_its_own_stems_are_done(own_queues, tmp_path):
    from app import create_app

    app = create_app({**own_queues, "MAX_DURATION_SECONDS": 300.0})
    queues = f"{own_queues['GPU_QUEUE']},{own_queues['CPU_QUEUE']}"
    env = {**os.environ, "REDIS_URL": own_queues["REDIS_URL"], "DATA_DIR": own_queues["DATA_DIR"],
           "AUTH_USERS": own_queues["AUTH_USERS"], "HEARTBEAT_SECONDS": "0.5", "MAX_DURATION_SECONDS": "300",
           "GPU_QUEUE": own_queues["GPU_QUEUE"], "CPU_QUEUE": own_queues["CPU_QUEUE"]}
    names = [f"order-{i}-{uuid.uuid4().hex[:6]}@test" for i in range(2)]
    workers = [start_worker_process(env, queues, name) for name in names]
    try:
        registry = app.extensions["music_analyzer"].workers
        # both take jobs before the first is sent: the short file's stems must not wait for the long file's
        wait_for(lambda: {w.get("node") for w in registry.all()} >= set(names), timeout=120, message="two workers")
        # words no other test speaks: a result cached from another test (the cache is the owner's) ends a job at once
        said = uuid.uuid4().hex[:6]
        # 90 s: its separation must outlast the short file's stems and their lyrics' start, also on a host loaded by
        # other work (with 30 s a loaded CI run's short file had started 2.8 s late and ended 0.5 s after it)
        speech(tmp_path / "long.wav", f"A long recording, {said}.", silence_seconds=90.0)
        speech(tmp_path / "short.wav", f"Hello from the stems, {said}.")
        assert sf.info(str(tmp_path / "long.wav")).duration > 90
        with serving(app) as base:
            done = ma(cli_env(base, tmp_path), "--json", "analyze", "long.wav", "short.wav", "--stems", "--model",
                      "repet", "--lyrics", "--wait", cwd=tmp_path)
    finally:
        stop_all(workers)
    assert done.returncode == 0, done.stderr
    files = {f["name"]: {j["analysis"]: j for j in f["jobs"]} for f in json.loads(done.stdout)["files"]}
    jobs = app.extensions["music_analyzer"].jobs
    record = {(name, analysis): jobs.get(j["job_id"]) for name, by in files.items() for analysis, j in by.items()}
    assert all(r["state"] == "succeeded" for r in record.values()), record
    # the short file's transcription was started while the long file was still being separated (in file order it
    # was started only after the long file's stems had ended)
    times = {k: (r.get("worker"), r["created_at"], r.get("started_at"), r["finished_at"]) for k, r in record.items()}
    for name in ("short.wav", "long.wav"):  # each file's words follow its own stems
        assert record[(name, "lyrics")]["created_at"] >= record[(name, "stems")]["finished_at"], times
    # where the short file's stems ended first (they do but on a host too loaded to start its worker in time), its
    # lyrics were queued before the long file's stems ended
    if record[("short.wav", "stems")]["finished_at"] < record[("long.wav", "stems")]["finished_at"]:
        assert record[("short.wav", "lyrics")]["created_at"] < record[("long.wav", "stems")]["finished_at"], times
