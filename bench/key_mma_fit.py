"""The key model refitted with MMA's accompaniment as one more fit family, scored on charts it never heard.

worker/music/key_model.npz learned keys from the training corpus and the test set's train split
(bench/key_fit.py). MMA's grooves (bench/mma_family.py) put pop, jazz, minor and blues loops entered at any chord
under another hand's voicings; its held-out family's key is 0.884 against the 0.92 target. This script fits the
key model with the shipped width, weight decay and temperature on the same fit data plus the MMA fit family
(seed 993000) as one family, and scores the key model's own reading (the argmax of its probabilities over the
whole item; the pipeline's key stage adds the key timeline, so bench/pitch_accuracy.py gives the final figure) on:
- the test split (369 items, chorales among them), shipped weights against a refit on the old fit data alone and
  the refits with MMA;
- the held-out MMA family (seed 991000) by style-file folds (bench/chord_mma_fit.py's halves): every held-out chart
  read by a model that never heard its style file, and by the model fitted on every fit chart (marked: it heard them).

Usage: python bench/key_mma_fit.py [--members 5] [--out key_model_mma.npz]
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

from bench import key_fit as kf  # noqa: E402
from bench.chord_mma_fit import halves  # noqa: E402
from bench.mma_family import DEFAULT_MMA, styles  # noqa: E402
from bench.music_scores import key_score  # noqa: E402
from worker.audio_io import load_audio  # noqa: E402
from worker.music import chroma as chroma_mod  # noqa: E402
from worker.music.key import PITCH_NAMES, key_label  # noqa: E402
from worker.music.keymodel import WEIGHTS, evidence, key_log_probabilities, load_weights  # noqa: E402

OUT = ROOT / "bench" / "out"


def rows_of(folder: Path, cache: Path, *, split: str | None, groove_file: dict[str, str] | None = None) -> list[dict]:
    """Per item of `folder` (of `split`, None: all): family, true key index, evidence rows, style numbers and the
    MMA style file where `groove_file` maps its groove; cached in `cache`."""
    if cache.exists():
        with np.load(cache, allow_pickle=True) as f:
            return list(f["rows"])
    rows = []
    for m in json.loads((folder / "manifest.json").read_text()):
        if split not in (None, m["split"]):
            continue
        y, _ = load_audio(folder / m["audio"], sr=chroma_mod.SR, mono=True)
        f = chroma_mod.harmonic_features(y / max(1e-9, float(np.abs(y).max())))
        ev, style = evidence(f.chroma, f.bass, f.energy, f.times)
        tonic, mode = m["key"].split()
        index = PITCH_NAMES.index(tonic) + 12 * (mode == "minor")
        rows.append({"name": m["name"], "family": m["family"], "index": index,
                     "ev": ev, "style": style, "key_agrees": m.get("key_agrees"),
                     "style_file": (groove_file or {}).get(m.get("style", ""), m.get("style", ""))})
    arr = np.empty(len(rows), dtype=object)
    arr[:] = rows
    np.savez(cache, rows=arr)
    return rows


def as_fit_rows(rows: list[dict], family: str | None = None) -> list[tuple]:
    """bench/key_fit.py's row tuples (family, index, evidence, style, fold group)."""
    return [(family or r["family"], r["index"], r["ev"], r["style"], r["style_file"]) for r in rows]


def scores(rows: list[dict], model: dict) -> dict[str, float]:
    per: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        guess = int(np.argmax(key_log_probabilities(r["ev"], r["style"], model)))
        per[r["family"]].append(key_score(key_label(r["index"]), key_label(guess)))
    out = {f: float(np.mean(v)) for f, v in sorted(per.items())}
    out["mean"] = float(np.mean(list(out.values())))
    return out


def show(title: str, s: dict[str, float]) -> None:
    print(f"  {title:36s} " + " ".join(f"{k} {v:.3f}" for k, v in s.items()), flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=5)
    ap.add_argument("--mma", type=Path, default=DEFAULT_MMA)
    ap.add_argument("--cache", type=Path, default=OUT / "key_mma_cache", help="a folder for the evidence caches")
    ap.add_argument("--out", type=Path, default=None, help="write the model fitted on every MMA fit chart here")
    args = ap.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    groove_file = {f"{s.file.parent.name}/{s.groove}": f"{s.file.parent.name}/{s.file.stem}" for s in styles(args.mma)}
    old = kf.evidence_rows(args.cache / "fit_evidence.npz")
    test = rows_of(kf.TESTSET, args.cache / "test_split.npz", split="test")
    mma_fit = rows_of(OUT / "mma_fit", args.cache / "mma_fit.npz", split=None, groove_file=groove_file)
    held = rows_of(OUT / "mma_family", args.cache / "mma_held.npz", split=None, groove_file=groove_file)
    shipped = load_weights(WEIGHTS)
    assert shipped is not None
    hidden, decay = int(shipped["hidden"][0]), float(shipped["decay"][0])
    print(f"fit data {len(old)} items + MMA fit {len(mma_fit)}; test split {len(test)}, held-out MMA {len(held)}; "
          f"hidden {hidden}, decay {decay:g}, temperature {float(shipped['temperature'][0]):.2f}", flush=True)

    def model(rows: list[tuple]) -> dict:
        m = kf.fit(rows, hidden, decay, args.members)
        m.update(temperature=shipped["temperature"], hidden=shipped["hidden"], decay=shipped["decay"])
        return m

    refit = model(old)
    every = model(old + as_fit_rows(mma_fit, "mma"))
    half_a, half_b = halves(mma_fit + held)
    by_half = {n: model(old + as_fit_rows([r for r in mma_fit if r["style_file"] in h], "mma"))
               for n, h in (("a", half_a), ("b", half_b))}
    agreed = [r for r in test if r["key_agrees"] is not False]
    for title, rows in (("test split", test), ("test split, disputed chorale labels out", agreed)):
        print(f"{title}, the key model's reading (weighted score):")
        for name, m in (("shipped", shipped), ("refit, old fit data", refit), ("+ MMA styles A", by_half["a"]),
                        ("+ MMA styles B", by_half["b"]), ("+ every MMA fit chart", every)):
            show(name, scores(rows, m))
    print("held-out MMA family:")
    show("shipped", scores(held, shipped))
    show("refit, old fit data", scores(held, refit))
    per: dict[str, list[float]] = defaultdict(list)
    for r in held:
        m = by_half["b"] if r["style_file"] in half_a else by_half["a"]
        guess = int(np.argmax(key_log_probabilities(r["ev"], r["style"], m)))
        per[r["family"]].append(key_score(key_label(r["index"]), key_label(guess)))
    fam = {f: float(np.mean(v)) for f, v in sorted(per.items())}
    show("+ MMA, other styles (folds)", {**fam, "mean": float(np.mean(list(fam.values())))})
    show("+ every MMA fit chart (heard)", scores(held, every))
    if args.out:
        np.savez(args.out, **every)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
