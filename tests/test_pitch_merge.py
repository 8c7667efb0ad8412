"""A pitch run with `include` merges into the earlier result of the same upload (worker/music/merged.py), over real
HTTP with a real worker: a melody-only run after a full one had rewritten pitch_<stem>.json/.txt/.png/.mid with
the melody alone, and the library lost the track's key and tempo (a stranger's mono8k.wav, D minor at 104.8 BPM).
"""

from __future__ import annotations

import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.music_signals import cadence, drum_loop
from tests.test_api_sessions import upload

SR = 22050


def groove(tonic: int, bpm: float, seed: int) -> np.ndarray:
    harmony, _ = cadence(tonic, bars=5, bar_seconds=2.0, sr=SR)
    drums = drum_loop(bpm, seconds=len(harmony) / SR, sr=SR, seed=seed)[: len(harmony)]
    return (0.6 * harmony + 0.4 * drums).astype(np.float32)


def run(client, session_id: str, body: dict) -> dict:
    r = client.post(f"/process/pitch/{session_id}", json=body)
    assert r.status_code == 202, r.text
    job = client.wait_job(r.json()["job_id"], timeout=300)
    assert job["state"] == "succeeded", job
    return job


def session_json(client, session_id: str, stem: str) -> dict:
    r = client.get(f"/sessions/{session_id}/files/pitch_{stem}.json", params={"area": "results"})
    assert r.status_code == 200, r.text
    return r.json()


def track(client, session_id: str, filename: str) -> dict:
    tracks = client.get("/library/tracks", params={"session_id": session_id}).json()["tracks"]
    return next(t for t in tracks if t["filename"] == filename)


def test_a_melody_only_run_keeps_the_full_runs_key_and_tempo(client, session_id, audio_dir):
    sf.write(audio_dir / "merge-a.wav", groove(2, 104.0, 0), SR)
    upload(client, session_id, audio_dir / "merge-a.wav")
    full = run(client, session_id, {"file": "merge-a.wav"})
    key, tempo = full["result"]["key"], full["result"]["tempo_bpm"]
    assert key["tonic"] and tempo, full["result"]
    before = track(client, session_id, "merge-a.wav")
    assert before["key"] and before["tempo_bpm"] == tempo

    melody = run(client, session_id, {"file": "merge-a.wav", "include": ["melody"]})
    held = session_json(client, session_id, "merge-a")
    assert held.get("key") == key and held.get("tempo_bpm") == tempo, held.keys()
    assert held["chords"] == full["result"]["chords"]
    # the job's own result is what it computed: the melody, no key, no tempo; it says what its files kept
    assert "melody" in melody["result"] and "key" not in melody["result"] and "tempo_bpm" not in melody["result"]
    assert melody["result"]["merged_with"] == {"stages": ["key", "chords", "tempo", "beats", "tuning"],
                                               "jobs": [full["job_id"]]}
    assert held["beat_times"] == full["result"]["beat_times"] and held["melody"] == melody["result"]["melody"]
    assert {s: v["job_id"] for s, v in held["stage_sources"].items()} == {
        "key": full["job_id"], "chords": full["job_id"], "tempo": full["job_id"], "beats": full["job_id"],
        "melody": melody["job_id"], "tuning": full["job_id"]}
    assert held["upload_sha256"] == hashlib.sha256((audio_dir / "merge-a.wav").read_bytes()).hexdigest()
    report = client.get(f"/sessions/{session_id}/files/pitch_merge-a.txt").text
    assert f"Key: {key['label']}" in report and "Tempo:" in report and "Melody:" in report
    assert f"melody from job {melody['job_id']}" in report and f"beats, tuning from job {full['job_id']}" in report
    assert sorted(melody["files"]) == ["pitch_merge-a.json", "pitch_merge-a.mid", "pitch_merge-a.png",
                                       "pitch_merge-a.txt"]
    after = track(client, session_id, "merge-a.wav")
    assert after["key"] == before["key"] and after["tempo_bpm"] == tempo

    # a key-only run then replaces the key alone: the melody of the run before it stays, and its MIDI
    key_only = run(client, session_id, {"file": "merge-a.wav", "include": "key"})
    held = session_json(client, session_id, "merge-a")
    assert held["melody"] == melody["result"]["melody"] and held["tempo_bpm"] == tempo
    assert held["stage_sources"]["key"]["job_id"] == key_only["job_id"]
    assert held["stage_sources"]["melody"]["job_id"] == melody["job_id"]
    names = {f["name"] for f in client.get(f"/sessions/{session_id}").json()["results"]}
    assert "pitch_merge-a.mid" in names


