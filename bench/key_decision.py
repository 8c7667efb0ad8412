"""Which key to report from the key model's 24 probabilities: the most probable, or the one whose expected
MIREX credit is highest (a Bayes decision under the weighted score the targets use).

The weighted score gives 0.5 for a fifth, 0.3 for the relative and 0.2 for the parallel key, so where the model is
torn between neighbours the key between them can be worth more on average than the single most probable one
(A minor 0.40, C major 0.35, G major 0.25: A minor's expected credit 0.505, C major's 0.595). The rule has no
parameter; it is only as good as the probabilities are honest (keymodel's temperature, fitted on held-out folds).

Fit data first (bench/key_fit.py's grouped cross-validation, its held-out probabilities after the temperature
fitted on them), then with `--split test` the shipped model on the test split (nothing fitted there), both per
family, both decisions side by side.

Result (2026-12-06, not shipped; docs/music_accuracy.md): cross-validation families 0.950 most probable against 0.949
expected credit (chorales 0.968 -> 0.958); test split 2 of 369 readings changed, overall 0.949 -> 0.948.

Usage: python bench/key_decision.py [--split fit|test] [--families corpus,...] [-v]
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

from bench.key_fit import CORPUS, GRID, TESTSET, cv, evidence_rows, temperature  # noqa: E402
from bench.music_scores import key_score  # noqa: E402
from worker.audio_io import load_audio  # noqa: E402
from worker.music import chroma as chroma_mod  # noqa: E402
from worker.music.key import PITCH_NAMES, key_label  # noqa: E402
from worker.music.keymodel import evidence, key_log_probabilities, load_weights, log_softmax  # noqa: E402

# credit[r, e]: the weighted score of estimate e where the key is r
CREDIT = np.array([[key_score(key_label(r), key_label(e)) for e in range(24)] for r in range(24)])


def expected_credit_key(p: np.ndarray) -> int:
    """The key index whose expected weighted score under the probabilities p (24,) is highest."""
    return int(np.argmax(p @ CREDIT))


def report(rows: list[tuple[str, int, np.ndarray, str]], verbose: bool) -> None:
    """rows: (family, true index, probabilities (24,), name); per family mean score of both decisions."""
    per: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for fam, y, p, name in rows:
        top, best = int(np.argmax(p)), expected_credit_key(p)
        a, b = key_score(key_label(y), key_label(top)), key_score(key_label(y), key_label(best))
        per[fam].append((a, b))
        if verbose and top != best:
            print(f"  {name}: true {key_label(y)}; most probable {key_label(top)} ({p[top]:.2f}) {a:.1f}, "
                  f"expected credit {key_label(best)} ({p[best]:.2f}) {b:.1f}")
    means = {fam: np.mean(v, axis=0) for fam, v in sorted(per.items())}
    for fam, (a, b) in means.items():
        changed = sum(1 for x, y in per[fam] if x != y)
        print(f"{fam:>10} ({len(per[fam]):3d}): most probable {a:.3f}  expected credit {b:.3f}  ({changed} changed)")
    a, b = np.mean([m[0] for m in means.values()]), np.mean([m[1] for m in means.values()])
    print(f"{'families':>10}: most probable {a:.3f}  expected credit {b:.3f}")


def fit_rows(members: int) -> list[tuple[str, int, np.ndarray, str]]:
    rows = evidence_rows(ROOT / "bench" / "out" / "key_fit_evidence_v3.npz", (CORPUS, TESTSET))
    weights = load_weights()
    hidden, decay = (int(weights["hidden"][0]), float(weights["decay"][0])) if weights else GRID[0]
    _, held_out = cv(rows, hidden, decay, members)
    t = temperature(held_out)
    print(f"{len(held_out)} held-out readings (3 fold assignments), temperature {t:.2f}")
    out = []
    for log_p, index, fam in held_out:
        z = log_softmax(log_p / t)
        out.append((fam, index, np.exp(z), ""))
    return out


def test_rows(families: list[str] | None) -> list[tuple[str, int, np.ndarray, str]]:
    weights = load_weights()
    out = []
    for m in json.loads((TESTSET / "manifest.json").read_text()):
        if m["split"] != "test" or (families and m["family"] not in families) or not m.get("key"):
            continue
        y, _ = load_audio(TESTSET / m["audio"], sr=chroma_mod.SR, mono=True)
        f = chroma_mod.harmonic_features(y / max(1e-9, float(np.abs(y).max())))
        z = key_log_probabilities(*evidence(f.chroma, f.bass, f.energy, f.times), weights)
        tonic, mode = m["key"].split()
        out.append((m["family"], PITCH_NAMES.index(tonic) + (12 if mode == "minor" else 0), np.exp(z), m["name"]))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("fit", "test"), default="fit")
    ap.add_argument("--families", help="comma-separated (test split)")
    ap.add_argument("--members", type=int, default=5)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.split == "fit":
        report(fit_rows(args.members), args.verbose)
    else:
        report(test_rows(args.families.split(",") if args.families else None), args.verbose)


if __name__ == "__main__":
    main()
