"""The whole-clip tests of the speech finder for every clip of bench/speech_single.py, written to one .npz, so the
thresholds of a short clip can be looked at on the fit part without running the finder again per choice.

Per clip: source, kind (speech/music), fit (else held out), seconds, and over its windows (a clip under 2 s is one
window spanning it) the lowest voiced share and gap share, the highest held and unpitched shares (a whole clip
passes when every window does), and the beat activation's periodicity over the clip (speech.beat_periodicity).
Usage: python3 bench/speech_single_dump.py --root /tmp/speech_debs/x --out /tmp/single.npz [--only NAME,...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make `bench`, `tests` and `worker` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.speech_check import BLOCK, SR  # noqa: E402
from bench.speech_single import single_sources  # noqa: E402
from worker.music import beatnet  # noqa: E402
from worker.music.onsets import FPS as ONSET_FPS  # noqa: E402
from worker.music.onsets import OnsetScan  # noqa: E402
from worker.music.speech import SpeechScan, beat_periodicity, window_tests  # noqa: E402

FIELDS = ("seconds", "voiced", "held", "dips", "unpitched", "beat")


def clip_tests(y: np.ndarray) -> tuple[float, ...]:
    """FIELDS for one clip (NaN for the window tests of a clip too short for any window)."""
    y = np.asarray(y, dtype=np.float32)
    y = y / (np.abs(y).max() + 1e-9)  # as pass 2 reads it
    scan = SpeechScan()
    for a in range(0, len(y), BLOCK):
        scan.push(y[a : a + BLOCK])
    # the frame stats finish() would judge, read before it: the window tests are what this bench is for
    stats = np.concatenate(scan._frames, axis=1) if scan._frames else np.zeros((3, 0), np.float32)
    w = window_tests(stats[0], stats[1], stats[2])
    onsets = OnsetScan(tuning_cents=0.0, n_samples=len(y))
    onsets.push(y)
    act = beatnet.activations(onsets.finish().logmel)
    beat = beat_periodicity(act[0], fps=ONSET_FPS) if act is not None else np.nan
    if w is None:
        return (len(y) / SR, np.nan, np.nan, np.nan, np.nan, beat)
    return (len(y) / SR, float(w.voiced.min()), float(w.held.max()), float(w.dips.min()),
            float(w.unpitched.max()), beat)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path("/tmp/speech_debs/x"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--only", default=None, help="only the sources whose name contains one of these (comma-separated)")
    args = ap.parse_args()
    rows, names, sources, kinds, fits = [], [], [], [], []
    for source, kind, fit, clips in single_sources(args.root):
        if args.only is not None and not any(part in source for part in args.only.split(",")):
            continue
        for clip, y in clips:
            rows.append(clip_tests(y))
            names.append(clip)
            sources.append(source)
            kinds.append(kind)
            fits.append(fit)
        print(f"{source}: {sum(s == source for s in sources)} clips", flush=True)
    np.savez(args.out, tests=np.array(rows, dtype=np.float64), fields=np.array(FIELDS), clip=np.array(names),
             source=np.array(sources), kind=np.array(kinds), fit=np.array(fits))


if __name__ == "__main__":
    main()
