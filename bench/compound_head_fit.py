"""Refit only the beat network's compound output (one row of its 1x1 head) and score the full decode with it.

The network's compound output learned "the beat divides in three" from drum kits and is ~0 on MMA's 6/8 and
12/8 grooves (bench/compound_fit.py). Its beat and downbeat outputs are what the test split's beat and bar
figures rest on, and every fine-tune of the whole network so far lost some of them (bench/beat_train.py). Here
the network's last hidden layer (32 channels a frame) is kept as it is and only the compound row of the head is
fitted again, a frame-wise logistic regression on the sounding frames, each item weighing the same: so beats and
downbeat activations are the shipped ones bit for bit, and only the metre decision (and what follows from it,
the bar length and its downbeats) can move.

Fit material: the test set's *train* split and a fit family of MMA grooves whose style files are not among the
held-out family's (the held-out charts' styles are kept out, so it is a check on grooves the fit never heard).
Scored per family with the shipped and the refitted row, full decode (beats.decode): the test split, the MMA
fit items left out, and the held-out MMA family.

Usage (after bench/music_cache.py on each folder):
  python bench/compound_head_fit.py --fit bench/out/pitch_testset:bench/out/music_cache \\
      --mma-fit bench/out/mma_fit:bench/out/music_cache_mma_fit \\
      --held bench/out/mma_family:bench/out/music_cache_mma_family [--c 0.1 1 10] [--out weights.npz]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.downbeat_fit import add_decoded_scores  # noqa: E402
from bench.mma_family import DEFAULT_MMA, styles  # noqa: E402
from bench.music_cache import items as items_of  # noqa: E402
from worker.music import beatnet  # noqa: E402
from worker.music import beats as beats_mod  # noqa: E402

COMPOUND_ROW = 2
FRAME_STEP = 4  # every 4th sounding frame is a training sample (neighbours are nearly the same)


def hidden(logmel: np.ndarray, weights: dict[str, np.ndarray]) -> np.ndarray:
    """(channels, T) the network's last hidden layer (what its 1x1 head reads), one pass (clips are short)."""
    z = beatnet.network_input(logmel.astype(np.float32), weights, at_start=True)
    h = beatnet._elu(beatnet._conv(z, weights["in_w"], weights["in_b"]))
    for i in range(int(weights["n_blocks"][0])):
        y = beatnet._elu(beatnet._conv(h, weights[f"b{i}_w1"], weights[f"b{i}_b1"], dilation=2**i))
        h = h + beatnet._elu(beatnet._conv(y, weights[f"b{i}_w2"], weights[f"b{i}_b2"]))
    return h


def is_compound_label(truth: dict) -> bool:
    return str(truth.get("time_signature") or "").endswith("/8")


def load(spec: str, *, split: str | None, weights: dict) -> list[dict]:
    folder, cache = (Path(p) for p in spec.split(":"))
    truths = {m["name"]: m for m in items_of(folder)}
    rows = []
    for path in sorted(cache.glob("*.npz")):
        truth = truths.get(path.stem)
        if truth is None or "beats" not in truth or (split and truth.get("split") != split):
            continue
        d = dict(np.load(path))
        rows.append({"truth": truth, "d": d, "h": hidden(d["logmel"], weights)})
    return rows


def style_file(groove_by: dict[str, str], truth: dict) -> str:
    """The MMA style file a chart's groove comes from ("stdlib/68march" for "stdlib/68MarchPlus")."""
    return groove_by.get(truth.get("style", ""), truth.get("style", ""))


def fit_row(rows: list[dict], c: float) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    xs, ys, ws = [], [], []
    for row in rows:
        sounding = np.flatnonzero(row["d"]["act"][0] > beats_mod.ACTIVE_LEVEL)[::FRAME_STEP]
        if len(sounding) == 0:
            continue
        xs.append(row["h"][:, sounding].T)
        ys.append(np.full(len(sounding), is_compound_label(row["truth"])))
        ws.append(np.full(len(sounding), 1.0 / len(sounding)))
    x, y, w = np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)
    # each class weighs the same in all (the fit material holds more simple than compound items)
    w = w * np.where(y, 0.5 / w[y].sum(), 0.5 / w[~y].sum()) * len(rows)
    model = LogisticRegression(C=c, max_iter=2000).fit(x, y, sample_weight=w)
    return model.coef_[0].astype(np.float32), float(model.intercept_[0])


