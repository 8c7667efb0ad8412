"""Deleting a session over real HTTP: the folder, its jobs, their results and cached entries go with it."""

from __future__ import annotations

import uuid

import numpy as np

from tests.audio_synth import SR, sine, write
from tests.conftest import USER
from tests.test_api_sessions import upload


def test_delete_session(client, session_id):
    assert client.delete(f"/sessions/{session_id}").status_code == 200
    assert client.get(f"/sessions/{session_id}").status_code == 404


def test_a_file_missing_because_its_session_went_is_session_not_found(tmp_path):
    """A session DELETE renames the folder away at once: a lookup that found the folder and then missed the file
    answers for the session (a request racing a delete had been told file_not_found)."""
    from storage import SessionStore, missing_file

    store = SessionStore(sessions_dir=tmp_path / "sessions", tmp_dir=tmp_path / "tmp", owner="alice")
    (tmp_path / "tmp").mkdir()
    folder = store.create("racing")
    assert missing_file(folder, "racing", "a.wav").code == "file_not_found"
    store.delete("racing")
    assert missing_file(folder, "racing", "a.wav").code == "session_not_found"


def test_a_deleted_session_takes_its_jobs_results_and_cache_with_it(app, client, session_id, audio_dir):
    """A stranger deleted a session and still read its results at GET /jobs/<id>, listed in GET /jobs, for
    the 30 days of JOB_TTL_SECONDS. The records, event logs and cached results go with the session; another
    session's job stays, and the same audio analysed again runs afresh."""
    from jobs import keys

    # audio no other test sends: the cache is the owner's, and the same bytes analysed before would be a hit (a
    # quiet noise seeded per run makes the bytes this run's own: a whole-number pitch alone could be another test's)
    pitch = 300 + uuid.uuid4().int % 500
    hiss = np.random.default_rng(uuid.uuid4().int).standard_normal((SR, 1)).astype(np.float32) * 1e-3
    wav = write(audio_dir / "gone.wav", sine(pitch, 1.0) + hiss)
    upload(client, session_id, wav)
    done = [client.post(f"/process/features/{session_id}", json={"file": "gone.wav", **options},
                        headers={"Prefer": "wait=60"}).json() for options in ({}, {"picture": False})]
    assert [j["state"] for j in done] == ["succeeded", "succeeded"]
    kept_session = client.post("/sessions").json()["session_id"]
    upload(client, kept_session, write(audio_dir / "kept.wav", sine(pitch + 7, 1.0) + hiss))
    kept = client.post(f"/process/features/{kept_session}", json={"file": "kept.wav"},
                       headers={"Prefer": "wait=60"}).json()
    kept = client.wait_job(kept["job_id"], timeout=300)  # a loaded CI host can take past the 60 s the header asks
    assert kept["state"] == "succeeded" and not kept["result"].get("cached"), kept
    r = app.extensions["music_analyzer"].redis
    assert r.scard(keys.session_cache(USER, session_id)) == 2 and all(r.exists(keys.job(j["job_id"])) for j in done)

    assert client.delete(f"/sessions/{session_id}").status_code == 200
    for job in done:
        assert client.get(f"/jobs/{job['job_id']}").status_code == 404
        assert not r.exists(keys.job(job["job_id"]), keys.event_log(job["job_id"]))
    listed = {j["job_id"] for j in client.get("/jobs", params={"limit": 1000}).json()["jobs"]}
    assert kept["job_id"] in listed and not listed & {j["job_id"] for j in done}
    assert client.get("/jobs", params={"session_id": session_id}).json()["jobs"] == []
    assert not r.exists(keys.session_cache(USER, session_id), keys.session_jobs(USER, session_id))
    assert not [k for k in r.scan_iter(match=f"ma:cache:{USER}:*") if session_id.encode() in (r.get(k) or b"")]
    assert r.scard(keys.session_cache(USER, kept_session)) == 1  # another session's entry stays
    again = client.post("/sessions").json()["session_id"]
    upload(client, again, wav)
    rerun = client.post(f"/process/features/{again}", json={"file": "gone.wav"}, headers={"Prefer": "wait=60"})
    assert rerun.json()["state"] == "succeeded" and not rerun.json()["result"].get("cached")
