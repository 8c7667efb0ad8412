"""Jobs accepted and not yet finished hold the room their results will take on the data disk (disk_reservations).

A job was checked against the free space as it was asked for: two stems jobs asked back to back were both accepted
when each alone fitted, and the second failed 507 in the worker once its stems met the disk the first had filled.
Real small filesystems (tmpfs), real HTTP, a real Celery worker where jobs run; each test's data directory has an id
of its own, so its reservations are its own on the shared Redis.
"""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import redis as redis_lib
import requests

from disk_space import MB
from jobs import keys
from jobs.disk_reservations import Held
from jobs.output_estimate import estimate_output_bytes
from tests.audio_synth import sine, write
from tests.conftest import USER
from tests.test_disk_full import assert_disk_full_answer
from tests.test_disk_room_for_jobs import new_session, on_small_disk, send
from tests.test_resilience import start_worker_process, stop_all, wait_key_expired

SECONDS = 20.0  # a 44.1 kHz stereo tone: ~14 MB of 32-bit float WAV stems (hpss writes two), ~8 MB estimated as FLAC
HELD = "of the free space is held for the results of 1 job(s) already queued or running"


def tone(tmp_path: Path, name: str, token: str, n: int) -> Path:
    """Each file its own tone (no job is answered from another's cached results), as FLAC: small to upload."""
    return write(tmp_path / name, sine(220.0 + 40 * n + int(token[:4], 16) / 1000.0, SECONDS, channels=2))


def stems(s: requests.Session, base: str, sid: str, name: str, audio_format: str = "wav") -> requests.Response:
    return s.post(f"{base}/process/demucs/{sid}", json={"file": name, "model": "hpss", "format": audio_format},
                  timeout=60)


def free_bytes(data: Path) -> int:
    st = os.statvfs(data)
    return st.f_bavail * st.f_frsize


def assert_held_refusal(r: requests.Response, data: Path) -> None:
    assert_disk_full_answer(r, data=data)
    message = r.json()["error"]["message"]
    assert message.startswith("the server's disk has too little space for this job's results"), message
    assert HELD in message and "nothing was queued; retry once they have finished" in message, message


def own_queues() -> dict:
    token = uuid.uuid4().hex[:8]  # queues of this test's own: no other worker takes its jobs
    return {"CPU_QUEUE": f"cpu-held-{token}", "GPU_QUEUE": f"gpu-held-{token}"}


def worker_env(settings: dict, data: Path, queues: dict) -> dict:
    return {**os.environ, "REDIS_URL": settings["REDIS_URL"], "DATA_DIR": str(data),
            "MODELS_DIR": settings["MODELS_DIR"], "AUTH_USERS": settings["AUTH_USERS"], "HEARTBEAT_SECONDS": "0.5",
            **queues}


def test_a_job_that_fits_alone_but_not_beside_a_queued_one_is_refused_until_that_one_is_canceled(settings, tmp_path):
    """No worker serves these queues: the jobs stay queued, and what counts is what they will write."""
    token = uuid.uuid4().hex[:8]
    with on_small_disk(settings, tmp_path, min_free_mb=1, size_mb=24, **own_queues()) as (disk, data, app, base):
        s, sid = new_session(base)
        assert send(s, base, sid, tone(tmp_path, "a.flac", token, 0), "a.flac").status_code == 201
        first = stems(s, base, sid, "a.flac")
        assert first.status_code == 202, first.text
        estimate = app.extensions["music_analyzer"].jobs.get(first.json()["job_id"])["output_estimate"]
        free = free_bytes(data)
        assert free - int(estimate) > 1 * MB > free - 2 * int(estimate), (free, estimate)  # fits alone only
        assert_held_refusal(stems(s, base, sid, "a.flac"), data)
        assert [j["job_id"] for j in s.get(f"{base}/sessions/{sid}", timeout=30).json()["jobs"]] == \
            [first.json()["job_id"]]  # nothing more was queued
        # requests at the same moment take turns: none is taken beside the first
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: stems(s, base, sid, "a.flac"), range(4)))
        assert [a.status_code for a in answers] == [507] * 4, [a.text for a in answers]

        # a canceled job's room is free again
        assert s.delete(f"{base}/jobs/{first.json()['job_id']}", timeout=30).status_code in (200, 202)
        second = stems(s, base, sid, "a.flac")
        assert second.status_code == 202, second.text
        assert_held_refusal(stems(s, base, sid, "a.flac"), data)
        # of four at the same moment, once room is free again, exactly one is taken
        assert s.delete(f"{base}/jobs/{second.json()['job_id']}", timeout=30).status_code in (200, 202)
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: stems(s, base, sid, "a.flac"), range(4)))
        assert sorted(a.status_code for a in answers) == [202, 507, 507, 507], [a.text for a in answers]
        third = next(a.json()["job_id"] for a in answers if a.status_code == 202)

        # a reservation whose record is gone (expired) holds nothing
        r = redis_lib.Redis.from_url(settings["REDIS_URL"])
        r.pexpire(keys.job(third), 1)
        assert wait_key_expired(r, keys.job(third), timeout=30)
        fourth = stems(s, base, sid, "a.flac")
        assert fourth.status_code == 202, fourth.text
        # ...nor one older than the longest a job may take (a record stuck queued, its message lost, never runs)
        app.config.update(LONGEST_JOB_SECONDS=0, JOB_STOP_GRACE_SECONDS=0)
        fifth = stems(s, base, sid, "a.flac")
        assert fifth.status_code == 202, fifth.text
        identity = app.extensions["music_analyzer"].sessions.identity()
        assert r.zrange(keys.disk_reserved(identity), 0, -1) == [fifth.json()["job_id"].encode()]
        for job in (fourth, fifth):
            assert s.delete(f"{base}/jobs/{job.json()['job_id']}", timeout=30).status_code in (200, 202)
        assert r.zcard(keys.disk_reserved(identity)) == 0  # released as they ended