def with_row(row: dict, weights: dict, coef: np.ndarray | None, bias: float) -> np.ndarray:
    act = row["d"]["act"].copy()
    if coef is not None:
        act[COMPOUND_ROW] = 1.0 / (1.0 + np.exp(-(coef @ row["h"] + bias)))
    return act


def side(row: dict, coef: np.ndarray | None, bias: float) -> bool:
    """Whether the item's mean compound output over its sounding frames says what its label says."""
    sounding = row["d"]["act"][0] > beats_mod.ACTIVE_LEVEL
    act = with_row(row, {}, coef, bias)[COMPOUND_ROW][sounding]
    return bool(len(act)) and (float(act.mean()) > beats_mod.COMPOUND_THRESHOLD) == is_compound_label(row["truth"])


def score(rows: list[dict], weights: dict, coef: np.ndarray | None, bias: float,
          family_of=lambda t: t["family"]) -> dict[str, dict[str, float]]:
    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        add_decoded_scores(per[family_of(row["truth"])], row["truth"], row["d"], with_row(row, weights, coef, bias))
    out = {f: {m: float(np.mean(v)) for m, v in ms.items()} for f, ms in sorted(per.items())}
    metrics = ("acc1", "acc2", "beat_f", "down_f", "metre")
    out["overall"] = {m: float(np.mean([out[f][m] for f in per if m in out[f]])) for m in metrics}
    return out


def show(title: str, results: dict[str, dict[str, dict[str, float]]]) -> None:
    metrics = ("acc1", "acc2", "beat_f", "down_f", "metre")
    print(f"{title}: acc1 acc2 beat_f down_f metre", flush=True)
    families = next(iter(results.values())).keys()
    for fam in families:
        for label, res in results.items():
            cells = " ".join(f"{res[fam][m]:.3f}" if m in res[fam] else "  -  " for m in metrics)
            print(f"  {fam:10s} {label:12s} {cells}", flush=True)


def style_halves(groove_by: dict[str, str], rows: list[dict]) -> tuple[set[str], set[str]]:
    """The style files of `rows` split in two, alternately in sorted order within each metre."""
    by_metre: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        by_metre[r["truth"]["family"]].add(style_file(groove_by, r["truth"]))
    a: set[str] = set()
    for files in by_metre.values():
        a |= set(sorted(files)[::2])
    return a, {f for files in by_metre.values() for f in files} - a


