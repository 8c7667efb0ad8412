"""Jobs end to end: HTTP -> Redis -> real Celery worker -> result files -> poll."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from jobs import keys
from jobs.erasure import Gone, deleting, withdraw_if_gone
from jobs.store import JobStore
from tests.audio_synth import sine, write
from tests.conftest import USER, node_of, queued_record
from tests.small_disk import files_under
from tests.test_api_sessions import upload, user_session_dir


@pytest.fixture()
def tone_session(client, session_id, audio_dir):
    upload(client, session_id, write(audio_dir / "a440.wav", sine(440, 2.0, channels=2)))
    return session_id


def test_features_job_round_trip(client, tone_session, settings):
    r = client.post(f"/process/features/{tone_session}", json={"file": "a440.wav"})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status_url"] == f"/jobs/{body['job_id']}"
    job = client.wait_job(body["job_id"])
    assert job["state"] == "succeeded", job
    assert job["type"] == "features" and job["session_id"] == tone_session and job["progress"] == 1.0
    assert job["queue"] == settings["CPU_QUEUE"] and job["input_files"] == ["a440.wav"]
    for k in ("created_at", "started_at", "finished_at"):
        assert job[k]
    res = job["result"]
    assert res["filename"] == "a440.wav" and res["channels"] == 2 and res["sample_rate"] == 44100
    af = res["audio_features"]
    for key in ("rms_energy", "spectral_centroid_hz", "spectral_bandwidth_hz", "spectral_rolloff_hz",
                "zero_crossing_rate", "mfcc", "chroma_distribution", "loudness_lufs", "peak_dbfs"):
        assert key in af
    assert af["dominant_pitch_class"] == "A"
    results = user_session_dir(settings, USER, tone_session) / "results"
    assert sorted(os.listdir(results)) == ["features_a440.json", "features_a440.png", "features_a440.txt"]
    with open(os.path.join(results, "features_a440.json")) as fh:
        assert json.load(fh)["audio_features"] == af
    png = client.get(f"/sessions/{tone_session}/files/features_a440.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    listed = client.get(f"/sessions/{tone_session}").json()
    assert {f["name"] for f in listed["results"]} == set(job["files"])
    assert listed["jobs"][0]["job_id"] == body["job_id"]


def test_batch_features_job(client, tone_session, audio_dir):
    upload(client, tone_session, write(audio_dir / "b.flac", sine(220, 1.0)))
    r = client.post(f"/process/features/{tone_session}")
    job = client.wait_job(r.json()["job_id"])
    assert job["state"] == "succeeded", job
    names = sorted(x["filename"] for x in job["result"]["results"])
    assert names == ["a440.wav", "b.flac"] and job["result"]["errors"] == []
    assert sorted(job["input_files"]) == names  # a batch: every upload it was queued with
    assert client.get(f"/jobs?session_id={tone_session}").json()["jobs"][0]["job_id"] == job["job_id"]


def test_a_batch_of_the_uploads_files_names(client, tone_session, audio_dir):
    """`files` makes one batch job over the uploads it lists (a stranger's `files` had been taken and ignored:
    the job ran over every upload)."""
    for name, hz in (("b.flac", 220), ("c.wav", 330)):
        upload(client, tone_session, write(audio_dir / name, sine(hz, 1.0)))
    r = client.post(f"/process/features/{tone_session}", json={"files": ["c.wav", "a440.wav"]})
    # the answer names them too (a page listing a cached job's answer, never followed, had a row without its file)
    assert r.status_code == 202 and r.json()["input_files"] == ["c.wav", "a440.wav"], r.text
    job = client.wait_job(r.json()["job_id"])
    assert job["state"] == "succeeded" and job["input_files"] == ["c.wav", "a440.wav"], job
    assert sorted(x["filename"] for x in job["result"]["results"]) == ["a440.wav", "c.wav"]
    for body, status, code in (({"files": ["c.wav"], "file": "c.wav"}, 400, "invalid_files"),
                               ({"files": "c.wav"}, 400, "invalid_files"), ({"files": []}, 400, "invalid_files"),
                               ({"files": ["c.wav", "c.wav"]}, 400, "invalid_files"),
                               ({"files": [12]}, 400, "invalid_files"),
                               ({"files": ["c.wav", "nope.wav"]}, 404, "file_not_found")):
        r = client.post(f"/process/pitch/{tone_session}", json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (body, r.text)
    # MusicGen reads no upload: `file` and `files` are unknown there, not ignored
    r = client.post(f"/process/musicgen/{tone_session}", json={"prompt": "jazz", "files": ["c.wav"]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_option", r.text
    assert "files" not in r.json()["error"]["details"]["valid"]


def test_process_errors(client, session_id):
    assert client.post("/process/features/nosuchsession", json={}).status_code == 404
    r = client.post(f"/process/features/{session_id}", json={})
    assert r.status_code == 422 and r.json()["error"]["code"] == "no_audio_files"
    r = client.post(f"/process/features/{session_id}", json={"file": "missing.wav"})
    assert r.status_code == 404
    r = client.post(f"/process/features/{session_id}", data="not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert client.get("/jobs/0123456789abcdef").status_code == 404
    assert client.delete("/jobs/0123456789abcdef").status_code == 404


def test_crashing_job_is_marked_failed_and_worker_keeps_serving(client, tone_session, settings):
    # The upload was valid; corrupt it on disk after the fact, as a failing disk would.
    path = user_session_dir(settings, USER, tone_session) / "uploads" / "a440.wav"
    with open(path, "wb") as fh:
        fh.write(b"RIFF\x00\x00\x00\x00WAVEjunk")
    job = client.wait_job(client.post(f"/process/features/{tone_session}", json={"file": "a440.wav"}).json()["job_id"])
    assert job["state"] == "failed"
    assert job["error"]["code"] and job["error"]["message"]
    # the same worker still serves
    other = client.post("/sessions").json()["session_id"]
    upload(client, other, write(os.path.join(settings["DATA_DIR"], "ok.wav"), sine(440, 0.5)))
    job = client.wait_job(client.post(f"/process/features/{other}", json={"file": "ok.wav"}).json()["job_id"])
    assert job["state"] == "succeeded"


def test_cancel_queued_job_never_runs(app, client, tone_session, settings):
    # Create the record without publishing, so it is certainly still queued when canceled.
    job = queued_record(app, owner=USER, job_type="features", session_id=tone_session, queue=settings["CPU_QUEUE"],
                          task="music_analyzer.features",
                          params={"files": ["a440.wav"], "batch": False, "options": {}})
    r = client.delete(f"/jobs/{job['job_id']}")
    assert r.status_code == 202 and r.json()["state"] == "canceled"
    with app.app_context():
        from jobs.submit import publish

        publish("music_analyzer.features", job["job_id"], settings["CPU_QUEUE"])
    # a later job on the same queue finishing proves the canceled one was consumed first
    later = client.post(f"/process/features/{tone_session}", json={"file": "a440.wav"}).json()["job_id"]
    assert client.wait_job(later)["state"] == "succeeded"
    final = client.get(f"/jobs/{job['job_id']}").json()
    assert final["state"] == "canceled" and final["started_at"] is None
    assert client.delete(f"/jobs/{job['job_id']}").status_code == 409


def test_cancel_running_job_stops_at_checkpoint(app, client):
    """Deterministic: the test holds the worker's model lock, so the job is running and cannot finish until
    the cancel has been requested; released, it stops at its first progress checkpoint."""
    from jobs.runtime import model_manager

    with app.app_context():
        gate = model_manager()._op_lock  # every load and generation takes it
    svc = app.extensions["music_analyzer"]
    with gate:
        r = client.post("/api/v2/models/generate", json={"prompt": "Count to one hundred.", "max_length": 400,
                                                          "wait": 0})
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        assert svc.jobs.wait_for_state(job_id, ("running",), timeout=60)["state"] == "running"
        r = client.delete(f"/jobs/{job_id}")
        assert r.status_code == 202 and r.json()["state"] == "cancel_requested"
    final = client.wait_job(job_id)
    assert final["state"] == "canceled" and "result" not in final
    assert final["canceled_by"] == USER  # asked of the API, ended by the worker: who asked is kept
    assert client.delete(f"/jobs/{job_id}").status_code == 409


def test_a_cancel_its_job_obeys_before_the_request_reads_it_back_is_no_409(app, settings, session_id):
    """CI, twice: DELETE /jobs/<id> set the cancel flag, the running job's next checkpoint saw it and ended the job
    canceled, and the request, reading the job back after that, answered 409 "already finished" (the CLI then said
    nothing was canceled). The store below lets the runner's checkpoint come at exactly that moment."""
    svc = app.extensions["music_analyzer"]
    job_id = queued_record(app, owner=USER, job_type="features", session_id=session_id, queue=settings["CPU_QUEUE"],
                           task="music_analyzer.features", params={"files": ["a.wav"], "batch": False})["job_id"]
    assert svc.jobs.start(job_id, worker="w@test#1.abc", max_attempts=2) == "run"

    class CheckpointBeforeReadBack(JobStore):
        def get(self, job_id: str) -> dict | None:
            if self.cancel_requested(job_id):  # the runner's checkpoint sees the flag and ends its job
                self.mark_canceled(job_id)
            return super().get(job_id)

    assert CheckpointBeforeReadBack(svc.jobs.r).request_cancel(job_id) == "running"  # the route: cancel_requested
    assert svc.jobs.get(job_id)["state"] == "canceled" and not svc.jobs.cancel_requested(job_id)
    assert svc.jobs.request_cancel(job_id) is None  # asked again, it had finished: 409


