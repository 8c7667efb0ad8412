"""Fit worker/music/keymodel.py's key model on fit data only (fixed folds and seeds).

Fit data: the training corpus (bench/out/music_train: grooves, pop loops, modal vamps,
tempo changes, re-rendered train-split chorales; never a held-out soundfont, kit or style)
and the test set's *train* split. The test split is never read. `--sonata` adds the classical-style openings
rendered beside the corpus (bench/out/music_train_sonata, bench/sonata_family.py); the shipped weights were
fitted without them (with them the classical movements of bench/classical_check.py scored 0.884 against 0.894:
the sonata family's docstring has the figures).

Chorales whose label (key signature + final bass note) disagrees with music21's analysis of the
whole score (`key_agrees`, bench/chorale_family.py: Phrygian endings, relative-key readings) are left out:
one of the two readings is wrong and the fit cannot tell which.

Model (keymodel.py): per mode a linear term plus a one-hidden-layer term over the tonic-rotated
evidence rows and the three style numbers, a softmax over the 24 keys; maximum likelihood with
weight decay, each family weighted equally, full-batch L-BFGS in torch (the worker runs the
weights in numpy). `--members` fits with seeds 0..N-1 are averaged (their log-probabilities). `--bag` fits
each member on a grouped bootstrap resample of the fit data instead of all of it (`bag_weights`: per family, its
fold groups drawn with replacement, seed BAG_SEED + the member's seed; each family still counts the same), with
`--bag-share S` on that share of each family's fold groups drawn without replacement.
The hidden width and weight decay are chosen by grouped 5-fold cross-validation (family-balanced
weighted key score), repeated over three fold assignments: every render of one chorale, and every
item of one soundfont + kit + style, sits in one fold, so a held-out fold is music the fit never
heard. The final ensemble is fitted on all fit data and written to worker/music/key_model.npz.

Usage: python bench/key_fit.py [--out worker/music/key_model.npz] [--members 5] [--bag]
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.chorale_fit_corpus import FOLDER as CHORALE_FOLDER  # noqa: E402
from bench.music_scores import key_score  # noqa: E402
from bench.testset_families import SONATA_FOLDER  # noqa: E402
from worker.audio_io import load_audio  # noqa: E402
from worker.music import chroma as chroma_mod  # noqa: E402
from worker.music.key import PITCH_NAMES, key_label  # noqa: E402
from worker.music.keymodel import (  # noqa: E402
    N_EVIDENCE,
    STYLE_FEATURES,
    evidence,
    key_log_probabilities,
    log_softmax,
    rotated,
)

TESTSET = ROOT / "bench" / "out" / "pitch_testset"
CORPUS = ROOT / "bench" / "out" / "music_train"
SONATAS = ROOT / "bench" / "out" / SONATA_FOLDER
MORE_CHORALES = ROOT / "bench" / "out" / CHORALE_FOLDER
FOLDS = 5
FOLD_SALTS = ("", "a", "b")  # three assignments of groups to folds, averaged: one is noisy at ~40 groups
GRID = ((8, 1e-3), (8, 3e-3))  # (hidden units, weight decay)
DIM = N_EVIDENCE * 12
THREADS = 2  # torch's threads per fit (bench/key_bag.py runs two fits side by side with 1)
BAG_SEED = 4400  # the bootstrap draws of member s use default_rng(BAG_SEED + s)


def fold_group(m: dict) -> str:
    """What must stay on one side of a fold: a chorale's source score, else the sound and style."""
    if m["family"] == "corpus":
        return str(m["source"])
    return f"{m.get('soundfont')}/{m.get('kit')}/{m.get('style')}"


def evidence_rows(cache: Path, folders: tuple[Path, ...] = (CORPUS, TESTSET)
                  ) -> list[tuple[str, int, np.ndarray, np.ndarray, str]]:
    """(family, true key index 0-23, (N_EVIDENCE, 12) rows, style numbers, fold group) per fit item of
    `folders`' manifests, cached."""
    if cache.exists():
        with np.load(cache, allow_pickle=True) as f:
            return [tuple(r) for r in f["rows"]]
    rows = []
    for m, index, f in fit_features(folders):
        ev, style = evidence(f.chroma, f.bass, f.energy, f.times)
        rows.append((m["family"], index, ev, style, fold_group(m)))
    arr = np.empty(len(rows), dtype=object)
    arr[:] = rows
    np.savez(cache, rows=arr)
    return rows


