"""Cache per-item harmonic features, estimated beats/key and chord truth for fast chord experiments.

One full analysis per item (the pipeline's own chroma, beats and key); bench/chord_train.py then fits
and scores the chord decoder in seconds. Output: one .npz per item under --out.

Usage: python bench/chord_cache.py --out /work/testset/chordexp [--split test|train]
       python bench/chord_cache.py --out DIR --items bench/out/mma_fit   (every item of one rendered folder)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.music_scores import chord_scores  # noqa: E402
from worker.audio_io import load_audio  # noqa: E402
from worker.music import pipeline  # noqa: E402
from worker.music.key import PITCH_NAMES  # noqa: E402
from worker.music.options import PitchOptions  # noqa: E402

TESTSET = ROOT / "bench" / "out" / "pitch_testset"
CORPUS = ROOT / "bench" / "out" / "music_train"


def items(split: str | None, folders: tuple[Path, ...] = (TESTSET, CORPUS)) -> list[tuple[Path, dict]]:
    out = []
    for folder in folders:
        for m in json.loads((folder / "manifest.json").read_text()):
            if split in (None, m["split"]) and m.get("chords"):
                out.append((folder, m))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("--items", type=Path, default=None,
                    help="cache every item of this rendered folder (e.g. an MMA family) instead of a split")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    captured: dict = {}
    real = pipeline._chords

    def spy(feats, key, beats, duration, *, silent):
        captured.update(feats=feats, key=key["index"], beats=np.asarray(beats, dtype=np.float64), silent=silent)
        return real(feats, key, beats, duration, silent=silent)

    pipeline._chords = spy
    opts = PitchOptions(include=("key", "chords", "tempo", "beats"))
    for folder, m in items(None, (args.items,)) if args.items else items(args.split):
        dest = args.out / f"{folder.name}__{Path(m['audio']).stem}.npz"
        if dest.exists():
            continue
        y, sr = load_audio(folder / m["audio"], mono=True)
        captured.clear()
        res = pipeline.analyze_music(y, sr, options=opts)
        dur = res["duration_seconds"]
        f = captured["feats"]
        tonic, mode = m["key"].split()
        np.savez_compressed(
            dest, chroma=f.chroma.astype(np.float32), bass=f.bass.astype(np.float32),
            energy=f.energy.astype(np.float32), times=f.times.astype(np.float64),
            white=f.semitone.astype(np.float16), est_beats=captured["beats"],
            est_key=-1 if captured["key"] is None else captured["key"], silent=captured["silent"],
            true_beats=np.asarray(m["beats"], dtype=np.float64),
            true_key=PITCH_NAMES.index(tonic) + (12 if mode == "minor" else 0), duration=dur,
            ref=json.dumps(m["chords"]), family=m["family"], split=m["split"],
            soundfont=str(m.get("soundfont")), pipeline_root=chord_scores(m["chords"], res["chords"], dur)[0])
        print(dest.name, f"{chord_scores(m['chords'], res['chords'], dur)[0]:.3f}", flush=True)


if __name__ == "__main__":
    main()