def test_a_job_canceled_while_drawing_its_picture_leaves_no_result_files(app, client, session_id, audio_dir,
                                                                         settings):
    """Deterministic: the test holds matplotlib's figure render lock (every Figure.draw takes it), so the
    features job is drawing its picture when the cancel arrives; released, it writes the PNG, meets its next
    checkpoint and stops. The runner takes back what the job wrote: no PNG without its JSON."""
    from matplotlib.figure import Figure

    # a tone no other test analyses: the result cache cannot answer the job before it runs
    name = f"cancel-{uuid.uuid4().hex[:8]}.wav"
    upload(client, session_id, write(audio_dir / name, sine(300 + uuid.uuid4().int % 500, 1.0)))
    results = user_session_dir(settings, USER, session_id) / "results"
    svc = app.extensions["music_analyzer"]
    with Figure._render_lock:
        r = client.post(f"/process/features/{session_id}", json={"file": name})
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        assert svc.jobs.wait_until(job_id, lambda j: j["stage"] == "picture", timeout=60)["stage"] == "picture"
        r = client.delete(f"/jobs/{job_id}")
        assert r.status_code == 202 and r.json()["state"] == "cancel_requested"
    final = client.wait_job(job_id)
    assert final["state"] == "canceled", final
    assert files_under(results) == []


