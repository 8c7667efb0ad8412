"""The progress an LLM job reports, as its listeners see it, from its first event to its last: it only moves
forward, and says "done" once, at the end. A stranger's lyrics job (transcribing first) went 40 % "done", 43 %
"analysing lyrics", back to 40 % "reading the prompt", up to 100 % "generated", back to 97 % "writing"; a
comparison went from 5 % back to 0 % and reached 100 % before its files were written. Real worker, Whisper tiny.en,
SmolLM2; the events are replayed from the job's own log (`Last-Event-ID` older than any), so none is missed."""

from __future__ import annotations

import subprocess

import pytest

from tests.audio_synth import write
from tests.sse import open_stream
from tests.test_api_pitch import cadence
from tests.test_api_sessions import upload

pytestmark = [pytest.mark.slow]
BEFORE_ANY_EVENT = "1-0"


def running_events(client, job_id: str) -> tuple[list[dict], dict]:
    """The job's state and progress events while it ran, in order, and its final record."""
    seen: list[dict] = []
    with open_stream(client.base, job_id, client.s.auth, BEFORE_ANY_EVENT) as events:
        while (event := events.next()) is not None:
            if event.event == "done":
                return seen, event.json()
            if event.event in ("state", "progress") and event.json()["state"] == "running":
                seen.append(event.json())
    raise AssertionError(f"the stream of job {job_id} ended without its final record")


def assert_forward_and_done_last(seen: list[dict], job: dict) -> None:
    """`seen` and then the final record `job` only move forward, and "done" is said at the end only. A listener
    may miss the last progress event: the store trims the log to the final event when the job ends, and a listener
    still sending the event before it reads on from the final one (one CI run saw "generated" last, then the end);
    so "done" is the final record's stage, and once before it at most."""
    assert any(e["stage"] == "generating" for e in seen), seen  # the whole job was seen, the model's part too
    told = [*seen, {"progress": job["progress"], "stage": job["stage"]}]
    progress = [e["progress"] for e in told]
    assert progress == sorted(progress), "; ".join(f"{e['progress']} {e['stage']}" for e in told)
    assert job["stage"] == "done" and job["progress"] == 1.0, job
    if seen[-1]["stage"] == "done":
        told.pop()  # the running "done" and the final record say the same end
    assert [e["stage"] for e in told].count("done") == 1, told
    assert all(e["progress"] < 1.0 for e in told[:-1]), [(e["progress"], e["stage"]) for e in told]


@pytest.mark.needs_espeak
def test_a_lyrics_job_that_transcribes_first_moves_forward(client, session_id, audio_dir, smollm2_folder):
    wav = audio_dir / "progress-song.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), "The river runs down to the sea tonight."],
                   check=True)
    upload(client, session_id, wav)
    r = client.post(f"/process/lyrics/{session_id}", json={"file": "progress-song.wav",
                                                           "model_variant": "smollm2-135m", "temperature": 0,
                                                           "max_new_tokens": 40})
    assert r.status_code == 202, r.text
    seen, job = running_events(client, r.json()["job_id"])
    assert job["state"] == "succeeded", job
    assert "transcribed" in [e["stage"] for e in seen]  # Whisper's own "done", said as what it is
    assert_forward_and_done_last(seen, job)


def test_a_comparison_moves_forward(client, session_id, audio_dir, smollm2_folder):
    for name, tonic in (("p-c.wav", 261.63), ("p-g.wav", 392.0)):
        upload(client, session_id, write(audio_dir / name, cadence(tonic, bpm=120.0)))
        r = client.post(f"/process/pitch/{session_id}", json={"file": name, "include": ["key", "tempo"]},
                        headers={"Prefer": "wait=120"})
        assert r.status_code == 200 and r.json()["state"] == "succeeded", r.text
    r = client.post(f"/process/compare/{session_id}", json={"files": ["p-c.wav", "p-g.wav"], "temperature": 0,
                                                            "max_new_tokens": 32})
    assert r.status_code == 202, r.text
    seen, job = running_events(client, r.json()["job_id"])
    assert job["state"] == "succeeded", job
    assert_forward_and_done_last(seen, job)
