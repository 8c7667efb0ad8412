"""The chord model refitted with MMA's accompaniment as one more fit family, scored on charts it never heard.

worker/music/chord_model.npz learned its chords from the training corpus and the test set's train split
(bench/chord_train.py): triads and a few dominant sevenths voiced by this project's own generators. MMA's grooves
(bench/mma_family.py) voice them another way (jazz comping with sevenths and extensions, walking bass, waltz
accompaniment), and its held-out family's chord root is 0.873 against the test split's 0.956. This script fits the
same model on the same fit data plus the MMA fit family (seed 993000) as one family at half a family's weight
(chosen by `--cv` on fit data; its four metres as four families would have made it two thirds of the fit) and
scores:
- the test split (its 289 items with chords; it must not lose chord root), with the shipped weights, a refit on the
  old fit data alone (what the training script reproduces today) and the refits with MMA;
- the held-out MMA family (seed 991000) by style-file folds: MMA's style files split in two (alternately in sorted
  order within each metre, over both families' charts), a model fitted on the fit charts of one half scores the
  held-out charts of the other half, so every held-out chart is scored by a model that never heard its style file.
  A model fitted on every fit chart is also scored on the held-out family, marked: it has heard their styles.
MMA's chart labels hold min7 and maj7 chords; the model's 37 states have maj, min and 7, so they are read as min and
maj (the score is the root's in every case).

The shipped worker/music/chord_model.npz is this script's `--out` (2026-12-07).

Usage (after bench/chord_cache.py for the test set's two splits and `--items` for each MMA family):
  python bench/chord_mma_fit.py --cache CACHE --mma-fit bench/out/mma_fit:FITCACHE \
      --held bench/out/mma_family:HELDCACHE [--out worker/music/chord_model.npz]
  python bench/chord_mma_fit.py ... --cv 32:0 32:0.5 32:1 64:1   (the choice, fit data only)
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

from bench import chord_train as ct  # noqa: E402
from bench.mma_family import DEFAULT_MMA, styles  # noqa: E402
from worker.music import chordmodel  # noqa: E402

MMA_WEIGHT = 0.5  # chosen by --cv on fit data (0, 0.5, 1; docs/music_accuracy.md, "Chords from another hand")
SHARPNESS, STAY = 1.5, 0.7  # the shipped decoder's (bench/chord_train.py's cross-validated choice), not re-chosen
TO_MODEL_QUALITY = {"min7": "min", "maj7": "maj"}  # MMA chart qualities outside the model's maj / min / 7


def model_label(label: str) -> str:
    if ":" not in label:
        return label
    root, q = label.split(":")
    return f"{root}:{TO_MODEL_QUALITY.get(q, q)}"


def load_mma(spec: str, groove_file: dict[str, str]) -> list[dict]:
    """One MMA family's cached charts (ITEMS:CACHE), labels in the model's qualities, each with its style file."""
    folder, cache = (Path(p) for p in spec.split(":"))
    truths = {m["name"]: m for m in json.loads((folder / "manifest.json").read_text())}
    rows = []
    for path in sorted(cache.glob("*.npz")):
        truth = truths.get(path.stem.split("__", 1)[-1])
        if truth is None:
            continue
        with np.load(path) as z:
            d = {k: z[k] for k in z.files if k != "white"}
        d["name"] = path.stem
        d["ref"] = [[s, e, model_label(lab)] for s, e, lab in json.loads(str(d["ref"]))]
        d["family"], d["soundfont"] = str(d["family"]), str(d["soundfont"])
        d["duration"] = float(d["duration"])
        k = int(d["est_key"])
        d["key"] = None if k < 0 else k
        d["style_file"] = groove_file.get(truth["style"], truth["style"])
        rows.append(d)
    return rows


def as_one_family(rows: list[dict]) -> list[dict]:
    """The fit charts as one family "mma" (their four metres would otherwise weigh four families' worth)."""
    return [{**d, "family": "mma"} for d in rows]


def halves(rows: list[dict]) -> tuple[set[str], set[str]]:
    by_metre: dict[str, set[str]] = defaultdict(set)
    for d in rows:
        by_metre[d["family"]].add(d["style_file"])
    a: set[str] = set()
    for files in by_metre.values():
        a |= set(sorted(files)[::2])
    return a, {f for files in by_metre.values() for f in files} - a


def fitted(rows: list[dict], args: argparse.Namespace, *, hidden: int | None = None,
           mma_weight: float | None = None) -> dict:
    weight = {"mma": args.mma_weight if mma_weight is None else mma_weight}
    w = ct.fit(ct.design(rows, true_beats=False, family_weight=weight), hidden=hidden or args.hidden,
               epochs=args.epochs, l2=args.l2)
    w["sharpness"], w["stay"] = np.array(SHARPNESS), np.array(STAY)
    return w


def cross_validate(train: list[dict], mma_fit: list[dict], args: argparse.Namespace) -> None:
    """The choice of MMA's weight and the hidden width on fit data only: two folds (the old fit items by
    bench/chord_train.py's own fold assignment, the MMA fit charts by style-file halves of the fit family), each
    scored on the other fold; the figure is the balanced root over the old families and MMA as one more."""
    rng = np.random.default_rng(ct.SEED)
    fold = {d["name"]: int(rng.integers(2)) for d in train}
    half_a, _ = halves(mma_fit)
    mma_fold = {d["name"]: 0 if d["style_file"] in half_a else 1 for d in mma_fit}
    for hidden, weight in args.grid:
        per: dict[str, list[float]] = defaultdict(list)
        for k in (0, 1):
            rows = [d for d in train if fold[d["name"]] != k]
            if weight > 0:
                rows += as_one_family([d for d in mma_fit if mma_fold[d["name"]] != k])
            w = fitted(rows, args, hidden=int(hidden), mma_weight=weight)
            for fam, v in ct.score([d for d in train if fold[d["name"]] == k], w)[0].items():
                per[fam].extend(v)
            for v in ct.score(as_one_family([d for d in mma_fit if mma_fold[d["name"]] == k]), w)[0].values():
                per["mma"].extend(v)
        fam, bal = ct.balanced(per)
        old = float(np.mean([v for f, v in fam.items() if f != "mma"]))
        print(f"cv hidden {int(hidden)} mma weight {weight:g}: " + " ".join(f"{f} {v:.4f}" for f, v in fam.items())
              + f" | old families {old:.4f} with mma {bal:.4f}", flush=True)


def line(title: str, rows: list[dict], w: dict | None) -> dict[str, float]:
    roots, exact = ct.score(rows, w)
    fam, bal = ct.balanced(roots)
    print(f"  {title:34s} " + " ".join(f"{k} {v:.3f}" for k, v in fam.items())
          + f" | mean {bal:.4f} exact {ct.balanced(exact)[1]:.3f}", flush=True)
    return {**fam, "mean": bal}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, required=True, help="bench/chord_cache.py's cache of the test set")
    ap.add_argument("--mma-fit", required=True, help="ITEMS:CACHE of the MMA fit family (seed 993000)")
    ap.add_argument("--held", required=True, help="ITEMS:CACHE of the held-out MMA family (never fitted)")
    ap.add_argument("--mma", type=Path, default=DEFAULT_MMA, help="MMA's share folder (its style files)")
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--l2", type=float, default=1e-4)
    ap.add_argument("--mma-weight", type=float, default=MMA_WEIGHT, help="MMA's family weight (1: one family's worth)")
    ap.add_argument("--cv", dest="grid", type=lambda s: tuple(float(x) for x in s.split(":")), nargs="+",
                    default=None, metavar="HIDDEN:MMA_WEIGHT",
                    help="cross-validate these choices on fit data only (e.g. 32:0 32:0.5 32:1 64:1) and stop")
    ap.add_argument("--out", type=Path, default=None, help="write the model fitted on every fit chart here")
    args = ap.parse_args(argv)
    groove_file = {f"{s.file.parent.name}/{s.groove}": f"{s.file.parent.name}/{s.file.stem}"
                   for s in styles(args.mma)}
    train, test = ct.load(args.cache, "train"), ct.load(args.cache, "test")
    mma_fit, held = load_mma(args.mma_fit, groove_file), load_mma(args.held, groove_file)
    print(f"fit data: {len(train)} items, MMA fit {len(mma_fit)} charts; test split {len(test)}, "
          f"held-out MMA {len(held)}", flush=True)
    if args.grid:
        cross_validate(train, mma_fit, args)
        return
    shipped = chordmodel.load_weights(chordmodel.WEIGHTS)
    old = fitted(train, args)
    every = fitted(train + as_one_family(mma_fit), args)
    half_a, half_b = halves(mma_fit + held)
    by_half = {name: fitted(train + as_one_family([d for d in mma_fit if d["style_file"] in half]), args)
               for name, half in (("a", half_a), ("b", half_b))}
    print("test split, chord root per beat-time by family:")
    line("shipped weights", test, shipped)
    line("refit, old fit data", test, old)
    line("refit + MMA fit (styles A)", test, by_half["a"])
    line("refit + MMA fit (styles B)", test, by_half["b"])
    line("refit + every MMA fit chart", test, every)
    print("held-out MMA family:")
    line("shipped weights", held, shipped)
    line("refit, old fit data", held, old)
    # every held-out chart by the model that never heard its style file
    cross = [(d, by_half["b"] if d["style_file"] in half_a else by_half["a"]) for d in held]
    roots: dict[str, list[float]] = defaultdict(list)
    for d, w in cross:
        r, _ = ct.score([d], w)
        roots[d["family"]].extend(r[d["family"]])
    fam, bal = ct.balanced(roots)
    print(f"  {'refit + MMA, other styles (folds)':34s} " + " ".join(f"{k} {v:.3f}" for k, v in fam.items())
          + f" | mean {bal:.4f}", flush=True)
    line("refit + every MMA fit chart (heard)", held, every)
    if args.out:
        np.savez(args.out, **{k: np.asarray(v, dtype=np.float32) for k, v in every.items()})
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
