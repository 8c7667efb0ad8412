"""Cache the music pipeline's intermediate features per test-set item, for fast decoder fitting.

Runs worker.music's real pipeline on each item and records what the rhythm decoder and the key
model read (the beat network's activations, the treble/bass chroma and frame energies, the
duration), so bench/downbeat_fit.py and bench/key_fit.py can try settings in seconds instead of
re-analysing the audio. Reads bench/out/pitch_testset; writes bench/out/music_cache/<name>.npz.

Usage: python bench/music_cache.py [--split train|test|all] [--family corpus ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TESTSET = ROOT / "bench" / "out" / "pitch_testset"
CACHE = ROOT / "bench" / "out" / "music_cache"


def record(path: Path) -> dict[str, np.ndarray]:
    """The pipeline's rhythm and key inputs for one audio file (the pipeline itself, wrapped)."""
    from worker.audio_io import load_audio
    from worker.music import beatnet, pipeline
    from worker.music.options import PitchOptions

    seen: dict[str, np.ndarray] = {}
    real_rhythm, real_key = pipeline.analyze_rhythm, pipeline.estimate_key

    def rhythm_spy(onsets, *, duration, chroma=None, bass=None, chroma_times=None):
        seen["act"] = beatnet.activations(onsets.logmel).astype(np.float32)
        seen["duration"] = np.array(duration)
        return real_rhythm(onsets, duration=duration, chroma=chroma, bass=bass, chroma_times=chroma_times)

    def key_spy(chroma, **kw):
        seen.update(chroma=chroma.astype(np.float32), bass=kw["bass"].astype(np.float32),
                    energy=kw["energy"].astype(np.float32), times=kw["frame_times"].astype(np.float64),
                    harmonic_ratio=np.array(kw["harmonic_ratio"]))
        return real_key(chroma, **kw)

    pipeline.analyze_rhythm, pipeline.estimate_key = rhythm_spy, key_spy
    try:
        y, sr = load_audio(path, mono=True)
        pipeline.analyze_music(y, sr, options=PitchOptions(include=("key", "tempo", "beats")))
    finally:
        pipeline.analyze_rhythm, pipeline.estimate_key = real_rhythm, real_key
    return seen


def items() -> list[dict]:
    """Every rendered item's truth (its own .json, so a half-rendered test set works too)."""
    return [json.loads(p.read_text()) for p in sorted(TESTSET.glob("*.json")) if p.name != "manifest.json"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="all", choices=["train", "test", "all"])
    ap.add_argument("--family", nargs="+", default=None)
    args = ap.parse_args(argv)
    CACHE.mkdir(parents=True, exist_ok=True)
    for m in items():
        if (args.split != "all" and m["split"] != args.split) or (args.family and m["family"] not in args.family):
            continue
        out = CACHE / f"{m['name']}.npz"
        if not out.exists():
            np.savez(out, **record(TESTSET / m["audio"]))
            print(m["name"], flush=True)


if __name__ == "__main__":
    main()
