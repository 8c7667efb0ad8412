"""More chorales for the key fit: Bach chorales that no test-set item, no training-corpus item and none of
bench/chorale_check.py's unseen chorales use, rendered like the training corpus's (bench/testset_families.py
`build_chorale_corpus`: one GM instrument, a seen soundfont, random keys and tempi, two variants each).

Why: the key model's chorale family had 40 source scores (the test set's train split, re-rendered), so the
hidden units that weigh a chorale's opening, ending and cadences learned from few pieces. These add pieces, not
more renders of the same ones; bench/key_fit.py `--more-chorales` reads them (each family still counts the same).

Only BWV scores: the corpus's Riemenschneider analyses are block-chord versions of BWV chorales, possibly of
a test piece. Held out by construction: chorale_check.py takes the first `CHECK_ITEMS` labelled chorales of the unused
sources in sorted order; this takes only sources after them, so the check's set is the one it always was
(chorale_check also leaves this folder's sources out).

Usage: python bench/chorale_fit_corpus.py [--out bench/out/music_train_chorales] [--variants 2]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.chorale_check import RENDERED, unused_chorales  # noqa: E402
from bench.chorale_check import SEED as CHECK_SEED  # noqa: E402
from bench.chorale_family import make_chorale  # noqa: E402
from bench.music_render import render_mix, write_audio  # noqa: E402
from bench.testset_families import TRAIN_SEED, _pick_sound  # noqa: E402

FOLDER = "music_train_chorales"
CHECK_ITEMS = 120  # chorale_check.py's default --n: the sources it renders stay out of every fit
SEED = TRAIN_SEED + 80000  # far from the test set (5000+), the training corpus (+70000) and the check (9500+)


def reserved_and_free() -> tuple[list[Path], list[Path]]:
    """(the sources chorale_check.py renders, the unused sources after them), as chorale_check picks them."""
    sources = unused_chorales(RENDERED[:2])  # as the check picks them (this folder's own sources not left out)
    reserved: list[Path] = []
    for i, path in enumerate(sources):
        if len(reserved) >= CHECK_ITEMS:
            return reserved, sources[i:]
        if make_chorale(path, i % 24, np.random.default_rng(CHECK_SEED + i)) is not None:
            reserved.append(path)
    return reserved, []


def build(out: Path, variants: int = 2) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    _, free = reserved_and_free()
    made, seen = [], set()
    for k, path in enumerate(free):  # k: the seed (the free list is the same on every run)
        if "choraleAnalyses" in path.parts or path.stem in seen:
            continue  # Riemenschneider's roman-numeral analyses: block-chord versions of BWV chorales the test may hold
        seen.add(path.stem)  # a score the corpus holds in two formats is one piece
        for v in range(variants):
            name = f"chorale_{path.stem}_{v}"
            meta = out / f"{name}.json"
            if meta.exists():
                made.append(json.loads(meta.read_text()))
                continue
            rng = np.random.default_rng(SEED + 10 * k + v)
            result = make_chorale(path, int(rng.integers(24)), rng, slow=bool(v % 2))
            if result is None:
                break  # no key from signature + final bass, or not in 3/4 or 4/4: no variant either
            pm, truth = result
            font, _ = _pick_sound(rng, allow_held_out=False)
            audio = write_audio(render_mix(pm, soundfont=font, engine="lib"), out / name, "flac")
            truth.update(name=name, audio=audio.name, soundfont=font, kit=None, split="train", family="corpus",
                         tuning_cents=0.0)
            meta.write_text(json.dumps(truth, indent=1))
            made.append(truth)
            print(f"{name}: {path.stem} {truth['key']} {truth['tempo_bpm']:.0f} BPM", flush=True)
    (out / "manifest.json").write_text(json.dumps(made, indent=1))
    return made


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / FOLDER)
    ap.add_argument("--variants", type=int, default=2)
    args = ap.parse_args(argv)
    made = build(args.out, args.variants)
    print(f"{len(made)} renders of {len({m['source'] for m in made})} chorales in {args.out}")


if __name__ == "__main__":
    main()
