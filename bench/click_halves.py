"""Why fast click tracks are read at half their tempo, and a doubling tried against it, on cached features.

Per item whose label is known, with --why: the label tempo, main's reading, the pulse (bench/click_family.py), the
beat network's activation at the label's beats on bar beats 1 and 3 against 2 and 4 (medians of the peak within 2
frames), and the comb (rhythm.estimate_tempo on the activation, as beats.decode runs it) at the label tempo and at
its half, with the tempo prior and without it (prior width 100 octaves): where the comb without the prior already
prefers the half, the reading comes from the activation, not from the prior or the decoder.

The candidate (not shipped, docs/tried/click_doubling_2026-12-05.diff): a simple-metre reading T with 2T at most
CAP BPM is doubled where something sounds at nearly every point halfway between the tracked beats: the tracked
beats' halves' onset spectra (the log-mel flux around each point less that a quarter of a beat away, as the tried
beat_sounds.onset_spectra), per band the 25th percentile over the halves, summed over the bands, over the per-band
median summed (`mid_common`). A click or a hat on every beat of a track read at half sounds on every half; a chorale
read at its quarters has passing notes on some of them only. Main and the candidate decode the same cached
features; per family and overall (the mean of the families) Acc1, Acc2, beat F, downbeat F and metre.

Usage: python bench/click_halves.py --split train --also bench/out/click_fit bench/out/music_cache_click_fit \
           [--no-testset] [--why] [--share 0.405] [--cap 165]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.chorale_rhythm_fit import cached, decode  # noqa: E402
from bench.music_cache import CACHE, TESTSET  # noqa: E402
from bench.music_scores import beat_f, metre_class, print_main_vs_candidate, tempo_scores  # noqa: E402
from worker.music import beats as beats_mod  # noqa: E402
from worker.music.onsets import FPS  # noqa: E402
from worker.music.rhythm import estimate_tempo  # noqa: E402

SOUND_WINDOW = (-2, 3)  # frames around a point whose positive log-mel flux makes its onset spectrum
COMMON_QUANTILE = 25.0  # percent: a band sounds on "nearly every" half when it rises on three in four of them


def _flux_around(logmel: np.ndarray, frames: np.ndarray) -> np.ndarray:
    n_frames = logmel.shape[1]
    out = np.zeros((len(frames), logmel.shape[0]))
    for k in range(*SOUND_WINDOW):
        at = np.clip(frames + k, 1, max(n_frames - 1, 1))
        out += np.maximum(logmel[:, at].astype(np.float64) - logmel[:, at - 1].astype(np.float64), 0.0).T
    return out


def onset_spectra(logmel: np.ndarray, times: np.ndarray) -> np.ndarray:
    """(n, bands): positive log-mel flux around each point less the mean of that a quarter of the spacing away."""
    n_frames = logmel.shape[1]
    frames = np.clip(np.round(times * FPS).astype(int), 0, n_frames - 1)
    gap = np.maximum(np.round(np.gradient(times) * FPS / 4).astype(int), 1)
    background = 0.5 * (_flux_around(logmel, np.clip(frames - gap, 0, n_frames - 1))
                        + _flux_around(logmel, np.clip(frames + gap, 0, n_frames - 1)))
    return np.maximum(_flux_around(logmel, frames) - background, 0.0)


def mid_common(logmel: np.ndarray, beat_times: np.ndarray) -> float:
    """How much of what sounds halfway between the tracked beats sounds at nearly all those points (0 to ~1)."""
    if len(beat_times) < 8:
        return 0.0
    mids = 0.5 * (beat_times[:-1] + beat_times[1:])
    grid = np.sort(np.concatenate([beat_times, mids]))
    halves = onset_spectra(logmel, grid)[1::2]
    median = float(np.median(halves, axis=0).sum())
    return float(np.percentile(halves, COMMON_QUANTILE, axis=0).sum()) / median if median > 0 else 0.0


def candidate(d: dict, r, share: float, cap: float):
    """Main's reading r, or the decode at twice its tempo where the rule fires."""
    if not r.tempo_bpm or r.compound or 2 * r.tempo_bpm > cap or "logmel" not in d:
        return r
    if mid_common(d["logmel"], r.beat_times - beats_mod.BEAT_LATENCY_SECONDS) < share:
        return r
    real = beats_mod.subdivided_tempo
    try:
        beats_mod.subdivided_tempo = lambda beat, tempo, **kw: 2.0 * real(beat, tempo, **kw)  # type: ignore
        return decode(d)
    finally:
        beats_mod.subdivided_tempo = real