def folds(args, groove_by, train, test, mma_fit, held, weights) -> None:
    """Each held-out chart scored by rows fitted on the other half of the style files only."""
    half_a, half_b = style_halves(groove_by, mma_fit + held)
    for c in args.c:
        scored: dict[str, list[dict]] = {"shipped": [], f"C={c:g}": []}
        for fit_half, score_half in ((half_a, half_b), (half_b, half_a)):
            fit_rows = [r for r in mma_fit if style_file(groove_by, r["truth"]) in fit_half]
            coef, bias = fit_row(train + fit_rows, c)
            scored_rows = [r for r in held if style_file(groove_by, r["truth"]) in score_half]
            print(f"C={c:g}: fitted on {len(fit_rows)} fit charts of {len(fit_half)} style files, scoring "
                  f"{len(scored_rows)} held-out charts of the other {len(score_half)}", flush=True)
            show(f"test split (row of this fold, C={c:g})",
                 {"shipped": score(test, weights, None, 0.0), "refit": score(test, weights, coef, bias)})
            for r in scored_rows:
                scored["shipped"].append({**r, "coef": None, "bias": 0.0})
                scored[f"C={c:g}"].append({**r, "coef": coef, "bias": bias})
        results = {}
        for label, rows in scored.items():
            per = defaultdict(list)
            for r in rows:
                per[(None if r["coef"] is None else id(r["coef"]))].append(r)
            merged: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
            for group in per.values():
                res = score(group, weights, group[0]["coef"], group[0]["bias"])
                for fam, cells in res.items():
                    if fam == "overall":
                        continue
                    for m, v in cells.items():
                        merged[fam][m].append((v, len([g for g in group if g["truth"]["family"] == fam])))
            out = {fam: {m: float(sum(v * n for v, n in vs) / sum(n for _, n in vs)) for m, vs in cells.items()}
                   for fam, cells in sorted(merged.items())}
            out["overall"] = {m: float(np.mean([out[f][m] for f in out if m in out[f]]))
                              for m in ("acc1", "acc2", "beat_f", "down_f", "metre")}
            results[label] = out
        show(f"MMA held-out, each chart by the row that never heard its style file (C={c:g})", results)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit", required=True, help="ITEMS:CACHE of the test set (its train split is fitted)")
    ap.add_argument("--mma-fit", required=True, help="ITEMS:CACHE of the MMA fit family")
    ap.add_argument("--held", required=True, help="ITEMS:CACHE of the held-out MMA family (never fitted)")
    ap.add_argument("--mma", type=Path, default=DEFAULT_MMA)
    ap.add_argument("--c", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    ap.add_argument("--out", type=Path, default=None, help="write the weights with the best C's row here")
    ap.add_argument("--folds", action="store_true",
                    help="two folds by style file: rows fitted on one half of the style files (the fit charts'), "
                         "scored on the held-out charts of the other half")
    ap.add_argument("--all-mma-fit", action="store_true",
                    help="fit on every MMA fit chart (the held-out charts' styles too: the head's best case)")
    args = ap.parse_args(argv)
    weights = beatnet.load_weights()
    assert weights is not None
    groove_by = {f"{s.file.parent.name}/{s.groove}": f"{s.file.parent.name}/{s.file.stem}" for s in styles(args.mma)}
    train, test = load(args.fit, split="train", weights=weights), load(args.fit, split="test", weights=weights)
    mma_fit, held = load(args.mma_fit, split=None, weights=weights), load(args.held, split=None, weights=weights)
    held_styles = {style_file(groove_by, r["truth"]) for r in held}
    mma_in = [r for r in mma_fit if args.all_mma_fit or style_file(groove_by, r["truth"]) not in held_styles]
    mma_out = [r for r in mma_fit if not args.all_mma_fit and style_file(groove_by, r["truth"]) in held_styles]
    print(f"fit: {len(train)} test-set train items + {len(mma_in)} MMA fit charts (styles not held out); "
          f"{len(mma_out)} MMA fit charts share a held-out style (not fitted, scored apart); "
          f"test split {len(test)}, held-out MMA {len(held)}", flush=True)
    if args.folds:
        folds(args, groove_by, train, test, mma_fit, held, weights)
        return
    rows_by_c = {"shipped": (None, 0.0)}
    for c in args.c:
        rows_by_c[f"C={c:g}"] = fit_row(train + mma_in, c)
    print("share of items whose mean compound output (sounding frames) is on the label's side of 0.5:")
    for label, (coef, bias) in rows_by_c.items():
        for title, rows in (("test-set train", train), ("MMA fit", mma_fit), ("test split", test),
                            ("MMA held-out", held)):
            print(f"  {label:8s} {title:15s} " + " ".join(
                f"{fam} {np.mean([side(r, coef, bias) for r in rows if r['truth']['family'] == fam]):.2f}"
                for fam in sorted({r["truth"]["family"] for r in rows})), flush=True)
    for title, rows in (("test split", test), ("MMA held-out", held), ("MMA fit, held styles", mma_out),
                        ("MMA fit (fitted)", mma_in), ("test-set train (fitted)", train)):
        if rows:
            show(title, {label: score(rows, weights, coef, bias) for label, (coef, bias) in rows_by_c.items()})
    if args.out is not None:
        label = f"C={args.c[0]:g}"
        coef, bias = rows_by_c[label]
        new = {k: v.copy() for k, v in weights.items()}
        new["out_w"][COMPOUND_ROW, :, 0] = coef
        new["out_b"][COMPOUND_ROW] = bias
        np.savez(args.out, **new)
        print(f"wrote {args.out} ({label})")


if __name__ == "__main__":
    main()