def test_a_running_job_holds_what_it_has_yet_to_write_not_what_it_wrote(settings, tmp_path):
    """What a running job wrote is gone from the free space already: its reservation counts the rest only (the whole
    estimate again would refuse a small job the disk has room for)."""
    token = uuid.uuid4().hex[:8]
    with on_small_disk(settings, tmp_path, min_free_mb=1, size_mb=24, **own_queues()) as (disk, data, app, base):
        svc = app.extensions["music_analyzer"]
        s, sid = new_session(base)
        assert send(s, base, sid, tone(tmp_path, "a.flac", token, 0), "a.flac").status_code == 201
        first = stems(s, base, sid, "a.flac")
        assert first.status_code == 202, first.text
        job_id = first.json()["job_id"]
        assert_held_refusal(stems(s, base, sid, "a.flac"), data)
        # as a worker starts it and writes its first stem (the temporary file, noted as its runner notes it)
        assert svc.jobs.start(job_id, worker=f"held-{token}@test", max_attempts=2) == "run"
        results = svc.sessions.of(USER).results_dir(sid)
        features = estimate_output_bytes("features", {}, [{"duration_seconds": SECONDS}])
        estimate = int(svc.jobs.get(job_id)["output_estimate"])
        room = free_bytes(data) - estimate - 1 * MB - features  # what is left beside the first job and features
        assert room > 0, room
        part = results / ".a_harmonic.wav.part"
        part.write_bytes(b"\0" * (room + 2 * MB))  # past that room, within the first job's estimate
        svc.jobs.writes.note(job_id, 1, part, becomes=results / "a_harmonic.wav")
        taken = s.post(f"{base}/process/features/{sid}", json={"file": "a.flac"}, timeout=60)
        assert taken.status_code == 202, taken.text
        for job in (job_id, taken.json()["job_id"]):
            svc.jobs.request_cancel(job, is_alive=lambda name: False)  # its worker is none: canceled now
        assert not part.exists()  # taken back with the canceled attempt
        assert svc.redis.zcard(keys.disk_reserved(svc.sessions.identity())) == 0


def test_a_finished_or_failed_job_frees_the_room_it_held(settings, tmp_path):
    """With a real worker: a job that fails (its upload vanished from the disk) frees its room, and so does one that
    succeeds (its stems, as FLAC, take less than their estimate: the same request fits once it has finished)."""
    token = uuid.uuid4().hex[:8]
    queues = own_queues()
    with on_small_disk(settings, tmp_path, min_free_mb=1, **queues) as (disk, data, app, base):
        svc = app.extensions["music_analyzer"]
        s, sid = new_session(base)
        for n, name in enumerate(("a.flac", "b.flac", "c.flac")):
            assert send(s, base, sid, tone(tmp_path, name, token, n), name).status_code == 201
        first = stems(s, base, sid, "a.flac", "flac")
        assert first.status_code == 202, first.text
        assert_held_refusal(stems(s, base, sid, "b.flac", "flac"), data)
        (svc.sessions.of(USER).uploads_dir(sid) / "a.flac").unlink()  # gone from under the queued job
        # the CPU queue's (DSP separations run there); its log beside the test's files, not on the small disk
        worker = start_worker_process(worker_env(settings, data, queues), queues["CPU_QUEUE"],
                                      f"held-{token}@test", log=tmp_path / "worker.log")
        try:
            failed = svc.jobs.wait_for_state(first.json()["job_id"], ("succeeded", "failed", "canceled"),
                                             timeout=120)
            assert failed["state"] == "failed", failed
            second = stems(s, base, sid, "b.flac", "flac")  # the request refused above
            assert second.status_code == 202, second.text
            # refused while the second is queued or running; taken once it has succeeded
            third = stems(s, base, sid, "c.flac", "flac")
            done = svc.jobs.wait_for_state(second.json()["job_id"], ("succeeded", "failed", "canceled"),
                                           timeout=180)
            assert done["state"] == "succeeded", done
            assert_held_refusal(third, data)
            again = stems(s, base, sid, "c.flac", "flac")
            assert again.status_code == 202, again.text
            ended = svc.jobs.wait_for_state(again.json()["job_id"], ("succeeded", "failed", "canceled"),
                                            timeout=180)
            assert ended["state"] == "succeeded", ended
            # nothing held once all have ended (its waiters are woken by the end, a moment before its removal)
            assert svc.jobs.disk.held(svc.sessions.identity(), limit_seconds=3600) == Held()
        finally:
            stop_all([worker])
