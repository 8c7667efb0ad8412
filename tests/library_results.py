"""Session result files as the pipelines write them, for the library's tests, and closing the library's
connections before a test database goes (no test here: pytest collects only test_*.py)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np


def write_results(folder: Path, stem: str, *, tonic: str, mode: str, tempo: float, mfcc_shift: float,
                  lines: list[tuple[float, str]] | None = None, analysis: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(abs(hash(stem)) % 2**32)
    chroma = rng.dirichlet(np.ones(12)).tolist()
    features = {"filename": f"{stem}.wav", "duration_seconds": 30.0, "audio_features": {
        "rms_dbfs": -14.0 + mfcc_shift, "crest_factor_db": 12.0, "loudness_lufs": -12.0 - mfcc_shift,
        "spectral_centroid_hz": 1500.0 + 300 * mfcc_shift, "spectral_bandwidth_hz": 1800.0,
        "spectral_rolloff_hz": 3000.0 + 200 * mfcc_shift, "zero_crossing_rate": 0.05, "silence_fraction": 0.0,
        "mfcc": {"mean": (np.arange(13) * 0.5 + mfcc_shift).tolist(), "std": [1.0 + mfcc_shift] * 13},
        "chroma_distribution": chroma}}
    (folder / f"features_{stem}.json").write_text(json.dumps(features))
    pitch = {"key": {"tonic": tonic, "mode": mode, "label": f"{tonic} {mode}", "confidence": 0.8},
             "tempo_bpm": tempo, "time_signature": "4/4", "beats_per_bar": 4,
             "chords": [{"start": 0, "end": 10, "label": f"{tonic}:{'maj' if mode == 'major' else 'min'}"}]}
    (folder / f"pitch_{stem}.json").write_text(json.dumps(pitch))
    if lines is not None:
        segments = [{"id": i, "start": t, "end": t + 3, "text": text,
                     "words": [{"word": w, "start": t, "end": t + 0.4} for w in text.split()]}
                    for i, (t, text) in enumerate(lines)]
        (folder / f"transcript_{stem}.json").write_text(json.dumps(
            {"language": "en", "segments": segments, "text": " ".join(s["text"] for s in segments)}))
    if analysis is not None:
        (folder / f"lyrics_{stem}.json").write_text(json.dumps({"analysis": {"themes": analysis}}))


def index_river_and_party(library, results) -> tuple[str, dict[str, str]]:
    """A new owner's two tracks (a night walk in A minor, a club song in C major), indexed; (owner, ids)."""
    owner = f"u{uuid.uuid4().hex[:6]}"
    write_results(results, "river", tonic="A", mode="minor", tempo=120.0, mfcc_shift=0.0,
                  lines=[(2.0, "Walking down the river road tonight")], analysis="a night walk by the water")
    write_results(results, "party", tonic="C", mode="major", tempo=100.0, mfcc_shift=3.0,
                  lines=[(1.0, "Dance all night under neon lights")], analysis="dancing in a club")
    return owner, {stem: library.index_file(owner=owner, session_id="s1", filename=f"{stem}.wav",
                                            results_dir=results)["track_id"] for stem in ("river", "party")}


def forget_libraries() -> None:
    """Close this process' connections to a database about to be dropped or stopped."""
    from library import service

    for lib in list(service._libraries.values()):
        lib.db.close()
    service._libraries.clear()


def measured_songs(client, folder: Path) -> str:
    """A new session holding in-c.wav and in-a.wav (C and A major, I-IV-V7-I with a click at 120 BPM), measured by
    a real pitch job, which indexes them into the library; its id."""
    from tests.test_api_sessions import upload
    from tests.test_cli import song

    session_id = client.post("/sessions").json()["session_id"]
    song(folder / "in-c.wav", tonic=0, bars=4)
    song(folder / "in-a.wav", tonic=9, bars=4)
    assert upload(client, session_id, folder / "in-c.wav", folder / "in-a.wav").status_code == 201
    job = client.post(f"/process/pitch/{session_id}", json={"include": ["key", "tempo"]}).json()
    assert client.wait_job(job["job_id"], timeout=300)["state"] == "succeeded"
    return session_id


# long enough (~7 s) for the pitch job to measure it as speech; a shorter sentence (~4 s) it measures as music
SPOKEN = ("The lighthouse keeper counted the gulls above the quiet harbour every morning before the fishing boats "
          "came home.")


def spoken_track(client, folder: Path, *, name: str = "talk.wav") -> str:
    """A new session holding `name`, espeak-ng's reading of SPOKEN, transcribed by a real whisper job (tiny.en:
    "... the fishing boat(s) came home") and measured as speech by a real pitch job, both indexing it; its id."""
    import subprocess

    from tests.test_api_sessions import upload

    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(folder / name), SPOKEN], check=True)
    session_id = client.post("/sessions").json()["session_id"]
    assert upload(client, session_id, folder / name).status_code == 201
    for kind, body in (("whisper", {"model": "tiny.en"}), ("pitch", {})):
        job = client.post(f"/process/{kind}/{session_id}", json=body).json()
        assert client.wait_job(job["job_id"], timeout=300)["state"] == "succeeded"
    return session_id