def test_a_partial_request_is_not_answered_from_the_cache_over_a_fuller_result(client, audio_dir):
    """A melody-only result cached from one session had been copied over another session's full result of the
    same bytes (the cache's copy, like a run, replaced the set): it runs there instead, and merges."""
    sf.write(audio_dir / "merge-c.wav", groove(7, 96.0, 1), SR)
    first = client.post("/sessions").json()["session_id"]
    upload(client, first, audio_dir / "merge-c.wav")
    run(client, first, {"file": "merge-c.wav", "include": ["melody"]})  # nothing earlier: cached as it is
    second = client.post("/sessions").json()["session_id"]
    upload(client, second, audio_dir / "merge-c.wav")
    full = run(client, second, {"file": "merge-c.wav"})
    assert full["result"]["key"]["tonic"] and full["result"]["tempo_bpm"]
    r = client.post(f"/process/pitch/{second}", json={"file": "merge-c.wav", "include": ["melody"]})
    assert r.status_code == 202 and r.json()["state"] == "queued", r.text  # a hit would have replaced the set
    melody = client.wait_job(r.json()["job_id"], timeout=300)
    assert melody["state"] == "succeeded" and not melody["result"].get("cached"), melody
    held = session_json(client, second, "merge-c")
    assert held["key"] == full["result"]["key"] and held["tempo_bpm"] == full["result"]["tempo_bpm"]
    assert track(client, second, "merge-c.wav")["tempo_bpm"] == full["result"]["tempo_bpm"]


def test_an_upload_replaced_by_other_bytes_gets_nothing_of_the_old_result(client, session_id, audio_dir, settings):
    """The earlier result is merged only when it is of the same bytes (its `upload_sha256`); a result from before
    results recorded it is taken for the same upload when it was written after the upload."""
    sf.write(audio_dir / "merge-b.wav", groove(9, 120.0, 2), SR)
    upload(client, session_id, audio_dir / "merge-b.wav")
    full = run(client, session_id, {"file": "merge-b.wav"})
    assert full["result"]["key"]["tonic"] == "A", full["result"]["key"]
    results = next(Path(settings["DATA_DIR"]).rglob(f"{session_id}/results"))
    legacy = {k: v for k, v in json.loads((results / "pitch_merge-b.json").read_text()).items()
              if k not in ("upload_sha256", "stage_sources")}  # as an older version wrote it
    (results / "pitch_merge-b.json").write_text(json.dumps(legacy))
    run(client, session_id, {"file": "merge-b.wav", "include": ["melody"]})
    held = session_json(client, session_id, "merge-b")
    assert held["key"] == full["result"]["key"] and "melody" in held  # written after the upload: the same one
    assert held["stage_sources"]["key"] == {"job_id": None, "analysed_at": None}

    # the upload's bytes replaced under its name (an operator's hand, a restored backup): nothing is merged
    uploaded = next(Path(settings["DATA_DIR"]).rglob(f"{session_id}/uploads/merge-b.wav"))
    sf.write(uploaded, np.zeros(SR * 8, dtype=np.float32), SR)
    tempo = run(client, session_id, {"file": "merge-b.wav", "include": ["tempo"]})
    held = session_json(client, session_id, "merge-b")
    assert "key" not in held and "melody" not in held and "merged_with" not in tempo["result"], held
    assert {s: v["job_id"] for s, v in held["stage_sources"].items()} == {"tempo": tempo["job_id"]}
    assert held["upload_sha256"] == hashlib.sha256(uploaded.read_bytes()).hexdigest()
    assert sorted(tempo["files"]) == ["pitch_merge-b.json", "pitch_merge-b.png", "pitch_merge-b.txt"]
    assert track(client, session_id, "merge-b.wav")["key"] is None


def test_two_partial_runs_finishing_together_both_keep_their_stages(tmp_path):
    """Two runs of one upload (two workers, a melody-only and a tempo-only request) that finish together had both
    merged into the same earlier result: the second to write put the full run's melody back over the first's.
    Each run here reaches its write step only once the other has finished analysing too (a barrier in the progress
    callback), so both would read the earlier result before either writes; the lock makes them take turns."""
    from worker.music.merged import RunSource
    from worker.music.options import PitchOptions
    from worker.music.pipeline import WRITE_AT, run_pitch

    audio = tmp_path / "merge-d.wav"
    sf.write(audio, groove(4, 112.0, 3), SR)
    digest = hashlib.sha256(audio.read_bytes()).hexdigest()
    results = tmp_path / "results"
    results.mkdir()
    run_pitch(audio_path=audio, results_dir=results, options=PitchOptions(),
              source=RunSource(job_id="full", upload_sha256=digest))
    both_analysed = threading.Barrier(2, timeout=300)  # a bound on the other's analysis, not a wait of its own

    def partial(job_id: str, stage: str) -> dict:
        def progress(fraction: float, phase: str) -> None:
            if phase == "write" and fraction == WRITE_AT:  # the write step's start (the JSON's is reported too)
                both_analysed.wait()
        return run_pitch(audio_path=audio, results_dir=results, options=PitchOptions(include=(stage,)),
                         progress=progress, source=RunSource(job_id=job_id, upload_sha256=digest))

    with ThreadPoolExecutor(2) as pool:
        melody, tempo = pool.submit(partial, "melody-job", "melody"), pool.submit(partial, "tempo-job", "tempo")
        melody.result(), tempo.result()
    held = json.loads((results / "pitch_merge-d.json").read_text())
    assert {s: v["job_id"] for s, v in held["stage_sources"].items()} == {
        "key": "full", "chords": "full", "tempo": "tempo-job", "beats": "full", "melody": "melody-job",
        "tuning": "full"}
    assert sorted(p.name for p in results.iterdir() if not p.name.startswith(".")) == [
        "pitch_merge-d.json", "pitch_merge-d.mid", "pitch_merge-d.png", "pitch_merge-d.txt"]
