"""Cache the music pipeline's intermediate features per test-set item, for fast decoder fitting.

Runs worker.music's real pipeline on each item and records what the rhythm decoder and the key
model read (the beat network's activations, the treble/bass chroma and frame energies, the
duration), so bench/downbeat_fit.py and bench/key_fit.py can try settings in seconds instead of
re-analysing the audio. Reads bench/out/pitch_testset; writes bench/out/music_cache/<name>.npz.

Usage: python bench/music_cache.py [--split train|test|all] [--family corpus ...] [--testset DIR --cache DIR]
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

    def rhythm_spy(onsets, *, duration, chroma=None, bass=None, chroma_times=None, activations=None):
        if activations is None:  # the pipeline hands them over where its speech check ran the network
            activations = beatnet.activations(onsets.logmel)
        seen["act"] = activations.astype(np.float32)
        seen["duration"] = np.array(duration)
        seen["logmel"] = onsets.logmel.astype(np.float16)  # what sounds at each beat (docs/tried/weak_beat_sounds_*)
        for name in ("full", "low", "pitch"):  # the onset envelopes, for decoders that read the beat's texture
            seen[f"onset_{name}"] = getattr(onsets, name).astype(np.float16)
        return real_rhythm(onsets, duration=duration, chroma=chroma, bass=bass, chroma_times=chroma_times,
                           activations=activations)

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


def items(folder: Path = TESTSET) -> list[dict]:
    """Every rendered item's truth: its own .json (so a half-rendered test set works too), or, in a folder
    whose items have none (bench/classical_check.py's), the manifest's entries."""
    own = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))
           if p.name not in ("manifest.json", "skipped.json")]
    if own or not (folder / "manifest.json").exists():
        return own
    return json.loads((folder / "manifest.json").read_text())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="all", choices=["train", "test", "all"])
    ap.add_argument("--family", nargs="+", default=None)
    ap.add_argument("--testset", type=Path, default=TESTSET,
                    help="a folder of rendered items with their .json (e.g. bench/out/music_train_folk)")
    ap.add_argument("--cache", type=Path, default=CACHE)
    args = ap.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    for m in items(args.testset):
        if (args.split != "all" and m["split"] != args.split) or (args.family and m["family"] not in args.family):
            continue
        out = args.cache / f"{m['name']}.npz"
        if not out.exists():
            np.savez(out, **record(args.testset / m["audio"]))
            print(m["name"], flush=True)


if __name__ == "__main__":
    main()
