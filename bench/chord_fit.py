"""Grid-search the chord decoder's constants (worker/music/chords.py) on fit data only.

Fit data: the training corpus and the test set's *train* split, items with chord labels. Chords
are decoded on the true beats (so the chord constants are judged apart from the beat tracker)
with the true key as the prior; the score is the family-balanced duration-weighted root accuracy.

Usage: python bench/chord_fit.py
"""

from __future__ import annotations

import itertools
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.music_scores import chord_scores  # noqa: E402
from worker.audio_io import load_audio  # noqa: E402
from worker.music import chords as chords_mod  # noqa: E402
from worker.music import chroma as chroma_mod  # noqa: E402
from worker.music.key import PITCH_NAMES  # noqa: E402

TESTSET = ROOT / "bench" / "out" / "pitch_testset"
CORPUS = ROOT / "bench" / "out" / "music_train"
GRID = {"BASS_WEIGHT": (0.35, 0.6, 1.0), "CHORD_STAY": (0.85, 0.93), "EMISSION_SHARPNESS": (14.0, 20.0)}


def rows() -> list:
    out = []
    for folder in (CORPUS, TESTSET):
        for m in json.loads((folder / "manifest.json").read_text()):
            if m["split"] != "train" or not m.get("chords"):
                continue
            y, _ = load_audio(folder / m["audio"], sr=chroma_mod.SR, mono=True)
            f = chroma_mod.harmonic_features(y / max(1e-9, float(np.abs(y).max())))
            tonic, mode = m["key"].split()
            key = PITCH_NAMES.index(tonic) + (12 if mode == "minor" else 0)
            out.append((m, f, key, len(y) / chroma_mod.SR))
    return out


def main() -> None:
    items = rows()
    print(f"{len(items)} fit items with chords")
    for values in itertools.product(*GRID.values()):
        for name, v in zip(GRID, values, strict=True):
            setattr(chords_mod, name, v)
        per = defaultdict(list)
        for m, f, key, dur in items:
            est = chords_mod.decode_chords(f.chroma, f.bass, f.energy, f.times, np.asarray(m["beats"]), duration=dur,
                                           key_index=key)
            per[m["family"]].append(chord_scores(m["chords"], est, dur)[0])
        fam = {k: float(np.mean(v)) for k, v in sorted(per.items())}
        print(dict(zip(GRID, values, strict=True)), " ".join(f"{k} {v:.3f}" for k, v in fam.items()),
              f"balanced {np.mean(list(fam.values())):.3f}", flush=True)


if __name__ == "__main__":
    main()
