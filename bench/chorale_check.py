"""A check on chorales nobody here rendered before: Bach chorales that neither the test set nor the training
corpus holds, rendered like the test set's (bench/chorale_family.py: one GM instrument, a random tempo, all 24
keys) with seeds no other script uses, then analysed by the full pipeline and scored per item.

Nothing was fitted on them or chosen by looking at them, so the figures say how the rhythm and key analysis
carry to new material of this family; `--set` compares a decoder constant on the same renders, e.g.
`--set beats.PARITY_WEIGHT=0.0` (a name in a worker.music module, a Python literal).

Needs the rendered test set and training corpus (bench/pitch_testset.py --train-corpus 100): the chorales they
hold are left out.

Usage: python bench/chorale_check.py [--n 120] [--seconds 36] [--set beats.NAME=VALUE ...] [-v] [--out DIR]
       (--out bench/out/chorale_check: render only, for bench/music_cache.py --testset DIR --cache DIR)
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import music_scores as acc  # noqa: E402
from bench.chorale_family import MAX_SECONDS, make_chorale  # noqa: E402
from bench.music_render import RENDER_SR, render_mix  # noqa: E402

# the test set, the training corpus, and the key fit's extra chorales (bench/chorale_fit_corpus.py: sources
# after the ones this check renders, so leaving them out changes nothing here when they exist)
RENDERED = (ROOT / "bench" / "out" / "pitch_testset", ROOT / "bench" / "out" / "music_train",
            ROOT / "bench" / "out" / "music_train_chorales")
SEED = 9500  # item i renders with default_rng(SEED + i); bench/pitch_testset.py uses 5000+ and 7
METRICS = ("key", "acc1", "acc2", "beat_f", "down_f", "metre")


def unused_chorales(folders: tuple[Path, ...] = RENDERED) -> list[Path]:
    """The corpus's chorales whose source no rendered item of `folders` uses, in a fixed order."""
    from music21 import corpus

    used = set()
    for folder in folders:
        used |= {json.loads(p.read_text()).get("source") for p in folder.glob("chorale_*.json")}
    if not used:
        sys.exit("render the test set first: python bench/pitch_testset.py --train-corpus 100")
    return [p for p in sorted(corpus.getComposer("bach"), key=str) if p.stem not in used]


def score_item(pm, truth: dict) -> dict[str, float]:
    from worker.music.options import PitchOptions
    from worker.music.pipeline import analyze_music

    y = render_mix(pm)
    res = analyze_music(y, RENDER_SR, options=PitchOptions(include=("key", "tempo", "beats")))
    a1, a2 = acc.tempo_scores(truth["tempo_bpm"], res["tempo_bpm"])
    return {
        "key": acc.key_score(truth["key"], res["key"]["label"]),
        "acc1": a1, "acc2": a2,
        "beat_f": acc.beat_f(truth["beats"], res["beat_times"]),
        "down_f": acc.beat_f(truth["downbeats"], res["downbeat_times"]),
        "metre": float(acc.metre_class(res["time_signature"]) == acc.metre_class(truth["time_signature"])),
        "opening_warned": float(bool(res["key"].get("opening"))),
    }


def render_item(pm, truth: dict, out: Path, name: str, source: str) -> dict:
    """Write one check item (its render, as score_item hears it, and its truth) for the feature cache."""
    from bench.music_render import write_audio

    out.mkdir(parents=True, exist_ok=True)
    if not (out / f"{name}.json").exists():
        audio = write_audio(render_mix(pm), out / name, "flac")
        truth = {**truth, "name": name, "audio": audio.name, "source": source, "split": "test", "family": "corpus"}
        (out / f"{name}.json").write_text(json.dumps(truth, indent=1))
    return truth


def check_arguments(doc: str, argv: list[str] | None, *, n: int) -> argparse.Namespace:
    """The arguments every check script takes (--n items, --set MODULE.NAME=VALUE ..., -v), with the settings
    already applied."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--n", type=int, default=n)
    ap.add_argument("--set", nargs="*", default=[], metavar="MODULE.NAME=VALUE")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    apply_settings(args.set)
    return args


def apply_settings(settings: list[str]) -> None:
    for item in settings:
        name, value = item.split("=", 1)
        module, attr = name.rsplit(".", 1)
        mod = importlib.import_module(f"worker.music.{module}")
        if not hasattr(mod, attr):
            sys.exit(f"worker.music.{module} has no {attr}")
        setattr(mod, attr, ast.literal_eval(value))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=120, help="chorales to render (fewer if the corpus runs out)")
    ap.add_argument("--seconds", type=float, default=MAX_SECONDS, help="seconds of each chorale")
    ap.add_argument("--set", nargs="*", default=[], metavar="MODULE.NAME=VALUE")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--out", type=Path, default=None,
                    help="only render the items into this folder (flac + .json, family corpus, split test) for "
                         "bench/music_cache.py --testset, and score nothing")
    args = ap.parse_args(argv)
    apply_settings(args.set)
    rows, agreed, t0 = [], [], time.perf_counter()
    for i, path in enumerate(unused_chorales()):
        if len(rows) >= args.n:
            break
        made = make_chorale(path, i % 24, np.random.default_rng(SEED + i), max_seconds=args.seconds)
        if made is None:  # no key from signature + final bass, or not in 3/4 or 4/4
            continue
        pm, truth = made
        if args.out is not None:
            rows.append(render_item(pm, truth, args.out, f"check_{len(rows):03d}", path.stem))
            continue
        row = score_item(pm, truth)
        rows.append(row)
        if truth["key_agrees"]:
            agreed.append(row["key"])
        if args.verbose:
            print(f"{path.stem:14s} {truth['key']:9s} {truth['tempo_bpm']:5.1f} BPM {truth['time_signature']}/4 "
                  + " ".join(f"{m} {row[m]:.2f}" for m in METRICS), flush=True)
    if args.out is not None:
        print(f"{len(rows)} unseen chorales rendered into {args.out}")
        return
    print(f"{len(rows)} unseen chorales of {args.seconds:.0f} s ({time.perf_counter() - t0:.0f} s) "
          + (f"with {' '.join(args.set)}" if args.set else "as shipped"))
    print("  " + "  ".join(f"{m} {np.mean([r[m] for r in rows]):.3f}" for m in METRICS)
          + f"  key where label = score analysis {np.mean(agreed):.3f} (n {len(agreed)})")
    for warned, name in ((1.0, "the opening warning fired"), (0.0, "no opening warning")):
        keys = [r["key"] for r in rows if r["opening_warned"] == warned]
        if keys:
            print(f"  key where {name}: {np.mean(keys):.3f} (n {len(keys)})")


if __name__ == "__main__":
    main()
