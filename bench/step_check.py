"""A check on tempo steps nobody here rendered before: songs from the tempo-change family's generator
(bench/music_families.py `tempo_change_song`, the "step" profile: the tempo jumps by x0.75-x1.3 at the middle
bar) with seeds no other script uses, rendered with FluidR3, analysed by the full pipeline, scored per song.

Nothing was fitted or chosen on them; `--set beat_tracking.NAME=VALUE` compares a constant on the same renders
(bench/chorale_check.py does the same for chorales).

Usage: python bench/step_check.py [--n 40] [--set beat_tracking.LOCAL_WINDOW_BEATS=12 ...] [-v]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import music_scores as acc  # noqa: E402
from bench.chorale_check import check_arguments  # noqa: E402
from bench.music_families import tempo_change_song  # noqa: E402
from bench.music_render import RENDER_SR, render_mix  # noqa: E402
from bench.music_styles import HELD_OUT_STYLES, STYLES  # noqa: E402

SEED = 9600  # song i renders with default_rng(SEED + i)
METRICS = ("beat_f", "down_f", "metre")


def main(argv: list[str] | None = None) -> None:
    from worker.music.options import PitchOptions
    from worker.music.pipeline import analyze_music

    args = check_arguments(__doc__, argv, n=40)
    styles = [s for s in STYLES if s not in HELD_OUT_STYLES]  # the test set's held-out styles stay out, as in training
    rows, t0 = [], time.perf_counter()
    for i in range(args.n):
        pm, truth = tempo_change_song(0, np.random.default_rng(SEED + i), styles)  # index 0: the step profile
        res = analyze_music(render_mix(pm), RENDER_SR, options=PitchOptions(include=("tempo", "beats")))
        row = {"beat_f": acc.beat_f(truth["beats"], res["beat_times"]),
               "down_f": acc.beat_f(truth["downbeats"], res["downbeat_times"]),
               "metre": float(acc.metre_class(res["time_signature"]) == acc.metre_class(truth["time_signature"]))}
        rows.append(row)
        if args.verbose:
            print(f"{SEED + i} {truth['style']:9s} x{truth['tempo_factor']:.2f} {truth['time_signature']:5s} "
                  + " ".join(f"{m} {row[m]:.2f}" for m in METRICS), flush=True)
    print(f"{len(rows)} unseen tempo steps ({time.perf_counter() - t0:.0f} s) "
          + (f"with {' '.join(args.set)}" if args.set else "as shipped"))
    print("  " + "  ".join(f"{m} {np.mean([r[m] for r in rows]):.3f}" for m in METRICS))


if __name__ == "__main__":
    main()
