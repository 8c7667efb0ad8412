"""A job whose results would not fit is refused before it is queued: a real small filesystem (tmpfs).

A stranger's stems job on a nearly full data disk was accepted (202), ran, and failed 507 once its results met the
full disk; the API knows a job's output estimate (jobs/output_estimate.py) before it queues it, as it knows an
upload's size, and refuses it the same way (507 `insufficient_storage`, nothing queued, nothing written).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from tests.audio_synth import sine, write
from tests.conftest import PASSWORD, USER, serving
from tests.small_disk import files_under, small_disk
from tests.test_disk_full import assert_disk_full_answer, start_app

AUTH = (USER, PASSWORD)


@contextmanager
def on_small_disk(settings: dict, tmp_path: Path, *, min_free_mb: float, size_mb: int = 16,
                  **overrides) -> Iterator[tuple[Path, Path, Any, str]]:
    """An app whose DATA_DIR is on a tmpfs of `size_mb` (its `data` folder), served over HTTP: (disk, data, app,
    base URL). `overrides`: settings, e.g. the test's own CPU_QUEUE and GPU_QUEUE."""
    with small_disk(tmp_path / "disk", size_mb=size_mb) as disk:
        data = disk / "data"
        app = start_app(settings, data, MIN_FREE_DISK_MB=min_free_mb, **overrides)
        with serving(app) as base:
            yield disk, data, app, base


def new_session(base: str) -> tuple[requests.Session, str]:
    s = requests.Session()
    s.auth = AUTH
    return s, s.post(f"{base}/sessions", timeout=30).json()["session_id"]


def send(s: requests.Session, base: str, sid: str, path, name: str) -> requests.Response:
    with open(path, "rb") as fh:
        return s.post(f"{base}/sessions/{sid}/files", files={"file": (name, fh)}, timeout=60)


def test_a_job_whose_results_would_not_fit_is_refused_before_it_is_queued(settings, tmp_path):
    token = uuid.uuid4().hex[:8]
    # private queues: the suite's worker (another data directory) never takes the features job accepted here
    queues = {"CPU_QUEUE": f"cpu-room-{token}", "GPU_QUEUE": f"gpu-room-{token}"}
    with on_small_disk(settings, tmp_path, min_free_mb=1, **queues) as (disk, data, app, base):
        s, sid = new_session(base)
        # 2 minutes of stereo sine: ~1 MB of FLAC, whose two 32-bit float WAV stems would be ~85 MB
        tone = write(tmp_path / "long.flac", sine(330.0 + int(token[:4], 16) / 100.0, 120.0, channels=2))
        assert send(s, base, sid, tone, "long.flac").status_code == 201
        results = app.extensions["music_analyzer"].sessions.of(USER).results_dir(sid)
        refused = s.post(f"{base}/process/demucs/{sid}", json={"file": "long.flac", "model": "hpss"}, timeout=60)
        assert_disk_full_answer(refused, data=data)
        message = refused.json()["error"]["message"]
        assert "too little space for this job's results (about 8" in message, message
        assert "nothing was queued" in message, message
        assert s.get(f"{base}/sessions/{sid}", timeout=30).json()["jobs"] == []
        assert files_under(results) == []
        # the same stems as FLAC fit (~75 % of 24-bit PCM: ~60 MB still does not), a features job does
        assert s.post(f"{base}/process/demucs/{sid}", json={"file": "long.flac", "model": "hpss",
                                                             "format": "flac"}, timeout=60).status_code == 507
        accepted = s.post(f"{base}/process/features/{sid}", json={"file": "long.flac"}, timeout=60)
        assert accepted.status_code == 202, accepted.text
        assert s.delete(f"{base}/jobs/{accepted.json()['job_id']}", timeout=30).status_code in (200, 202)


def test_an_upload_that_alone_would_not_fit_is_told_so_and_a_small_one_is_taken(settings, tmp_path):
    """A stranger's batch of two 2-minute WAVs and a short one: the large uploads were told "the server is low on
    disk space and takes no new sessions or uploads", and the short one was then taken (the disk was above
    MIN_FREE_DISK_MB; only those uploads would have taken it under)."""
    with on_small_disk(settings, tmp_path, min_free_mb=8) as (disk, data, app, base):
        s, sid = new_session(base)
        large = write(tmp_path / "large.wav", sine(330.0, 60.0, channels=2))  # ~10 MB of 16-bit WAV
        refused = send(s, base, sid, large, "large.wav")
        assert_disk_full_answer(refused, data=data)
        message = refused.json()["error"]["message"]
        assert "too little space for this upload (about 10 MB, keeping 8 MB free): nothing was stored" in \
            message, message
        assert "takes no new sessions or uploads" not in message, message
        small = write(tmp_path / "small.wav", sine(330.0, 1.0))
        assert send(s, base, sid, small, "small.wav").status_code == 201


def test_a_job_on_a_disk_already_under_the_reserve_is_not_told_its_results_are_too_large(settings, tmp_path):
    """A stranger's features job (about 1 MB of results) on a disk already under MIN_FREE_DISK_MB had been told
    "too little space for this job's results (about 1 MB, keeping 66395 MB free)", as if the job were too large."""
    token = uuid.uuid4().hex[:8]
    queues = {"CPU_QUEUE": f"cpu-low-{token}", "GPU_QUEUE": f"gpu-low-{token}"}
    with on_small_disk(settings, tmp_path, min_free_mb=8, **queues) as (disk, data, app, base):
        s, sid = new_session(base)
        small = write(tmp_path / "small.wav", sine(330.0, 1.0))
        assert send(s, base, sid, small, "small.wav").status_code == 201
        (disk / "filler").write_bytes(b"\0" * (9 << 20))  # the disk under its 8 MB reserve, not full
        refused = s.post(f"{base}/process/features/{sid}", json={"file": "small.wav"}, timeout=60)
        assert_disk_full_answer(refused, data=data)
        message = refused.json()["error"]["message"]
        assert message.startswith("the server is low on disk space (under the 8 MB it keeps free) and queues "
                                  "no jobs until space has been freed: nothing was queued"), message
        assert "this job's results" not in message, message
        assert s.get(f"{base}/sessions/{sid}", timeout=30).json()["jobs"] == []