def test_a_batch_canceled_midway_keeps_the_files_it_had_finished(app, client, session_id, audio_dir, settings):
    """A stranger canceled a 12-track features batch at 74 %: the results of the 8 finished tracks went too.
    The first file is done when the test takes matplotlib's render lock; the second then blocks drawing its
    picture, the cancel arrives, and only the second's files are taken back."""
    from matplotlib.figure import Figure

    tag = uuid.uuid4().hex[:8]  # tones no other test analyses: nothing answered from the cache
    names = [f"first-{tag}.wav", f"second-{tag}.wav", f"third-{tag}.wav"]
    for i, (name, seconds) in enumerate(zip(names, (1.0, 60.0, 1.0), strict=True)):
        upload(client, session_id, write(audio_dir / name, sine(200 + 50 * i + uuid.uuid4().int % 40, seconds)))
    results = user_session_dir(settings, USER, session_id) / "results"
    svc = app.extensions["music_analyzer"]
    r = client.post(f"/process/features/{session_id}", json={})  # no file: a batch over the three
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    ended = ("succeeded", "failed", "canceled")  # not "queued": under load the job may not have started yet
    svc.jobs.wait_until(job_id, lambda j: j["progress"] > 1 / 3 or j["state"] in ended, timeout=120)
    with Figure._render_lock:
        second = svc.jobs.wait_until(job_id, lambda j: j["stage"] == "picture" or j["state"] in ended,
                                     timeout=120)
        assert second["stage"] == "picture" and second["progress"] > 1 / 3, second
        assert client.delete(f"/jobs/{job_id}").json()["state"] == "cancel_requested"
    final = client.wait_job(job_id)
    assert final["state"] == "canceled", final
    stem = names[0].removesuffix(".wav")
    assert sorted(final["files"]) == [f"features_{stem}.{ext}" for ext in ("json", "png", "txt")]
    assert [r["filename"] for r in final["result"]["results"]] == [names[0]]
    assert files_under(results) == sorted(final["files"])  # nothing of the second, no hidden leftovers


def test_delete_session_with_queued_job_is_409(app, client, tone_session, settings):
    svc = app.extensions["music_analyzer"]
    job = queued_record(app, owner=USER, job_type="features", session_id=tone_session, queue=settings["CPU_QUEUE"],
                          task="music_analyzer.features",
                          params={"files": ["a440.wav"], "batch": True, "options": {}})
    assert client.delete(f"/sessions/{tone_session}").status_code == 409
    svc.jobs.request_cancel(job["job_id"])
    assert client.delete(f"/sessions/{tone_session}").status_code == 200


