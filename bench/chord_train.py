"""Fit worker/music/chordmodel.py's emission model on labelled beats (fit data only, fixed seed).

Material: bench/chord_cache.py's per-item features of the training corpus and the test set's
*train* split (beat-synchronous chroma on the beats and key the pipeline itself estimated, so the
model learns what it will see). Each beat is labelled with the reference chord that covers most
of it. Loss: cross-entropy over the 37 states, every family weighing the same and, inside a
family, every soundfont the same. Then the HMM's sharpness and stay probability are picked by
family-balanced root accuracy of the decoded path on the same fit data.

2-fold CV on fit data (family-balanced chord root per beat; the template decoder 0.917):
one beat alone, 16 hidden 0.951 (exact labels 0.895, but a plain G7 came out G:maj: 7ths are
rare, hence QUALITY_BALANCE); QUALITY_BALANCE 0.75, 32 hidden 0.949; with the neighbouring
beats 0.952 (chosen). Not better: also training on the true beats 0.950, 600 L-BFGS steps 0.952,
l2 1e-3 0.939, l2 1e-5 0.948, 16 hidden with context 0.948.

The shipped weights (since 2026-12-07) are this model and fit with MMA's fit family added: bench/chord_mma_fit.py.

Usage: python bench/chord_train.py --cache /work/testset/chordexp [--hidden 32] [--out worker/music/chord_model.npz]
       python bench/chord_train.py --cache ... --score test   (report only: the test split, old vs new)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.music_scores import chord_scores  # noqa: E402
from worker.music import chordmodel  # noqa: E402
from worker.music import chords as chords_mod  # noqa: E402
from worker.music.key import PITCH_NAMES  # noqa: E402

SEED = 12
CONTEXT = True  # also feed the neighbouring beats' features
QUALITY_BALANCE = 0.75  # beat weight x (share of its quality) ** -QUALITY_BALANCE
SHARPNESS_GRID = (1.0, 1.5, 2.0)  # emission log-posterior scale
STAY_GRID = (0.5, 0.7)  # per-beat probability of keeping the chord
QUALITY_INDEX = {q: i for i, q in enumerate(chords_mod.QUALITIES)}


def load(cache: Path, split: str) -> list[dict]:
    out = []
    for f in sorted(cache.glob("*.npz")):
        with np.load(f) as z:
            if str(z["split"]) != split:
                continue
            d = {k: z[k] for k in z.files if k != "white"}
        d["name"] = f.stem
        d["ref"] = json.loads(str(d["ref"]))
        d["family"], d["soundfont"] = str(d["family"]), str(d["soundfont"])
        d["duration"] = float(d["duration"])
        k = int(d["est_key"])
        d["key"] = None if k < 0 else k
        out.append(d)
    return out


def segments(d: dict, beats: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """bounds and beat-synchronous (treble, bass, energy) exactly as chords.decode_chords makes them."""
    seg = chords_mod._segments(d["chroma"], d["bass"], d["energy"], d["times"], beats, duration=d["duration"])
    assert seg is not None
    return seg  # type: ignore[return-value]


def state_of(label: str) -> int:
    if label == "N" or ":" not in label:
        return 36
    root, q = label.split(":")
    return QUALITY_INDEX[q] * 12 + PITCH_NAMES.index(root)


def beat_labels(ref: list, bounds: np.ndarray) -> np.ndarray:
    """Per segment: the state of the reference chord covering most of it ("N" where none does)."""
    out = np.full(len(bounds) - 1, 36)
    for i in range(len(bounds) - 1):
        a, b = bounds[i], bounds[i + 1]
        best, cover = 36, 0.5 * (b - a)  # N unless a chord covers more than half
        for s, t, lab in ref:
            ov = min(b, t) - max(a, s)
            if ov > cover:
                best, cover = state_of(lab), ov
        out[i] = best
    return out


def balanced(per: dict) -> tuple[dict, float]:
    fam = {k: float(np.mean(v)) for k, v in sorted(per.items())}
    return fam, float(np.mean(list(fam.values())))


def score(items: list[dict], w: dict | None = None) -> tuple[dict, dict]:
    """Per family: chord root per beat-time, and the exact-label share, of the template decoder (w None) or
    of the learned one with weights w."""
    roots, exact = defaultdict(list), defaultdict(list)
    for d in items:
        if bool(d["silent"]) or d["key"] is None:
            est = [{"start": 0.0, "end": d["duration"], "label": "N"}]
        elif w is None:
            est = chords_mod.decode_chords(d["chroma"], d["bass"], d["energy"], d["times"], d["est_beats"],
                                           duration=d["duration"], key_index=d["key"])
        else:
            est = chords_mod.decode_chords_learned(d["chroma"], d["bass"], d["energy"], d["times"], d["est_beats"],
                                                   duration=d["duration"], key_index=d["key"], weights=w)
        roots[d["family"]].append(chord_scores(d["ref"], est, d["duration"])[0])
        exact[d["family"]].append(exact_score(d["ref"], est, d["duration"]))
    return roots, exact


def exact_score(ref: list, est: list, duration: float) -> float:
    """Duration share where the label (root and maj/min/7 quality) is exactly the reference's."""
    t = np.arange(0.0, duration, 0.05)

    def at(segs: list, key) -> list:
        out = ["N"] * len(t)
        for s in segs:
            a, b, lab = key(s)
            for i in np.nonzero((t >= a) & (t < b))[0]:
                out[i] = lab
        return out

    r = at(ref, lambda s: (s[0], s[1], s[2]))
    e = at(est, lambda s: (s["start"], s["end"], s["label"]))
    m = [i for i, x in enumerate(r) if x != "N"]
    return float(np.mean([r[i] == e[i] for i in m])) if m else 1.0


