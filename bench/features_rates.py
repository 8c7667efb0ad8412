"""The features of one piece of music stored at several sample rates, and where its copy ranks as "similar".

The seed (a real track) is converted with FFmpeg to WAV at each RATE (the same music, another container rate);
each copy's features are printed (zero-crossing rate, first MFCC, centroid, roll-off), then, with a library made
of every track under --library plus that one copy, the copy's rank in the seed's similar list, ordered by the
library's own code (library/descriptors.py: standardised, group-weighted distances, as GET .../similar ranks
them). Each code is run in a fresh subprocess (nice 10), so a checkout of another branch is measured beside
this one on the same files.

Usage: python bench/features_rates.py SEED.ogg --library DIR [--code DIR] [--seconds 120]
  e.g. Debian's wesnoth-1.16-music (`apt-get download` + `dpkg -x`): SEED one of its .ogg, DIR its music folder.
  --code DIR: another checkout (e.g. main) measured beside this one. With it, two more figures: the largest change
  of each library track's descriptors between the two (what an upgrade does to results already in a library), and
  the copy's rank when its result is the other checkout's while every other track's is this one's (a library
  indexed before the upgrade whose copy was not analysed again), as this checkout's library code ranks it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RATES = (44100, 48000, 96000, 192000, 22050)
MIN_SECONDS = 20.0  # shorter library files (a silence, a jingle) are left out

CHILD = """
import json, sys
sys.path.insert(0, {root!r})
from worker.features.pipeline import analyze_file
from pathlib import Path
out = {{}}
for name in {paths!r}:
    a = analyze_file(Path(name))
    out[name] = {{"filename": Path(name).name, "sample_rate": a.sample_rate,
                 "audio_features": a.features, "duration_seconds": a.duration_seconds}}
print(json.dumps(out))
"""


def features_of(code: Path, paths: list[str]) -> dict[str, dict]:
    child = CHILD.format(root=str(code), paths=paths)
    done = subprocess.run(["nice", "-n", "10", sys.executable, "-c", child], cwd=code, capture_output=True,
                          text=True)
    if done.returncode:
        raise SystemExit(f"{code}: exit {done.returncode}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def descriptors_module(code: Path):
    """`code`'s library/descriptors.py (numpy alone), loaded under a name of its own."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"descriptors_{abs(hash(str(code)))}",
                                                  code / "library" / "descriptors.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rank_of(copy: str, seed: str, results: dict[str, dict], code: Path = ROOT) -> tuple[int, float]:
    """1-based rank of `copy` among the seed's neighbours, ordered as library/search.py's _numpy_neighbours with
    `code`'s descriptors, and its compared_share."""
    import numpy as np

    d = descriptors_module(code)
    names = list(results)
    raw = np.stack([d.to_vector(d.descriptor_values(features=results[n], pitch=None)) for n in names])
    weighted, gap = d.weighted_matrix(raw)
    i = names.index(seed)
    dist, share = d.distances(weighted, raw, gap, i), d.compared_shares(raw, i)
    order = [int(j) for j in np.lexsort((dist, share < d.COMPARED_IN_FULL)) if int(j) != i]
    return 1 + order.index(names.index(copy)), float(share[names.index(copy)])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("seed", type=Path)
    p.add_argument("--library", type=Path, required=True)
    p.add_argument("--code", type=Path, action="append", default=[])
    p.add_argument("--seconds", type=float, default=120.0, help="the seed's first seconds made into copies")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="features-rates-"))
    copies = {}
    for rate in RATES:
        out = work / f"{args.seed.stem}_{rate}.wav"
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(args.seed), "-t", str(args.seconds), "-ar", str(rate),
                        "-af", "aresample=resampler=soxr", "-c:a", "pcm_s16le", str(out)], check=True)
        copies[rate] = str(out)
    import soundfile as sf

    library = [str(f) for f in sorted(args.library.glob("*.ogg"))
               if sf.info(str(f)).duration >= MIN_SECONDS and f.resolve() != args.seed.resolve()]
    seed = copies[44100]  # the track as it came (44.1 kHz), cut to the copies' length
    runs = {}
    for code in [ROOT, *args.code]:
        results = runs[code] = features_of(code, [*copies.values(), *library])
        print(f"\n== {code} ({len(library)} library tracks + the seed + one copy)")
        print(f"{'rate':>7} {'ZCR':>8} {'MFCC 1':>8} {'MFCC 2':>8} {'centroid':>9} {'roll-off':>9} {'rank':>5}")
        for rate, path in copies.items():
            f = results[path]["audio_features"]
            pool = {n: results[n] for n in (seed, *library)} | {path: results[path]}
            rank = "-" if rate == 44100 else rank_of(path, seed, pool, code)[0]
            print(f"{rate:>7} {f['zero_crossing_rate']:8.4f} {f['mfcc']['mean'][0]:8.1f} {f['mfcc']['mean'][1]:8.1f} "
                  f"{f['spectral_centroid_hz']:9.0f} {f['spectral_rolloff_hz']:9.0f} {rank:>5}")
    for code in args.code:
        older, now = runs[code], runs[ROOT]
        print(f"\n== {code}'s results beside this checkout's")
        print(f"library tracks (at {sorted({sf.info(n).samplerate for n in library})} Hz): the largest change of")
        for key in CHANGED:
            worst = max((_change(older[n], now[n], key), Path(n).name) for n in library)
            print(f"  {key:22} {worst[0]:.3g} ({worst[1]})")
        for rate, path in copies.items():
            if rate == 44100:
                continue
            pool = {n: now[n] for n in (seed, *library)} | {path: older[path]}
            rank, share = rank_of(path, seed, pool)
            print(f"{rate:>7}: the copy's older result among this checkout's: rank {rank} (compared_share "
                  f"{share:.2f})")


CHANGED = ("zero_crossing_rate", "spectral_centroid_hz", "spectral_rolloff_hz", "silence_fraction", "mfcc0")


def _change(a: dict, b: dict, key: str) -> float:
    """Relative change (absolute for the silence fraction, a share)."""
    fa, fb = a["audio_features"], b["audio_features"]
    x, y = (fa["mfcc"]["mean"][0], fb["mfcc"]["mean"][0]) if key == "mfcc0" else (fa[key], fb[key])
    return abs(x - y) if key == "silence_fraction" else abs(x - y) / max(abs(x), 1e-12)


if __name__ == "__main__":
    main()
