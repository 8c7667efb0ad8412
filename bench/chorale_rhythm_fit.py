"""Why chorales' bars are missed: per item of the fit data, the full rhythm decode and the readings a rule can use.

Fit data: the test set's *train* split (bench/music_cache.py --split train) and, with `--also`, another folder's
items, e.g. the chorale fit corpus (bench/chorale_fit_corpus.py, cached by `bench/music_cache.py --testset
bench/out/music_train_chorales --cache bench/out/music_cache_chorales`). The decode is worker.music.beats.decode on
the cached features; `--set NAME=VALUE` changes a beats constant (a number) first. Per item: label tempo, read
tempo (ratio), label and read metre, beat F, downbeat F, then the readings:
  subfull, subpitch  the onset envelope (full, pitch flux) at the tracked beats' halves over at the beats;
  c8/4, c6/3, c4, c3 the downbeat activation's contrast at bars of 8, 6, 4, 3 tracked beats (best phase);
  alt                how much more the chords change into the even than the odd tracked beats (unsigned, z);
  rate               the mean chord change per tracked beat (1 - cosine of consecutive beat chroma);
  onalt, weak        the pitch onsets' even/odd contrast (z) and the weaker parity's median over the stronger's;
  half               the half-tempo grid's share of the read grid's beat activation (beats.grid_strength);
and with --bars the bar decoder's terms for 3 and 4 beats per bar. Then per family acc1, beat F, downbeat F, metre.

The rules tried for the chorales on 2026-12-05 and not shipped (docs/music_accuracy.md; their code is
docs/tried/chorale_bars_2026-12-05.diff, `git apply` it to measure them) were chosen with it on fit data only:
  python bench/chorale_rhythm_fit.py --also bench/out/music_train_chorales bench/out/music_cache_chorales \
      --set HALVE_ONSET_SHARE=0.0            (and 0.1; METRE_PARITY_WEIGHT=0,0.1,0.2,0.3,0.4 the same way)

Usage: python bench/chorale_rhythm_fit.py [--family corpus] [--also ITEMS CACHE] [--set NAME=VALUE] [--bars]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.music_cache import CACHE, TESTSET  # noqa: E402
from bench.music_cache import items as items_of  # noqa: E402
from bench.music_scores import beat_f, metre_class  # noqa: E402
from worker.music import beats as beats_mod  # noqa: E402
from worker.music.rhythm import beat_chroma  # noqa: E402


def envelopes(d: dict) -> list[np.ndarray] | None:
    if "onset_full" not in d:
        return None
    return [d[f"onset_{name}"].astype(np.float64) for name in ("full", "low", "pitch")]


def cached(split: str, families: list[str] | None, folders) -> list[tuple[dict, dict]]:
    out = []
    for testset, cache in folders:
        truths = {m["name"]: m for m in items_of(testset)}
        for path in sorted(cache.glob("*.npz")):
            t = truths.get(path.stem)
            if t is None or "beats" not in t or t["split"] != split:
                continue
            if families and t["family"] not in families:
                continue
            out.append((t, dict(np.load(path))))
    return out


def decode(d: dict):
    def harmony(b, d=d):
        return (None, None) if len(b) < 2 else (beat_chroma(b, d["chroma"], d["times"]),
                                                beat_chroma(b, d["bass"], d["times"]))
    return beats_mod.decode(d["act"], duration=float(d["duration"]), harmony=harmony, envelopes=envelopes(d))


def readings(d: dict, r) -> dict[str, float]:
    b = r.beat_times - beats_mod.BEAT_LATENCY_SECONDS
    env = envelopes(d)
    if len(b) < 8 or env is None:
        return {}
    bc = beat_chroma(b, d["chroma"], d["times"])
    change = 1.0 - np.sum(bc[:, :-1] * bc[:, 1:], axis=0)  # change into beat i (i = 0..n-1)
    z = beats_mod.zscore(change)
    even = np.arange(len(z)) % 2 == 0
    beat = d["act"][0].astype(np.float64)
    strong = beats_mod.grid_strength(beat, r.tempo_bpm)
    pitch = d["onset_pitch"].astype(np.float64)
    frames = np.clip(np.round(b * beats_mod.FPS).astype(int), 0, len(pitch) - 1)
    padded = np.pad(pitch, 2, mode="edge")
    on = np.max(np.stack([padded[frames + k] for k in range(5)]), axis=0)
    zo = beats_mod.zscore(on)
    strong_set = even if zo[even].mean() >= zo[~even].mean() else ~even
    weak_share = float(np.median(on[~strong_set]) / max(np.median(on[strong_set]), 1e-9))
    frames_b = np.clip(np.round(b * beats_mod.FPS).astype(int), 0, d["act"].shape[1] - 1)
    down = beats_mod._downbeat_strength(d["act"][1], frames_b)
    n = len(down)

    def contrast(m: int) -> float:
        return max(float(down[p::m].mean() - np.delete(down, np.arange(p, n, m)).mean()) for p in range(m))
    c = {m: contrast(m) for m in (2, 3, 4, 6, 8)}
    pats = beats_mod.beat_patterns(env, b)
    S = beats_mod.PATTERN_STEPS
    sub = {}
    for k, name in ((0, "full"), (2, "pitch")):
        x = pats[k * S:(k + 1) * S]
        sub["sub" + name] = float(x[S // 2].mean() / max(x[0].mean(), 1e-9))
    return {**sub, "c8/4": c[8] / max(c[4], 1e-3), "c6/3": c[6] / max(c[3], 1e-3), "c4": c[4], "c3": c[3],
            "alt": abs(float(z[even].mean() - z[~even].mean())), "rate": float(change.mean()),
            "onalt": abs(float(zo[even].mean() - zo[~even].mean())), "weak": weak_share,
            "half": beats_mod.grid_strength(beat, r.tempo_bpm / 2) / max(strong, 1e-9)}


def bar_terms(d: dict, r) -> str:
    """Per simple bar length, the best phase's terms of beats.choose_bars: activation contrast (with FOUR_BIAS),
    harmony (weighted), repetition (weighted)."""
    from worker.music.rhythm import harmony_bar_scores

    b = r.beat_times - beats_mod.BEAT_LATENCY_SECONDS
    n = len(b)
    env = envelopes(d)
    if n < 8 or r.compound or env is None:
        return ""
    bc, bb = beat_chroma(b, d["chroma"], d["times"]), beat_chroma(b, d["bass"], d["times"])
    extra = harmony_bar_scores(bc, bb, n, (3, 4))
    pats = beats_mod.beat_patterns(env, b)
    rep = beats_mod.bar_repetition(pats, (3, 4))
    frames = np.clip(np.round(b * beats_mod.FPS).astype(int), 0, d["act"].shape[1] - 1)
    strength = beats_mod._downbeat_strength(d["act"][1], frames)
    out = []
    for m in (3, 4):
        best = max(range(m), key=lambda p: float(strength[p::m].mean() - np.delete(strength, np.arange(p, n, m)).mean())
                   + beats_mod.HARMONY_WEIGHT * extra.get((m, p), 0.0))
        act = float(strength[best::m].mean() - np.delete(strength, np.arange(best, n, m)).mean())
        act += beats_mod.FOUR_BIAS if m == 4 else 0.0
        out.append(f"[{m}: act {act:5.2f} har {beats_mod.HARMONY_WEIGHT * extra.get((m, best), 0.0):5.2f} "
                   f"rep {beats_mod.PATTERN_WEIGHT * rep.get(m, 0.0):5.2f}]")
    return " ".join(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="train")
    ap.add_argument("--family", nargs="+", default=None)
    ap.add_argument("--also", nargs=2, action="append", default=[], type=Path, metavar=("ITEMS", "CACHE"))
    ap.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE", help="a worker.music.beats constant")
    ap.add_argument("--bars", action="store_true", help="print the bar decoder's terms too")
    args = ap.parse_args(argv)
    for item in args.set:
        name, value = item.split("=", 1)
        if not hasattr(beats_mod, name):
            sys.exit(f"worker.music.beats has no {name}")
        setattr(beats_mod, name, float(value))
    rows = cached(args.split, args.family, ((TESTSET, CACHE), *(tuple(p) for p in args.also)))
    per: dict[str, list[tuple[float, float, float, float]]] = {}
    for t, d in rows:
        r = decode(d)
        ratio = (r.tempo_bpm or 0.0) / t["tempo_bpm"] if t.get("tempo_bpm") else float("nan")
        df = beat_f(t["downbeats"], r.downbeat_times)
        bf = beat_f(t["beats"], r.beat_times)
        ts = None if not r.beats_per_bar else (f"{3 * r.beats_per_bar}/8" if r.compound else f"{r.beats_per_bar}/4")
        metre = float(metre_class(ts) == metre_class(t["time_signature"]))
        a1 = float(abs(ratio - 1.0) <= 0.04)
        per.setdefault(t["family"], []).append((a1, bf, df, metre))
        x = readings(d, r) if r.tempo_bpm else {}
        print(f"{t['name']:22s} {t.get('tempo_bpm') or 0:6.1f} {r.tempo_bpm or 0:6.1f} ({ratio:4.2f}) "
              f"{t['time_signature']!s:>4} {ts!s:>5} beatF {bf:.2f} downF {df:.2f} "
              + " ".join(f"{k} {v:5.2f}" for k, v in x.items()) + " " + (bar_terms(d, r) if args.bars else ""),
              flush=True)
    for fam, v in sorted(per.items()):
        a = np.array(v)
        print(f"{fam:8s} n {len(a):3d} acc1 {a[:, 0].mean():.3f} beat_f {a[:, 1].mean():.3f} "
              f"down_f {a[:, 2].mean():.3f} metre {a[:, 3].mean():.3f}")


if __name__ == "__main__":
    main()
