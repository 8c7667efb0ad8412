"""Separation quality of the weight-free stems, this tree against another revision, on mixes of known parts.

    python bench/dsp_stems_quality.py --music race1-jt.ogg --speech speech.wav [--old-rev b23f0c3]
                                      [--rates 22050,44100,96000] [--seconds 40]

`repet`: real music (the accompaniment, which repeats) plus speech (the "voice", e.g. `espeak-ng -w speech.wav
...`, repeated to the length) at -6 dB; `hpss`: a tone bed (three sustained notes, harmonic) plus decaying noise
bursts every 0.25 s (percussive). Each part is known, so each stem gets an SDR
(10 log10 of the part's energy over the error's, in dB; higher is better) and the share of the mix's other
part's energy that leaked into it. Both revisions run in fresh processes on the same files.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.old_tree import unpack_revision  # noqa: E402

OLD_REV = "b23f0c3"

CHILD = r"""
import json, sys
import numpy as np, soundfile as sf
from worker.separation.pipeline import Separator
mix, sr = sf.read(sys.argv[1], dtype="float32", always_2d=True)
stems = Separator(sys.argv[2]).separate_array(mix.T, sr)
np.savez(sys.argv[3], **stems)
"""


def _load(path: str, rate: int, seconds: float, offset: float = 0.0) -> np.ndarray:
    import librosa

    y, _ = librosa.load(path, sr=rate, mono=False, offset=offset)
    y = np.atleast_2d(y)
    if y.shape[0] == 1:
        y = np.vstack([y, y])
    n = int(seconds * rate)
    reps = -(-n // y.shape[1])
    return np.tile(y, (1, reps))[:, :n].astype(np.float32)


def _parts(model: str, args, rate: int) -> dict[str, np.ndarray]:
    n = int(args.seconds * rate)
    if model == "repet":
        music = _load(args.music, rate, args.seconds, offset=20.0)
        voice = _load(args.speech, rate, args.seconds)
        voice *= 0.5 * np.sqrt(np.mean(music ** 2) / max(np.mean(voice ** 2), 1e-12))  # -6 dB
        return {"vocals": voice, "accompaniment": music}
    t = np.arange(n) / rate
    tone = sum(0.1 * np.sin(2 * np.pi * f * t) for f in (196.0, 246.9, 293.7))
    bursts = np.zeros(n)
    rng = np.random.default_rng(0)
    for start in np.arange(0.05, args.seconds, 0.25):
        i = int(start * rate)
        k = min(int(0.004 * rate), n - i)
        bursts[i:i + k] = rng.uniform(-0.6, 0.6, k) * np.exp(-np.arange(k) / (0.001 * rate))
    return {"harmonic": np.vstack([tone, tone]).astype(np.float32),
            "percussive": np.vstack([bursts, bursts]).astype(np.float32)}


def _sdr(ref: np.ndarray, est: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref ** 2) / max(np.sum((est - ref) ** 2), 1e-20)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--music", required=True)
    ap.add_argument("--speech", required=True)
    ap.add_argument("--old-rev", default=OLD_REV)
    ap.add_argument("--rates", default="22050,44100,96000")
    ap.add_argument("--seconds", type=float, default=40.0)
    args = ap.parse_args()
    import soundfile as sf

    with tempfile.TemporaryDirectory(prefix="dsp-quality-") as scratch:
        folder = Path(scratch)
        old = unpack_revision(args.old_rev, folder / "old")
        print(f"{'model':>6} {'rate':>6} {'stem':>14} {'SDR old':>8} {'SDR new':>8} {'leak old':>9} {'leak new':>9}")
        for model in ("repet", "hpss"):
            for rate in (int(r) for r in args.rates.split(",")):
                parts = _parts(model, args, rate)
                mix = folder / f"mix_{model}_{rate}.wav"
                sf.write(mix, sum(parts.values()).T, rate, subtype="FLOAT")
                got = {}
                for name, tree in (("old", old), ("new", ROOT)):
                    out = folder / f"{name}.npz"
                    subprocess.run([sys.executable, "-c", CHILD, str(mix), model, str(out)], cwd=tree, check=True,
                                   env={**os.environ, "PYTHONPATH": str(tree)})
                    got[name] = dict(np.load(out))
                for stem, ref in parts.items():
                    other = next(v for k, v in parts.items() if k != stem)
                    row = {}
                    for name in ("old", "new"):
                        est = got[name][stem]
                        # leakage: the other part's share in this stem, by projection
                        leak = float(np.sum(est * other) ** 2 / (np.sum(other ** 2) * max(np.sum(est ** 2), 1e-20)))
                        row[name] = (_sdr(ref, est), leak)
                    print(f"{model:>6} {rate:>6} {stem:>14} {row['old'][0]:>8.2f} {row['new'][0]:>8.2f} "
                          f"{row['old'][1]:>9.4f} {row['new'][1]:>9.4f}", flush=True)
        print(json.dumps({"seconds": args.seconds}))


if __name__ == "__main__":
    main()