def design(items: list[dict], *, true_beats: bool, family_weight: dict[str, float] | None = None) -> dict:
    """Features, labels and weights of every beat: each family weighs the same (times `family_weight`'s factor,
    1 where it names none), and inside a family each soundfont the same."""
    xs, gs, ys, kbs, ws = [], [], [], [], []
    groups = defaultdict(int)
    rows = []
    for d in items:
        for beats in ([d["est_beats"]] + ([d["true_beats"]] if true_beats else [])):
            if d["key"] is None:
                continue
            bounds, c, b, e = segments(d, beats)
            y = beat_labels(d["ref"], bounds)
            rows.append((d, c, b, e, y))
            groups[(d["family"], d["soundfont"])] += len(y)
    fam_groups = defaultdict(int)
    for fam, _ in groups:
        fam_groups[fam] += 1
    for d, c, b, e, y in rows:
        x = chordmodel.rooted_features(c, b)
        xs.append(chordmodel.with_context(x) if CONTEXT else x)
        gs.append(chordmodel.global_features(c, b, e))
        ys.append(y)
        kbs.append(np.tile(chordmodel.key_bias_index(d["key"]), (len(y), 1)))
        g = (d["family"], d["soundfont"])
        factor = (family_weight or {}).get(d["family"], 1.0)
        ws.append(np.full(len(y), factor / (groups[g] * fam_groups[d["family"]] * len(fam_groups))))
    y_all, w_all = np.concatenate(ys), np.concatenate(ws)
    # rare qualities (7ths are ~6 % of beats) weigh more, or the model learns never to say them
    quality = np.minimum(y_all // 12, 3)
    share = np.array([w_all[quality == i].sum() for i in range(4)]) / w_all.sum()
    w_all = w_all * np.maximum(share[quality], 1e-6) ** -QUALITY_BALANCE
    return {"x": np.concatenate(xs), "g": np.concatenate(gs), "y": y_all, "kb": np.concatenate(kbs), "w": w_all}


def fit(data: dict, *, hidden: int, epochs: int, l2: float) -> dict[str, np.ndarray]:
    import torch

    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    x = torch.tensor(data["x"], dtype=torch.float32)
    g = torch.tensor(data["g"], dtype=torch.float32)
    y = torch.tensor(data["y"], dtype=torch.long)
    kb = torch.tensor(data["kb"], dtype=torch.long)
    wt = torch.tensor(data["w"] / data["w"].sum(), dtype=torch.float32)
    w1 = torch.nn.Parameter(0.3 * torch.randn(x.shape[2], hidden))
    b1 = torch.nn.Parameter(torch.zeros(hidden))
    w2 = torch.nn.Parameter(0.3 * torch.randn(hidden, 3))
    b2 = torch.nn.Parameter(torch.zeros(3))
    key_bias = torch.nn.Parameter(torch.zeros(2 * 12 * 3))
    wn = torch.nn.Parameter(torch.zeros(g.shape[1]))
    params = [w1, b1, w2, b2, key_bias, wn]
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=epochs, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        h = torch.relu(x @ w1 + b1)
        q = h @ w2 + b2  # (S, 12, 3)
        chord = q.transpose(1, 2).reshape(q.shape[0], -1) + key_bias[kb]
        z = torch.cat([chord, (g @ wn)[:, None]], dim=1)
        loss = (torch.nn.functional.cross_entropy(z, y, reduction="none") * wt).sum()
        loss = loss + l2 * (w1.square().sum() + w2.square().sum() + key_bias.square().sum())
        loss.backward()
        return loss

    opt.step(closure)
    return {"w1": w1.detach().numpy(), "b1": b1.detach().numpy(), "w2": w2.detach().numpy(),
            "b2": b2.detach().numpy(), "key_bias": key_bias.detach().numpy().reshape(2, 12, 3),
            "wn": wn.detach().numpy()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--l2", type=float, default=1e-4)
    ap.add_argument("--true-beats", action="store_true", help="also train on the true beats")
    ap.add_argument("--sharpness", type=float, default=1.5, help="the cross-validated choice from the grid")
    ap.add_argument("--stay", type=float, default=0.7, help="the cross-validated choice from the grid")
    ap.add_argument("--cv", action="store_true", help="2-fold cross-validation of the grid on fit data")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--score", default=None, help="report old vs new on this split (test: report only)")
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--no-context", dest="context", action="store_false", help="the beat alone as input")
    ap.add_argument("--quality-balance", type=float, default=QUALITY_BALANCE)
    args = ap.parse_args()
    globals()["QUALITY_BALANCE"] = args.quality_balance
    globals()["CONTEXT"] = args.context
    if args.score:
        items = load(args.cache, args.score)
        w = chordmodel.load_weights(args.weights or chordmodel.WEIGHTS)
        for name, weights in (("old", None), ("new", w)):
            fam, bal = balanced(score(items, weights)[0])
            print(f"{args.score} {name}", " ".join(f"{k} {v:.4f}" for k, v in fam.items()), f"overall {bal:.4f}")
        return
    items = load(args.cache, "train")
    rng = np.random.default_rng(SEED)
    fold = {d["name"]: int(rng.integers(2)) for d in items}
    # 2-fold cross-validation on fit data for the decoder's constants
    for k in (0, 1) if args.cv else ():
        tr = [d for d in items if fold[d["name"]] != k]
        w = fit(design(tr, true_beats=args.true_beats), hidden=args.hidden, epochs=args.epochs, l2=args.l2)
        va = [d for d in items if fold[d["name"]] == k]
        roots, exact = score(va)
        fam, bal = balanced(roots)
        print(f"fold {k} old", " ".join(f"{k2} {v:.4f}" for k2, v in fam.items()),
              f"overall {bal:.4f} exact {balanced(exact)[1]:.4f}", flush=True)
        for sharp in SHARPNESS_GRID:
            for stay in STAY_GRID:
                w["sharpness"], w["stay"] = np.array(sharp), np.array(stay)
                roots, exact = score(va, w)
                fam, bal = balanced(roots)
                print(f"fold {k} sharp {sharp} stay {stay}", " ".join(f"{k2} {v:.4f}" for k2, v in fam.items()),
                      f"overall {bal:.4f} exact {balanced(exact)[1]:.4f}", flush=True)
    if args.out:
        w = fit(design(items, true_beats=args.true_beats), hidden=args.hidden, epochs=args.epochs, l2=args.l2)
        w["sharpness"], w["stay"] = np.array(args.sharpness), np.array(args.stay)
        np.savez(args.out, **{k: v.astype(np.float32) for k, v in w.items()})


if __name__ == "__main__":
    main()
