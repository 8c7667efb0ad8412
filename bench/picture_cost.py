"""CPU time of the job pictures: the features overview (worker/features/plot.py) and the pitch job's chromagram
(worker/music/plot.py), this checkout beside another (--code, e.g. main) in the same session.

Each round is a fresh subprocess per checkout (nice 10), the checkouts taking turns: it imports matplotlib (its CPU
time printed apart: a worker pays it once), analyses a tone of --seconds (default 1 s, as most test jobs), draws
each picture once to warm up, then --draws times more; the medians of every round's draws are printed with the
ratio to the first --code (the baseline).

Usage: python bench/picture_cost.py [--code DIR] [--rounds 3] [--draws 5] [--seconds 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, resource, sys, tempfile
from pathlib import Path
sys.path.insert(0, {root!r})

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

import numpy as np
start = cpu()
import matplotlib
matplotlib.use("Agg")
from matplotlib.figure import Figure
imported = cpu() - start
from worker.features.descriptors import analyze_features
from worker.features.plot import render_overview
from worker.music.plot import write_chromagram_png

sr, seconds = 44100, {seconds}
t = np.arange(int(sr * seconds)) / sr
analysis = analyze_features((0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr)
chroma = np.abs(np.random.default_rng(0).standard_normal((12, max(2, int(seconds * 43)))))
beats = list(np.arange(0.25, seconds, 0.5))
out = Path(tempfile.mkdtemp())
draws = {{"features": [], "pitch": []}}
sizes = {{}}
for i in range({draws} + 1):
    c = cpu()
    render_overview(out / "f.png", analysis=analysis, title=f"tone.wav — {{seconds:.1f}} s")
    d = cpu()
    write_chromagram_png(out / "p.png", chroma=chroma, frame_seconds=512 / 22050, duration=seconds,
                         chords=[{{"start": 0.0, "end": seconds, "label": "A:maj"}}], beat_times=beats,
                         downbeat_times=beats[::4], title="tone.wav: A major, 120 BPM")
    e = cpu()
    if i:  # the first draw of each warms caches (fonts, colormaps)
        draws["features"].append(d - c)
        draws["pitch"].append(e - d)
sizes = {{"features": (out / "f.png").stat().st_size, "pitch": (out / "p.png").stat().st_size}}
print(json.dumps({{"import": imported, "draws": draws, "bytes": sizes}}))
"""


def one_round(code: Path, *, draws: int, seconds: float) -> dict:
    child = CHILD.format(root=str(code), draws=draws, seconds=seconds)
    done = subprocess.run(["nice", "-n", "10", sys.executable, "-c", child], cwd=code, capture_output=True,
                          text=True)
    if done.returncode:
        raise SystemExit(f"{code}: exit {done.returncode}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--code", type=Path, action="append", default=[], help="another checkout (the baseline)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--draws", type=int, default=5)
    p.add_argument("--seconds", type=float, default=1.0)
    args = p.parse_args()
    codes = [*args.code, ROOT]
    runs: dict[Path, list[dict]] = {c: [] for c in codes}
    for _ in range(args.rounds):
        for code in codes:
            runs[code].append(one_round(code, draws=args.draws, seconds=args.seconds))
    base: dict[str, float] = {}
    print(f"{args.seconds:g} s tone; median CPU seconds of {args.rounds} x {args.draws} draws (nice 10)")
    print(f"{'checkout':40} {'import mpl':>10} {'features':>9} {'ratio':>6} {'pitch':>7} {'ratio':>6} "
          f"{'bytes f/p':>15}")
    for code in codes:
        med = {k: statistics.median(x for r in runs[code] for x in r["draws"][k]) for k in ("features", "pitch")}
        base = base or med
        imp = statistics.median(r["import"] for r in runs[code])
        size = runs[code][-1]["bytes"]
        print(f"{str(code)[-40:]:40} {imp:10.3f} {med['features']:9.3f} {med['features'] / base['features']:6.2f} "
              f"{med['pitch']:7.3f} {med['pitch'] / base['pitch']:6.2f} {size['features']:>7}/{size['pitch']:<7}")


if __name__ == "__main__":
    main()
