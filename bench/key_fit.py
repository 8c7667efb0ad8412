"""Fit worker/music/keymodel.py's key model on fit data only (fixed folds, no randomness).

Fit data: the training corpus (bench/out/music_train: grooves, pop loops, modal vamps,
tempo changes, re-rendered train-split chorales; never a held-out soundfont, kit or style)
and the test set's *train* split. The test split is never read.

Chorales whose label (key signature + final bass note) disagrees with music21's analysis of the
whole score (`key_agrees`, bench/chorale_family.py: Phrygian endings, relative-key readings) are left out:
one of the two readings is wrong and the fit cannot tell which.

Model: multinomial logistic regression over the 24 keys with rotation-shared weights
(keymodel.py), L2-regularised, each family weighted equally. The regularisation is chosen by
grouped 5-fold cross-validation (family-balanced weighted key score), repeated over three fold
assignments: every render of one chorale, and every item of one soundfont + kit + style, sits in
one fold, so a held-out fold is music the fit never heard (index folds put the same chorale,
rendered three times, on both sides). The final weights are fitted on all fit data and written
to worker/music/key_model.npz.

Usage: python bench/key_fit.py [--out worker/music/key_model.npz]
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.music_scores import key_score  # noqa: E402
from worker.audio_io import load_audio  # noqa: E402
from worker.music import chroma as chroma_mod  # noqa: E402
from worker.music.key import PITCH_NAMES, key_label  # noqa: E402
from worker.music.keymodel import N_EVIDENCE, evidence, key_logits, rotated  # noqa: E402

TESTSET = ROOT / "bench" / "out" / "pitch_testset"
CORPUS = ROOT / "bench" / "out" / "music_train"
FOLDS = 5
FOLD_SALTS = ("", "a", "b")  # three assignments of groups to folds, averaged: one is noisy at ~40 groups
L2_GRID = (3e-4, 1e-3, 3e-3, 1e-2)
DIM = N_EVIDENCE * 12


def fold_group(m: dict) -> str:
    """What must stay on one side of a fold: a chorale's source score, else the sound and style."""
    if m["family"] == "corpus":
        return str(m["source"])
    return f"{m.get('soundfont')}/{m.get('kit')}/{m.get('style')}"


def evidence_rows(cache: Path) -> list[tuple[str, int, np.ndarray, str]]:
    """(family, true key index 0-23, (N_EVIDENCE, 12) evidence, fold group) per fit item, cached
    (key_fit_evidence_v2: the rows gained the fold group)."""
    if cache.exists():
        with np.load(cache, allow_pickle=True) as f:
            return [tuple(r) for r in f["rows"]]
    rows = []
    for folder in (CORPUS, TESTSET):
        for m in json.loads((folder / "manifest.json").read_text()):
            if m["split"] != "train" or m.get("key_agrees") is False:
                continue
            y, _ = load_audio(folder / m["audio"], sr=chroma_mod.SR, mono=True)
            f = chroma_mod.harmonic_features(y / max(1e-9, float(np.abs(y).max())))
            tonic, mode = m["key"].split()
            index = PITCH_NAMES.index(tonic) + (12 if mode == "minor" else 0)
            rows.append((m["family"], index, evidence(f.chroma, f.bass, f.energy, f.times), fold_group(m)))
    arr = np.empty(len(rows), dtype=object)
    arr[:] = rows
    np.savez(cache, rows=arr)
    return rows


def _unpack(theta: np.ndarray) -> dict[str, np.ndarray]:
    return {"w": theta[: 2 * DIM].reshape(2, DIM), "b": np.array([0.0, theta[-1]])}


def fit(rows, l2: float) -> dict[str, np.ndarray]:
    """Family-balanced, L2-regularised maximum likelihood (L-BFGS)."""
    from scipy.optimize import minimize

    count = defaultdict(int)
    for fam, *_ in rows:
        count[fam] += 1
    weight = np.array([1.0 / count[fam] for fam, *_ in rows])
    weight /= weight.sum()
    xs = np.stack([rotated(r[2]) for r in rows])  # (N, 12, DIM)
    y = np.array([r[1] for r in rows])

    def loss(theta):
        w = theta[: 2 * DIM].reshape(2, DIM)
        z = np.concatenate([xs @ w[0], xs @ w[1] + theta[-1]], axis=1)  # (N, 24)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        nll = -np.sum(weight * np.log(p[np.arange(len(y)), y] + 1e-12))
        g = p * weight[:, None]
        g[np.arange(len(y)), y] -= weight
        grad_w = np.stack([np.einsum("nk,nkd->d", g[:, :12], xs), np.einsum("nk,nkd->d", g[:, 12:], xs)])
        grad = np.concatenate([grad_w.ravel() + 2 * l2 * theta[: 2 * DIM], [g[:, 12:].sum()]])
        return nll + l2 * float(np.sum(theta[: 2 * DIM] ** 2)), grad

    theta = minimize(loss, np.zeros(2 * DIM + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500}).x
    return _unpack(theta)


def cv(rows, l2: float) -> dict[str, float]:
    """Grouped cross-validation, the family means averaged over FOLD_SALTS' fold assignments."""
    runs = []
    for salt in FOLD_SALTS:
        folds = [zlib.crc32((group + salt).encode()) % FOLDS for *_, group in rows]
        per_family = defaultdict(list)
        for k in range(FOLDS):
            model = fit([r for r, f in zip(rows, folds, strict=True) if f != k], l2)
            for (fam, index, ev, _), f in zip(rows, folds, strict=True):
                if f == k:
                    pred = int(np.argmax(key_logits(ev, model)))
                    per_family[fam].append(key_score(key_label(index), key_label(pred)))
        runs.append({fam: float(np.mean(v)) for fam, v in per_family.items()})
    out = {fam: float(np.mean([r[fam] for r in runs])) for fam in sorted(runs[0])}
    out["balanced"] = float(np.mean(list(out.values())))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "worker" / "music" / "key_model.npz")
    ap.add_argument("--cache", type=Path, default=ROOT / "bench" / "out" / "key_fit_evidence_v2.npz")
    args = ap.parse_args(argv)
    rows = evidence_rows(args.cache)
    print(f"{len(rows)} fit items")
    best = None
    for l2 in L2_GRID:
        s = cv(rows, l2)
        print(f"l2 {l2:g}: " + " ".join(f"{k} {v:.3f}" for k, v in s.items()), flush=True)
        if best is None or s["balanced"] > best[0]:
            best = (s["balanced"], l2)
    model = fit(rows, best[1])
    np.savez(args.out, w=model["w"], b=model["b"], l2=np.array([best[1]]))
    print(f"wrote {args.out} (l2 {best[1]:g})")


if __name__ == "__main__":
    main()
