"""`GET /jobs?since=`: an ISO 8601 time with an offset, its `+` left unescaped in the URL as users paste it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.audio_synth import sine, write
from tests.test_api_sessions import upload


def test_since_with_an_unescaped_plus_offset_is_the_time_it_names(client, session_id, audio_dir):
    """`since=2026-12-06T12:50:00+01:00` typed into curl reaches the API as "...12:50:00 01:00" (a `+` in a query is
    a space): it had been 400 "since must be ISO 8601 or Unix seconds" for the ISO 8601 time the user wrote."""
    upload(client, session_id, write(audio_dir / "since.wav", sine(330, 1.0)))
    job = client.wait_job(client.post(f"/process/features/{session_id}", json={"file": "since.wav"}).json()["job_id"])
    created = datetime.fromisoformat(job["created_at"]).astimezone(timezone(timedelta(hours=1)))

    def listed(when: datetime) -> list[str]:
        stamp = when.isoformat(timespec="seconds")  # 2026-12-06T12:50:00+01:00, sent as it is written
        assert "+" in stamp
        r = client.get(f"/jobs?session_id={session_id}&since={stamp}")
        assert r.status_code == 200, (stamp, r.text)
        return [j["job_id"] for j in r.json()["jobs"]]

    assert listed(created - timedelta(seconds=1)) == [job["job_id"]]
    assert listed(created + timedelta(seconds=2)) == []  # the offset is read: an hour's difference would list it
    # still ISO 8601 or nothing: a time that is neither says how to write one
    r = client.get(f"/jobs?session_id={session_id}&since=yesterday")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_filter"
    assert "%2B" in r.json()["error"]["message"]
