"""Deleting a session, or an upload, whose job was canceled but has not yet stopped: the 409 says to wait, not to
cancel the job the user has just canceled."""

from __future__ import annotations

from tests.audio_synth import sine, write
from tests.conftest import USER, queued_record
from tests.test_api_sessions import upload


def test_a_canceled_job_still_stopping_is_waited_for_not_canceled_again(app, client, session_id, audio_dir,
                                                                         settings, worker_name):
    """A stranger's `DELETE /sessions/race` 0.5 s after `DELETE /jobs/<id>` (202 cancel_requested) was told
    "session 'race' has 1 queued or running job(s); cancel them first"; so was `ma delete` after `ma cancel`."""
    upload(client, session_id, write(audio_dir / "held.wav", sine(440, 1.0)))
    svc = app.extensions["music_analyzer"]
    job = queued_record(app, owner=USER, job_type="features", session_id=session_id, queue=settings["CPU_QUEUE"],
                        task="music_analyzer.features", params={"files": ["held.wav"], "batch": False, "options": {}})
    job_id = job["job_id"]
    # running on the live test worker, between two checkpoints: a cancel is a request it has not met yet
    identity = app.extensions.get("worker_identity", worker_name)  # what its heartbeat is kept under
    assert svc.workers.is_alive(identity)
    assert svc.jobs.start(job_id, worker=identity, max_attempts=3) == "run"
    busy = client.delete(f"/sessions/{session_id}")
    assert busy.status_code == 409 and busy.json()["error"]["message"].endswith("; cancel them first"), busy.text
    assert client.delete(f"/jobs/{job_id}").json()["state"] == "cancel_requested"
    try:
        for path in (f"/sessions/{session_id}", f"/sessions/{session_id}/files/held.wav"):
            r = client.delete(path)
            error = r.json()["error"]
            assert r.status_code == 409 and error["code"] in ("session_busy", "file_in_use"), (path, r.text)
            assert "cancel them first" not in error["message"], (path, error)
            assert "1 running job(s) canceled but not yet stopped" in error["message"], (path, error)
            assert "try again in a moment" in error["message"] and error["details"]["jobs"] == [job_id]
    finally:
        svc.jobs.mark_canceled(job_id, from_states=("running",))
    assert client.delete(f"/sessions/{session_id}").status_code == 200