def fit_features(folders: tuple[Path, ...]) -> Iterator[tuple[dict, int, chroma_mod.HarmonicFeatures]]:
    """(manifest entry, true key index 0-23, the harmonic features the key model reads) per fit item of
    `folders`: split "train", and not a chorale whose label music21's analysis disputes."""
    for folder in folders:
        for m in json.loads((folder / "manifest.json").read_text()):
            if m["split"] != "train" or m.get("key_agrees") is False:
                continue
            y, _ = load_audio(folder / m["audio"], sr=chroma_mod.SR, mono=True)
            tonic, mode = m["key"].split()
            yield (m, PITCH_NAMES.index(tonic) + (12 if mode == "minor" else 0),
                   chroma_mod.harmonic_features(y / max(1e-9, float(np.abs(y).max()))))
        print(f"{folder.name}: read", flush=True)


def _fit_member(x, style, y, weight, hidden: int, decay: float, seed: int) -> dict[str, np.ndarray]:
    """One member: per mode a linear scorer plus a ReLU layer over [rotated rows, style]."""
    import torch

    torch.manual_seed(seed)
    lin = torch.nn.Linear(DIM, 2)
    layers = [torch.nn.Linear(DIM + len(STYLE_FEATURES), hidden) for _ in range(2)]
    outs = [torch.nn.Linear(hidden, 1) for _ in range(2)]
    params = [p for mod in (lin, *layers, *outs) for p in mod.parameters()]
    decayed = [mod.weight for mod in (lin, *layers, *outs)]
    xs = torch.tensor(x, dtype=torch.float32)  # (N, 12, DIM)
    zs = torch.cat([xs, torch.tensor(style, dtype=torch.float32)[:, None, :].expand(-1, 12, -1)], dim=-1)
    target = torch.tensor(y)
    w = torch.tensor(weight, dtype=torch.float32)

    def logits():
        lo = lin(xs)
        return torch.cat([lo[..., m] + outs[m](torch.relu(layers[m](zs))).squeeze(-1) for m in (0, 1)], dim=1)

    opt = torch.optim.LBFGS(params, max_iter=300, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        nll = -(w * torch.log_softmax(logits(), dim=1)[torch.arange(len(target)), target]).sum()
        loss = nll + decay * sum((p ** 2).sum() for p in decayed)
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return {"lin_w": lin.weight.numpy().copy(), "lin_b": lin.bias.numpy().copy(),
                "h_w": np.stack([m.weight.numpy() for m in layers]), "h_b": np.stack([m.bias.numpy() for m in layers]),
                "o_w": np.stack([m.weight.numpy()[0] for m in outs]), "o_b": np.array([float(m.bias) for m in outs])}


def family_weights(families: list[str]) -> np.ndarray:
    """Per item 1 / (items of its family), summing to 1: each family counts the same."""
    count: dict[str, int] = defaultdict(int)
    for fam in families:
        count[fam] += 1
    weight = np.array([1.0 / count[fam] for fam in families])
    return weight / weight.sum()


def bag_weights(rows, seed: int, share: float | None = None) -> np.ndarray:
    """Per item its weight in member `seed`'s resample of the fold groups, per family: as many groups as it holds
    drawn with replacement (a grouped bootstrap), or with `share` that share of them without replacement. An item
    counts as often as its group was drawn (0: not drawn); each family still sums to the same share."""
    rng = np.random.default_rng(BAG_SEED + seed)
    groups: dict[str, list[str]] = defaultdict(list)
    for fam, *_, group in rows:
        if group not in groups[fam]:
            groups[fam].append(group)
    drawn: dict[tuple[str, str], int] = defaultdict(int)
    for fam in sorted(groups):
        names = sorted(groups[fam])
        if share is None:
            picks = rng.integers(0, len(names), size=len(names))
        else:
            picks = rng.choice(len(names), size=max(1, round(share * len(names))), replace=False)
        for i in picks:
            drawn[(fam, names[i])] += 1
    count = np.array([float(drawn[(fam, group)]) for fam, *_, group in rows])
    total: dict[str, float] = defaultdict(float)
    for (fam, *_), c in zip(rows, count, strict=True):
        total[fam] += c
    weight = np.array([c / total[fam] for (fam, *_), c in zip(rows, count, strict=True)])
    return weight / weight.sum()


def fit(rows, hidden: int, decay: float, members: int, *, bag: bool = False, share: float | None = None
        ) -> dict[str, np.ndarray]:
    """Family-balanced ensemble of `members` fits (seeds 0..members-1, each on all rows, or with `bag` on its
    resample of the fold groups, bag_weights), arrays stacked on axis 0."""
    import torch

    torch.set_num_threads(THREADS)
    x = np.stack([rotated(r[2]) for r in rows])
    style = np.stack([r[3] for r in rows])
    y = np.array([r[1] for r in rows])
    fits = []
    for seed in range(members):
        weight = bag_weights(rows, seed, share) if bag else family_weights([fam for fam, *_ in rows])
        use = weight > 0
        fits.append(_fit_member(x[use], style[use], y[use], weight[use], hidden, decay, seed))
    return {k: np.stack([f[k] for f in fits]) for k in fits[0]}


def cv(rows, hidden: int, decay: float, members: int, *, bag: bool = False, share: float | None = None
       ) -> tuple[dict[str, float], list]:
    """Grouped cross-validation: the family means averaged over FOLD_SALTS' fold assignments (and the balanced
    score's lowest and highest of them, `salt_min` / `salt_max`), and every held-out (log-probabilities, true index,
    family) for the calibration."""
    runs, held_out = [], []
    for salt in FOLD_SALTS:
        folds = [zlib.crc32((group + salt).encode()) % FOLDS for *_, group in rows]
        per_family = defaultdict(list)
        for k in range(FOLDS):
            model = fit([r for r, f in zip(rows, folds, strict=True) if f != k], hidden, decay, members, bag=bag,
                        share=share)
            for (fam, index, ev, style, _), f in zip(rows, folds, strict=True):
                if f == k:
                    log_p = key_log_probabilities(ev, style, model)
                    held_out.append((log_p, index, fam))
                    per_family[fam].append(key_score(key_label(index), key_label(int(np.argmax(log_p)))))
        runs.append({fam: float(np.mean(v)) for fam, v in per_family.items()})
    out = {fam: float(np.mean([r[fam] for r in runs])) for fam in sorted(runs[0])}
    out["balanced"] = float(np.mean(list(out.values())))
    per_salt = [float(np.mean(list(r.values()))) for r in runs]
    out["salt_min"], out["salt_max"] = min(per_salt), max(per_salt)
    return out, held_out


def temperature(held_out: list) -> float:
    """The softmax temperature that makes the held-out probabilities honest (family-balanced likelihood): an
    ensemble fitted to the last item is surer of itself than it is right (1.30 on 2026-11-30; on the test split
    and unseen chorales the calibration error of the top key's probability fell 0.044 -> 0.024)."""
    from scipy.optimize import minimize_scalar

    log_p = np.stack([lp for lp, *_ in held_out])
    y = np.array([index for _, index, _ in held_out])
    w = family_weights([fam for *_, fam in held_out])

    def nll(t: float) -> float:
        return float(-(w * log_softmax(log_p / t, axis=1)[np.arange(len(y)), y]).sum())

    return float(minimize_scalar(nll, bounds=(0.5, 5.0), method="bounded").x)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "worker" / "music" / "key_model.npz")
    ap.add_argument("--cache", type=Path, default=ROOT / "bench" / "out" / "key_fit_evidence_v3.npz")
    ap.add_argument("--members", type=int, default=5, help="fits (seeds) averaged in the ensemble")
    ap.add_argument("--bag", action="store_true", help="each member on a grouped bootstrap resample (bag_weights)")
    ap.add_argument("--bag-share", type=float, default=None,
                    help="with --bag: this share of each family's fold groups, drawn without replacement")
    ap.add_argument("--sonata", action="store_true", help="add the classical-style openings (bench/sonata_family.py)")
    ap.add_argument("--more-chorales", action="store_true",
                    help="add the chorales of bench/chorale_fit_corpus.py (pieces no test or check uses)")
    args = ap.parse_args(argv)
    folders, suffix = (CORPUS, TESTSET), ""
    if args.sonata:
        folders, suffix = (*folders, SONATAS), suffix + "_sonata"
    if args.more_chorales:
        folders, suffix = (*folders, MORE_CHORALES), suffix + "_chorales"
    rows = evidence_rows(args.cache.with_name(args.cache.stem + suffix + ".npz"), folders)
    print(f"{len(rows)} fit items")
    best = None
    for hidden, decay in GRID:
        s, held_out = cv(rows, hidden, decay, args.members, bag=args.bag, share=args.bag_share)
        print(f"hidden {hidden} decay {decay:g}: " + " ".join(f"{k} {v:.3f}" for k, v in s.items()), flush=True)
        if best is None or s["balanced"] > best[0]:
            best = (s["balanced"], hidden, decay, held_out)
    t = temperature(best[3])
    model = fit(rows, best[1], best[2], args.members, bag=args.bag, share=args.bag_share)
    np.savez(args.out, **model, temperature=np.array([t]), hidden=np.array([best[1]]), decay=np.array([best[2]]))
    print(f"wrote {args.out} (hidden {best[1]}, decay {best[2]:g}, {args.members} members{' bagged' * args.bag},"
          f" temperature {t:.2f})")


if __name__ == "__main__":
    main()