def scores(t: dict, r) -> tuple[float, ...]:
    a1, a2 = tempo_scores(t["tempo_bpm"], r.tempo_bpm) if t.get("tempo_bpm") else (float("nan"),) * 2
    ts = None if not r.beats_per_bar else (f"{3 * r.beats_per_bar}/8" if r.compound else f"{r.beats_per_bar}/4")
    return (a1, a2, beat_f(t["beats"], r.beat_times), beat_f(t["downbeats"], r.downbeat_times),
            float(metre_class(ts) == metre_class(t["time_signature"])))


def why(t: dict, d: dict, r) -> str:
    beat = d["act"][0].astype(np.float64)
    label, tb = float(t["tempo_bpm"]), np.asarray(t["beats"])
    frames = np.clip(np.round(tb * FPS).astype(int), 0, len(beat) - 1)
    padded = np.pad(beat, 2, mode="edge")
    at = np.max(np.stack([padded[frames + k] for k in range(5)]), axis=0)
    first = int(np.argmin(np.abs(tb - t["downbeats"][0]))) if len(t["downbeats"]) else 0
    odd = (np.arange(len(tb)) - first) % 2 == 0  # bar beats 1 and 3 (and 1 of the next 3/4 bar, alternately)
    out = [f"act 1,3 {np.median(at[odd]):.2f} 2,4 {np.median(at[~odd]):.2f}"]
    for name, octaves in (("prior", beats_mod.NET_PRIOR_OCTAVES), ("flat", 100.0)):
        _, _, total = estimate_tempo(beat, prior_bpm=beats_mod.NET_PRIOR_BPM, prior_octaves=octaves,
                                     half_weight=beats_mod.NET_HALF_WEIGHT)
        first_lag = max(int(FPS * 60.0 / 240.0), 2)

        def comb(bpm: float, total=total, first_lag=first_lag) -> float:
            i = int(round(FPS * 60.0 / bpm)) - first_lag
            return float(total[max(0, i - 1): i + 2].max()) if 0 <= i < len(total) else 0.0
        out.append(f"comb {name} T {comb(label):.2f} T/2 {comb(label / 2):.2f}")
    return " ".join(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="train")
    ap.add_argument("--also", nargs=2, action="append", default=[], type=Path, metavar=("ITEMS", "CACHE"))
    ap.add_argument("--no-testset", action="store_true", help="only the --also folders")
    ap.add_argument("--share", type=float, default=0.405, help="mid_common at or above which T is doubled")
    ap.add_argument("--cap", type=float, default=165.0, help="largest doubled tempo (BPM)")
    ap.add_argument("--why", action="store_true", help="per item, the activation and comb readings")
    args = ap.parse_args(argv)
    folders = [] if args.no_testset else [(TESTSET, CACHE)]
    per: dict[str, dict[str, list]] = {}
    for t, d in cached(args.split, None, (*folders, *(tuple(p) for p in args.also))):
        r0 = decode(d)
        rc = candidate(d, r0, args.share, args.cap)
        fam = per.setdefault(t["family"], {"main": [], "cand": []})
        s0, sc = scores(t, r0), scores(t, rc)
        fam["main"].append(s0)
        fam["cand"].append(sc)
        changed = (rc.tempo_bpm or 0) != (r0.tempo_bpm or 0)
        if args.why or changed:
            verdict = {(0.0, 1.0): "fix", (1.0, 0.0): "BREAK"}.get((s0[0], sc[0]), "-") if changed else ""
            m = mid_common(d["logmel"], r0.beat_times - beats_mod.BEAT_LATENCY_SECONDS) if "logmel" in d else 0.0
            print(f"{t['name']:24s} {t.get('pulse') or '':11s} {t.get('tempo_bpm') or 0:6.1f} "
                  f"{r0.tempo_bpm or 0:6.1f} -> {rc.tempo_bpm or 0:6.1f} {verdict:5s} mid_common {m:.2f} "
                  + (why(t, d, r0) if args.why and t.get("tempo_bpm") else ""), flush=True)
    print(f"candidate: double at mid_common >= {args.share} where twice the tempo is <= {args.cap} BPM")
    print_main_vs_candidate(per, ("acc1", "acc2", "beat F", "down F", "metre"))

if __name__ == "__main__":
    main()
