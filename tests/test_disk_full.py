"""A full disk is an error, not an outage: a real filesystem (a small tmpfs) filled to the last byte.

Uploads and jobs on it fail with 507 `insufficient_storage` and leave nothing partial behind; /health
says `degraded` with the free space; once space is freed the same app (and worker) write again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
import requests

from tests.audio_synth import sine, write
from tests.conftest import PASSWORD, USER, serving
from tests.contract import assert_answer
from tests.small_disk import files_under, fill, small_disk

ROOT = Path(__file__).resolve().parent.parent
AUTH = (USER, PASSWORD)


def start_app(settings, data: Path, **overrides):
    from app import create_app

    return create_app({**settings, "DATA_DIR": str(data), **overrides})


def assert_disk_full_answer(r: requests.Response, *, data: Path) -> None:
    assert r.status_code == 507, r.text
    error = r.json()["error"]
    assert error["code"] == "insufficient_storage"
    for internal in ("Errno", "OSError", str(data), "/tmp"):
        assert internal not in error["message"], error


def chunked_upload(base: str, session_id: str, name: str, payload: bytes) -> requests.Response:
    """A multipart upload without Content-Length (chunked): no up-front size check can refuse it, so the
    write itself meets the full disk."""
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: audio/wav\r\n\r\n").encode() + payload + f"\r\n--{boundary}--\r\n".encode()
    return requests.post(f"{base}/sessions/{session_id}/files", auth=AUTH, timeout=60,
                         data=iter([body[i:i + 8192] for i in range(0, len(body), 8192)]),
                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})


def test_uploads_on_a_full_disk_are_507_and_resume_once_space_returns(settings, tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        data = disk / "data"
        app = start_app(settings, data, MIN_FREE_DISK_MB=1)
        from api.openapi.build import spec_for

        spec = spec_for(app)
        tone = write(tmp_path / "tone.wav", sine(440, 1.0))
        with serving(app) as base:
            sid = requests.post(f"{base}/sessions", auth=AUTH, timeout=30).json()["session_id"]

            def upload(path: Path) -> requests.Response:
                with open(path, "rb") as fh:
                    return requests.post(f"{base}/sessions/{sid}/files", files={"file": (path.name, fh)},
                                         auth=AUTH, timeout=60)

            assert upload(tone).status_code == 201
            h = requests.get(f"{base}/health", timeout=30).json()
            assert h["disk"]["ok"] is True and h["disk"]["min_free_bytes"] == 1024 * 1024
            assert 0 < h["disk"]["free_bytes"] <= h["disk"]["total_bytes"] == 8 * 1024 * 1024

            filler = fill(disk)
            r = requests.get(f"{base}/health", timeout=30)
            h = r.json()
            assert h["status"] == "degraded" and h["disk"] == {"ok": False, "free_bytes": 0,
                                                                "total_bytes": 8 * 1024 * 1024,
                                                                "min_free_bytes": 1024 * 1024}
            assert str(disk) not in r.text  # the public view names no path
            assert_answer(spec, "GET", "/health", r.status_code, h)

            # under MIN_FREE_DISK_MB: refused before a byte of the body is stored
            r = upload(tone)
            assert_disk_full_answer(r, data=data)
            assert_answer(spec, "POST", "/sessions/{session_id}/files", r.status_code, r.json())
            # and no new session (a stranger's POST /sessions had made empty ones with 24 KB left)
            made = requests.post(f"{base}/sessions", auth=AUTH, timeout=30)
            assert_disk_full_answer(made, data=data)
            assert_answer(spec, "POST", "/sessions", made.status_code, made.json())
            # no threshold and no Content-Length: the spool's own write meets the full disk
            app.config["MIN_FREE_DISK_MB"] = 0
            assert_disk_full_answer(chunked_upload(base, sid, "late.wav", tone.read_bytes()), data=data)
            assert files_under(data / "tmp") == []  # no half-written spool file
            listed = requests.get(f"{base}/sessions/{sid}", auth=AUTH, timeout=30)  # reads go on
            assert listed.status_code == 200 and [f["name"] for f in listed.json()["files"]] == ["tone.wav"]
            # a library not made yet cannot be made: said as a full disk (a stranger's read "not reachable")
            assert_disk_full_answer(requests.get(f"{base}/library/tracks", auth=AUTH, timeout=30), data=data)

            filler.unlink()  # space returns: the same app takes uploads again, no restart
            app.config["MIN_FREE_DISK_MB"] = 1
            assert requests.get(f"{base}/health", timeout=30).json()["disk"]["ok"] is True
            r = upload(tone)
            assert r.status_code == 201, r.text
            r = chunked_upload(base, sid, "late.wav", tone.read_bytes())
            assert r.status_code == 201, r.text
            assert [f["name"] for f in r.json()["files"]] == ["late.wav"]
            assert requests.get(f"{base}/library/tracks", auth=AUTH, timeout=30).status_code == 200


def test_an_upload_that_fills_the_disk_midway_leaves_no_file(settings, tmp_path):
    """Room for the upload's spool file but not for the info written beside it once moved in: the request gets
    507 and the session holds no trace of it (no upload, no info, no claim of its name)."""
    with small_disk(tmp_path / "disk") as disk:
        data = disk / "data"
        app = start_app(settings, data, MIN_FREE_DISK_MB=0)
        tone = write(tmp_path / "tone.wav", sine(440, 0.5)).read_bytes()
        with serving(app) as base:
            sid = requests.post(f"{base}/sessions", auth=AUTH, timeout=30).json()["session_id"]
            uploads = app.extensions["music_analyzer"].sessions.of(USER).uploads_dir(sid)
            filler = fill(disk)
            page = os.statvfs(disk).f_frsize
            pages = -(-len(tone) // page)  # what the spool file takes
            os.truncate(filler, (-(-filler.stat().st_size // page) - pages) * page)
            assert os.statvfs(disk).f_bavail == pages
            assert_disk_full_answer(chunked_upload(base, sid, "tone.wav", tone), data=data)
            assert files_under(uploads) == [] and files_under(data / "tmp") == []
            filler.unlink()
            r = chunked_upload(base, sid, "tone.wav", tone)  # the name was not left claimed
            assert r.status_code == 201 and [f["name"] for f in r.json()["files"]] == ["tone.wav"], r.text


def test_a_cached_result_copied_onto_a_full_disk_leaves_no_half_set(tmp_path):
    """The result cache copies an earlier job's files for a new upload (picture first, JSON last): with room
    for the picture only, the copy fails as a full disk and takes the picture back; the earlier run's picture of
    that upload, which the copy had replaced, is put back (it had been lost, its set left halved)."""
    from jobs.cache import Hit, adopt
    from worker.errors import as_storage_error

    with small_disk(tmp_path / "disk") as disk:
        results = disk / "results"
        results.mkdir()
        page = os.statvfs(disk).f_frsize
        (results / "features_a.png").write_bytes(b"\x89PNG" + b"\0" * (page - 4))
        (results / "features_a.json").write_text("{}")
        for name in ("features_b.json", "features_b.png"):
            (results / name).write_text("an earlier run's")
        hit = Hit({"filename": "a.wav", "files": ["features_a.json", "features_a.png"]}, results, "a")
        filler = fill(disk)
        os.truncate(filler, (-(-filler.stat().st_size // page) - 1) * page)  # one page: the picture's copy
        with pytest.raises(OSError) as e:
            adopt(hit, audio_path=disk / "b.wav", results_dir=results)
        assert as_storage_error(e.value) is not None
        assert files_under(results) == ["features_a.json", "features_a.png", "features_b.json", "features_b.png"]
        assert (results / "features_b.png").read_text() == "an earlier run's"


def test_result_writers_on_a_full_disk_leave_no_file_and_say_so(tmp_path):
    """Every writer the pipelines use (JSON, PNG via matplotlib, WAV/FLAC via libsndfile, MP3), on a real full
    filesystem: the error is recognised as a full disk and no temporary or partial file stays."""
    from worker.audio_writers import AudioFileWriter
    from worker.errors import InsufficientStorageError, as_storage_error
    from worker.features.pipeline import run_features
    from worker.files import write_json_atomic

    with small_disk(tmp_path / "disk") as disk:
        results = disk / "results"
        results.mkdir()
        tone = write(disk / "tone.wav", sine(440, 1.0))
        fill(disk)
        failures: list[BaseException] = []
        with pytest.raises(OSError) as e:
            write_json_atomic(results / "x.json", {"k": "v" * 10000})
        failures.append(e.value)
        with pytest.raises(OSError) as e:  # the picture is the first file it writes
            run_features(audio_path=tone, results_dir=results)
        failures.append(e.value)
        for fmt in ("wav", "flac", "mp3"):
            with pytest.raises((OSError, InsufficientStorageError)) as err:
                with AudioFileWriter(results / f"x.{fmt}", sample_rate=44100, channels=2, format=fmt) as w:
                    for _ in range(5):
                        w.write(np.zeros((2, 44100), np.float32))
            failures.append(err.value)
        for failure in failures:
            mapped = failure if isinstance(failure, InsufficientStorageError) else as_storage_error(failure)
            assert mapped is not None and mapped.code == "insufficient_storage", repr(failure)
            assert "Errno" not in mapped.message and str(disk) not in mapped.message
        assert files_under(results) == []


def test_the_mfcc_spill_on_a_full_disk_is_a_full_disk_and_its_space_is_freed(tmp_path):
    """A stranger's features job of a long file near a full disk ended `internal_error` (ndarray.tofile's short
    write has no errno), and its deleted temporary file stayed open in the pool child, holding its space."""
    from worker.errors import as_storage_error
    from worker.features.mfcc import SPILL_FRAMES, MfccAccumulator

    with small_disk(tmp_path / "disk") as disk:
        fill(disk)
        acc = MfccAccumulator(sample_rate=22050, n_fft=2048, spill_dir=disk)
        block = np.ones((1025, 4096), np.float32)
        with pytest.raises(OSError) as e:
            for _ in range(SPILL_FRAMES // 4096 + 2):
                acc.push(block)
        assert as_storage_error(e.value) is not None, repr(e.value)
        open_files = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                      if os.path.exists(f"/proc/self/fd/{fd}")]
        assert not any(str(disk) in target for target in open_files), open_files


@pytest.mark.slow
def test_a_job_on_a_full_disk_fails_insufficient_storage_and_the_next_one_succeeds(settings, tmp_path):
    """A real worker process with its DATA_DIR on the full tmpfs (its own queues, so the session's worker, whose
    data directory is elsewhere, never takes these jobs). The job is accepted while its results fit (a job that
    would not fit is refused before it is queued: tests/test_disk_room_for_jobs.py); the disk fills before the
    worker, started after it, runs it."""
    token = uuid.uuid4().hex[:8]
    queues = {"CPU_QUEUE": f"cpu-disk-{token}", "GPU_QUEUE": f"gpu-disk-{token}"}
    with small_disk(tmp_path / "disk") as disk:
        data = disk / "data"
        app = start_app(settings, data, MIN_FREE_DISK_MB=0, **queues)
        env = {**os.environ, "REDIS_URL": settings["REDIS_URL"], "DATA_DIR": str(data),
               "AUTH_USERS": settings["AUTH_USERS"], "ADMIN_USERS": settings["ADMIN_USERS"], **queues}
        worker = None
        try:
            with serving(app) as base:
                s = requests.Session()
                s.auth = AUTH
                sid = s.post(f"{base}/sessions", timeout=30).json()["session_id"]
                # a tone of this run's own: a result cached for the same bytes (jobs/cache.py) would answer at once
                tone = sine(300.0 + int(token[:4], 16) / 100.0, 2.0)
                with open(write(tmp_path / "tone.wav", tone), "rb") as fh:
                    assert s.post(f"{base}/sessions/{sid}/files", files={"file": ("tone.wav", fh)},
                                  timeout=60).status_code == 201
                results = app.extensions["music_analyzer"].sessions.of(USER).results_dir(sid)

                def ask() -> str:
                    r = s.post(f"{base}/process/features/{sid}", json={"file": "tone.wav"}, timeout=60)
                    assert r.status_code == 202, r.text
                    return r.json()["job_id"]

                def outcome(job_id: str) -> dict:
                    return s.get(f"{base}/jobs/{job_id}", params={"wait": 120}, timeout=180).json()

                first = ask()
                filler = fill(disk)
                with open(tmp_path / "worker.log", "wb") as log:  # a file, never an unread pipe
                    worker = subprocess.Popen(
                        [sys.executable, "-m", "celery", "-A", "make_celery", "worker", "--pool", "solo",
                         "--concurrency", "1", "-Q", queues["CPU_QUEUE"], "-n", f"disk-{token}@localhost",
                         "--loglevel", "WARNING", "--without-mingle", "--without-gossip"], cwd=ROOT, env=env,
                        stdout=subprocess.DEVNULL, stderr=log)
                job = outcome(first)
                assert job["state"] == "failed", job
                assert job["error"]["code"] == "insufficient_storage", job
                assert "Errno" not in job["error"]["message"] and str(disk) not in job["error"]["message"]
                assert files_under(results) == []  # no picture without its JSON, no temporary file
                assert worker.poll() is None  # the worker keeps serving

                filler.unlink()
                job = outcome(ask())
                assert job["state"] == "succeeded", job
                assert sorted(files_under(results)) == sorted(job["files"])
        finally:
            if worker is not None:
                worker.terminate()
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait(timeout=30)


def test_the_front_answers_507_when_it_cannot_buffer_an_upload_on_a_full_disk(tmp_path):
    """nginx buffers a body over 1 MB to DATA_DIR/nginx: on a full disk that write fails, and the answer is
    the API's 507 `insufficient_storage` in the JSON envelope, not a bare 500."""
    from redis_server import free_port
    from service import front
    from service.layout import RunLayout
    from tests.conftest import wait_for

    binary = front.find_nginx()
    if binary is None:
        pytest.skip("nginx is not installed")
    with small_disk(tmp_path / "disk") as disk:
        layout = RunLayout.for_data_dir(disk / "data")
        layout.create()
        port = free_port()
        front.write_configs(layout, front.FrontSettings(
            listen=f"127.0.0.1:{port}", upstream=f"unix:{layout.api_socket}", max_body_bytes=8 * 1024 * 1024,
            access_log="/dev/null"))
        nginx = subprocess.Popen(front.command(binary, layout), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            try:
                return requests.get(f"{base}/health", timeout=2).status_code == 502  # no API behind it
            except requests.ConnectionError:
                return False

        try:
            wait_for(answers, timeout=20, message="nginx to answer")
            body = b"\0" * 2_000_000
            filler = fill(disk)
            r = requests.post(f"{base}/sessions/s/files", data=body, timeout=30,
                              headers={"Content-Type": "application/octet-stream"})
            assert_disk_full_answer(r, data=disk)
            assert files_under(layout.nginx) == []
            chunked = requests.post(f"{base}/sessions/s/files", data=iter([body[i:i + 65536] for i in range(
                0, len(body), 65536)]), timeout=30)  # no Content-Length: it had answered 500 front_error
            assert_disk_full_answer(chunked, data=disk)
            assert files_under(layout.nginx) == []
            small = requests.post(f"{base}/sessions/s/files", data=b"\0" * 1000, timeout=30)
            assert small.status_code == 502  # a small body stays in memory: it reaches (here: misses) the API
            filler.unlink()
            r = requests.post(f"{base}/sessions/s/files", data=body, timeout=30)
            assert r.status_code == 502 and r.json()["error"]["code"] == "api_unavailable"  # stored, passed on
        finally:
            nginx.terminate()
            nginx.wait(timeout=30)


def test_run_warns_at_start_when_the_data_disk_is_already_below_its_reserve(tmp_path):
    """A stranger's 40 MB volume, under the 256 MB default reserve: every upload was refused with 507 and run.py
    said nothing at start."""
    from service.runner import low_disk_note

    with small_disk(tmp_path / "disk", size_mb=8) as disk:
        note = low_disk_note({"DATA_DIR": str(disk), "MIN_FREE_DISK_MB": 256})
        assert note is not None and "8 MB free in DATA_DIR" in note and "below MIN_FREE_DISK_MB (256 MB)" in note
        assert "uploads and new sessions are refused" in note
        assert low_disk_note({"DATA_DIR": str(disk), "MIN_FREE_DISK_MB": 1}) is None
