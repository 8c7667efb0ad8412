"""Bagged against seed-only key ensembles by bench/key_fit.py's grouped cross-validation (fit data only).

bench/key_fit.py's members differ only in their seed; `--bag` fits each on a grouped bootstrap resample of the fit
data (key_fit.bag_weights). This runs key_fit's cross-validation (5 grouped folds, the three fold assignments of
FOLD_SALTS) for one kind of ensemble at one width and decay, fitting `--members` N members (seeds 0..N-1) per held-out
fold, and reads the held-out items with three ensembles of them: the first half of the seeds ("A"), the second half
("B") and all N. Per ensemble it prints the family means averaged over the fold assignments, the balanced score and
its lowest and highest single assignment; then the share of held-out readings where A and B name different keys (how
much an ensemble of N/2 depends on which seeds or resamples it drew) and the temperature of all N's held-out
readings. With `--out` it fits the N-member ensemble on all fit data and writes it with that temperature.
The test split is never read.

Usage: python bench/key_bag.py (--seed-only | --bag [--share 0.8]) [--members 10] [--hidden 8 --decay 1e-3] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import key_fit as kf  # noqa: E402
from bench.music_scores import key_score  # noqa: E402
from worker.music.key import key_label  # noqa: E402
from worker.music.keymodel import key_log_probabilities, log_softmax  # noqa: E402


def member_log_p(rows, hidden: int, decay: float, members: int, bag: bool, share: float | None
                 ) -> list[np.ndarray]:
    """Per fold assignment, (items, members, 24): every member's log-probabilities of each item when held out."""
    out = []
    for salt in kf.FOLD_SALTS:
        folds = np.array([zlib.crc32((group + salt).encode()) % kf.FOLDS for *_, group in rows])
        log_p = np.zeros((len(rows), members, 24))
        for k in range(kf.FOLDS):
            model = kf.fit([r for r, f in zip(rows, folds, strict=True) if f != k], hidden, decay, members, bag=bag,
                           share=share)
            for i in np.flatnonzero(folds == k):
                _, _, ev, style, _ = rows[i]
                for s in range(members):
                    log_p[i, s] = key_log_probabilities(ev, style, {key: v[s:s + 1] for key, v in model.items()})
        out.append(log_p)
        print(f"  fold assignment {salt!r} done", flush=True)
    return out


def family_scores(rows, keys: np.ndarray) -> dict[str, float]:
    """Per family mean weighted key and their mean ("balanced")."""
    per: dict[str, list[float]] = defaultdict(list)
    for (fam, index, *_), k in zip(rows, keys, strict=True):
        per[fam].append(key_score(key_label(index), key_label(int(k))))
    out = {fam: float(np.mean(v)) for fam, v in sorted(per.items())}
    out["balanced"] = float(np.mean(list(out.values())))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    kind = ap.add_mutually_exclusive_group(required=True)
    kind.add_argument("--bag", action="store_true")
    kind.add_argument("--seed-only", action="store_true")
    ap.add_argument("--cache", type=Path, default=ROOT / "bench" / "out" / "key_fit_evidence_v3.npz")
    ap.add_argument("--share", type=float, default=None, help="with --bag: key_fit's --bag-share")
    ap.add_argument("--members", type=int, default=10, help="N: ensembles of seeds 0..N/2-1, N/2..N-1 and all N")
    ap.add_argument("--hidden", type=int, default=8)
    ap.add_argument("--decay", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per fit (two runs side by side: 1)")
    ap.add_argument("--out", type=Path, default=None, help="fit the N members on all fit data, write the weights here")
    args = ap.parse_args(argv)
    kf.THREADS = args.threads
    rows = kf.evidence_rows(args.cache)
    name = ("bag" if args.share is None else f"bag{args.share:g}") if args.bag else "seed"
    n, half = args.members, args.members // 2
    print(f"{len(rows)} fit items; {name}, {n} members, hidden {args.hidden}, decay {args.decay:g}", flush=True)
    runs = member_log_p(rows, args.hidden, args.decay, n, args.bag, args.share)
    keys: dict[str, list[np.ndarray]] = {}
    for label, (lo, hi) in {f"0-{half - 1}": (0, half), f"{half}-{n - 1}": (half, n), f"0-{n - 1}": (0, n)}.items():
        keys[label] = [np.argmax(r[:, lo:hi].mean(axis=1), axis=1) for r in runs]
        per_salt = [family_scores(rows, k) for k in keys[label]]
        mean = {f: float(np.mean([s[f] for s in per_salt])) for f in per_salt[0]}
        bal = [s["balanced"] for s in per_salt]
        print(f"{name} seeds {label}: balanced {mean['balanced']:.4f} (assignments {min(bal):.4f}-{max(bal):.4f}) "
              + " ".join(f"{f} {v:.4f}" for f, v in mean.items() if f != "balanced"), flush=True)
    a, b = list(keys.values())[:2]
    differ = float(np.mean([np.mean(x != y) for x, y in zip(a, b, strict=True)]))
    print(f"{name}: the two halves' ensembles name different keys on {differ:.4f} of held-out readings", flush=True)
    held_out = [(log_softmax(r[i].mean(axis=0)), rows[i][1], rows[i][0]) for r in runs for i in range(len(rows))]
    t = kf.temperature(held_out)
    print(f"{name}: temperature {t:.2f} (all {n})", flush=True)
    if args.out is not None:
        model = kf.fit(rows, args.hidden, args.decay, n, bag=args.bag, share=args.share)
        np.savez(args.out, **model, temperature=np.array([t]), hidden=np.array([args.hidden]),
                 decay=np.array([args.decay]))
        print(f"wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