def test_a_job_requested_while_its_session_is_deleted_is_withdrawn(app, client, tone_session, settings):
    """A stranger's process request racing DELETE /sessions answered 202, and the job then vanished with the
    session. Here the deletion is held at its start (its mark set, as DELETE sets it before it looks for
    unfinished jobs): the request answers 409 (retry) and leaves no job behind, as it does for an upload being
    deleted; a job indexed before the mark is what the deletion's 409 sees."""
    svc = app.extensions["music_analyzer"]
    before = {j["job_id"] for j in client.get(f"/jobs?session_id={tone_session}").json()["jobs"]}
    with deleting(svc.jobs.r, owner=USER, session_id=tone_session):
        r = client.post(f"/process/features/{tone_session}", json={"file": "a440.wav"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "session_being_deleted", r.text
        assert "retry" in r.json()["error"]["message"]
    with deleting(svc.jobs.r, owner=USER, session_id=tone_session, name="a440.wav"):  # DELETE of the upload
        r = client.post(f"/process/features/{tone_session}", json={"file": "a440.wav"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "file_being_deleted", r.text
    assert {j["job_id"] for j in client.get(f"/jobs?session_id={tone_session}").json()["jobs"]} == before
    assert not svc.jobs.r.exists(keys.session_deleting(USER, tone_session))  # the mark goes with the deletion
    # the other order: the job was indexed first, its session's folder went before it looked
    job = queued_record(app, owner=USER, job_type="features", session_id=tone_session, queue=settings["CPU_QUEUE"],
                        task="music_analyzer.features", params={"files": ["a440.wav"], "batch": False, "options": {}})
    assert withdraw_if_gone(svc.jobs.r, owner=USER, session_id=tone_session, job_id=job["job_id"],
                            session_exists=True, uploads={"a440.wav": True}) is None
    assert client.delete(f"/sessions/{tone_session}").status_code == 409  # the deletion sees it
    assert withdraw_if_gone(svc.jobs.r, owner=USER, session_id=tone_session, job_id=job["job_id"],
                            session_exists=False, uploads={"a440.wav": True}) == Gone("session", deleting=False)
    assert client.get(f"/jobs/{job['job_id']}").status_code == 404
    assert client.delete(f"/sessions/{tone_session}").status_code == 200
    assert client.post(f"/process/features/{tone_session}", json={"file": "a440.wav"}).status_code == 404


def test_health_reports_worker_and_queues(client, settings, worker_name):
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["redis"]["ok"]
    (w,) = [w for w in h["workers"] if w["node"] == worker_name]
    assert node_of(w["name"]) == worker_name and w["name"] != worker_name  # unique per process start
    assert w["alive"] and w["pid"] == os.getpid()
    assert set(w["queues"]) == {settings["GPU_QUEUE"], settings["CPU_QUEUE"]}
    assert set(h["queue_depth"]) == {"gpu", "cpu"}


def test_probe_job_round_trip(client, admin_client, worker_name):
    r = admin_client.post("/jobs/probe", json={"queue": "gpu", "wait": 30})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] and node_of(body["worker"]) == worker_name and body["round_trip_ms"] > 0 and body["pid"] > 0
    # a user who is not an admin learns that a worker answered, not its host and pid (nor from the job's record)
    mine = client.post("/jobs/probe", json={"queue": "gpu", "wait": 30}).json()
    assert mine["ok"] and mine["worker"] is None and mine["pid"] is None, mine
    record = client.get(f"/jobs/{mine['job_id']}").json()
    assert record["state"] == "succeeded" and record["result"] == {"worker": None, "pid": None}
    assert "worker" not in record  # nor from the job's `worker`, which admins read
    # an admin reads which worker ran a job (a server with workers on several machines: where to look)
    for seen in (admin_client.get(f"/jobs/{mine['job_id']}").json(),
                 next(j for j in admin_client.get("/jobs", params={"owner": USER}).json()["jobs"]
                      if j["job_id"] == mine["job_id"])):
        assert seen["worker"] == worker_name, seen
    assert all("worker" not in j for j in client.get("/jobs").json()["jobs"])
    assert client.post("/jobs/probe", json={"queue": "elsewhere"}).status_code == 400


def test_a_probe_that_gives_up_says_its_wait_readably(settings, redis_url, tmp_path):
    """A stranger's probe with a tiny wait was told "no worker answered on the cpu queue within 5e-324 s".

    The app's cpu queue is one no worker consumes: a session worker can answer a probe before its wait has even
    begun (the wait starts after the job is queued), and a CI run had got its 200 for a 0.4 ms wait."""
    import requests

    from api.jobs import seconds_text
    from tests.conftest import PASSWORD, USER, serving
    from tests.test_resilience import make_app

    app = make_app(settings, redis_url, tmp_path, CPU_QUEUE=f"cpu-unserved-{uuid.uuid4().hex[:8]}")
    with serving(app) as base:
        for wait, said in ((5e-324, "less than a millisecond"), (0.0004, "less than a millisecond"),
                           (0.05, "0.05 s")):
            r = requests.post(base + "/jobs/probe", json={"queue": "cpu", "wait": wait}, auth=(USER, PASSWORD),
                              timeout=30)
            assert r.status_code == 504, r.text
            assert r.json()["message"] == f"no worker answered on the cpu queue within {said}", r.text
    assert [seconds_text(s) for s in (0.0123456, 2.5, 5.0, 60)] == ["0.012 s", "2.5 s", "5 s", "60 s"]


PUBLIC_HEALTH_FIELDS = {"status", "api", "redis", "queues_without_worker", "queue_depth", "workers_alive", "disk",
                        "stopped_workers", "mixed_code_versions"}  # a flag: it names no worker


def test_health_without_credentials_shows_no_workers_pids_or_jobs(app, server, client, other_client, admin_client,
                                                                   settings, worker_name):
    import requests

    from jobs import keys

    svc = app.extensions["music_analyzer"]
    identity = app.extensions["worker_identity"]  # the session worker's, unique to its process start
    # a running job of the tester's (an ended one is not current)
    svc.redis.hset(keys.job("f" * 32), mapping={"job_id": "f" * 32, "type": "features", "state": "running",
                                                "owner": USER})  # (fewer fields read as no record: jobs/record.py)
    svc.workers.set_current(identity, "f" * 32)  # a job id the full view lists under the worker
    try:
        full = client.get("/health")
        others = other_client.get("/health")
        admins = admin_client.get("/health")
        anonymous = requests.get(server + "/health", timeout=10)
    finally:
        svc.workers.clear_current(identity, "f" * 32)
        svc.redis.delete(keys.job("f" * 32))
    assert "f" * 32 in full.text and worker_name in full.text
    # another user sees the worker busy, not whose job it runs (a stranger read alice's job id as bob)
    assert "f" * 32 not in others.text and worker_name in others.text and "f" * 32 in admins.text
    assert anonymous.status_code == 200
    body = anonymous.json()
    assert set(body) <= PUBLIC_HEALTH_FIELDS and body["status"] == "ok" and body["workers_alive"] >= 1
    assert body["redis"]["ok"] and set(body["redis"]) == {"ok", "latency_ms"}
    assert set(body["queue_depth"]) == {"gpu", "cpu"}
    assert set(body["disk"]) == {"ok", "free_bytes", "total_bytes", "min_free_bytes"} and body["disk"]["ok"]
    for secret in ("f" * 32, worker_name, worker_name.partition("@")[2], '"pid"', settings["CPU_QUEUE"],
                   settings["DATA_DIR"]):
        assert secret not in anonymous.text


def test_health_with_wrong_credentials_is_401(server):
    import requests

    r = requests.get(server + "/health", auth=(USER, "not the password"), timeout=10)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_an_analysis_given_album_art_being_deleted_is_withdrawn(app, client, tone_session, settings, audio_dir):
    """An LLM analysis requested with `image` while DELETE of that image runs (its mark set) had been created and
    queued: it would have found the image gone when it ran. Its request is refused as one on an audio upload being
    deleted is (409 `file_being_deleted`) and leaves no job behind. The job is submitted as the lyrics route does,
    past the route's model checks (no image model is here)."""
    from jobs.submit import submit
    from tests.test_album_art import cover
    from worker.errors import ConflictError
    from worker.lyrics.options import LyricsOptions

    assert upload(client, tone_session, cover(audio_dir / "sleeve.png")).status_code == 201
    svc = app.extensions["music_analyzer"]
    before = {j["job_id"] for j in client.get(f"/jobs?session_id={tone_session}").json()["jobs"]}
    with app.app_context(), deleting(svc.jobs.r, owner=USER, session_id=tone_session, name="sleeve.png"):
        with pytest.raises(ConflictError) as refused:
            submit("lyrics", owner=USER, session_id=tone_session, options=LyricsOptions(image="sleeve.png"),
                   files=["a440.wav"], queue=f"{settings['GPU_QUEUE']}-nobody")  # a queue no worker reads
    assert refused.value.code == "file_being_deleted" and "'sleeve.png'" in str(refused.value)
    assert {j["job_id"] for j in client.get(f"/jobs?session_id={tone_session}").json()["jobs"]} == before
