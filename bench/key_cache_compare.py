"""The global key of two checkouts on the same cached features, per family and split, in seconds.

Reads bench/music_cache.py's features (the chroma, bass, energy and frame times the key stage read) and runs each
checkout's key stage on them as worker/music/pipeline.py does (estimate_key, then the key timeline's
reconcile_with_changes on pieces of KEY_CHANGES_MIN_SECONDS and more), so a key rule can be weighed on the test set
or a bench family without re-analysing the audio. On the MMA fit family it gives bench/pitch_accuracy.py's key
column per family to the third decimal (main's code, 2026-12-07: 4/4 0.730, 3/4 0.830, 6/8 0.893, 12/8 0.857).
Both read the one cache, made by one checkout: a change to the features the key stage reads is not seen here
(score it with bench/pitch_accuracy.py). Each checkout runs in its own process (its own worker.music);
the items' labels and the scoring are this checkout's.

Usage: python bench/key_cache_compare.py --old /path/to/main --new . [--items bench/out/pitch_testset]
                                         [--cache bench/out/music_cache] [--split test] [-v]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# run inside the checkout's own interpreter process: prints {name: key label} as JSON
READ_KEYS = r"""
import json, sys
from pathlib import Path
import numpy as np
sys.path.insert(0, sys.argv[1])
from worker.music.key import estimate_key
from worker.music.key_timeline import key_timeline, reconcile_with_changes
from worker.music.pipeline import KEY_CHANGES_MIN_SECONDS
out = {}
for path in sorted(Path(sys.argv[2]).glob("*.npz")):
    with np.load(path) as f:
        d = {k: f[k] for k in f.files}
    key = estimate_key(d["chroma"], harmonic_ratio=float(d["harmonic_ratio"]), bass=d["bass"], energy=d["energy"],
                       frame_times=d["times"])
    if key["index"] is not None:
        key["changes"], start, end = key_timeline(d["chroma"], d["times"], key["index"], duration=float(d["duration"]),
                                                  min_seconds=KEY_CHANGES_MIN_SECONDS)
        reconcile_with_changes(key, end, start=start)
    out[path.stem] = key["label"]
print(json.dumps(out))
"""


def read_keys(code: Path, cache: Path) -> dict[str, str]:
    """{item name: the key label checkout `code` reports} for every cached item."""
    done = subprocess.run([sys.executable, "-c", READ_KEYS, str(code.resolve()), str(cache.resolve())], check=True,
                          capture_output=True, text=True, cwd=str(code.resolve()))
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> None:
    from bench.music_cache import CACHE, TESTSET, items
    from bench.music_scores import key_score

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", type=Path, required=True, help="checkout whose worker.music is the baseline")
    ap.add_argument("--new", type=Path, default=ROOT)
    ap.add_argument("--items", type=Path, default=TESTSET)
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--split", default="all", choices=["train", "test", "all"])
    ap.add_argument("--verbose", "-v", action="store_true", help="list every item whose key differs")
    args = ap.parse_args(argv)
    truths = {m["name"]: m for m in items(args.items) if m.get("key")}
    old, new = read_keys(args.old, args.cache), read_keys(args.new, args.cache)
    per: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for name in sorted(set(old) & set(new) & set(truths)):
        t = truths[name]
        if args.split != "all" and t["split"] != args.split:
            continue
        a, b = key_score(t["key"], old[name]), key_score(t["key"], new[name])
        per[(t["split"], t["family"])].append((a, b))
        if args.verbose and old[name] != new[name]:
            print(f"  {name} ({t['split']}) {t['key']}: {old[name]} {a:.1f} -> {new[name]} {b:.1f}")
    for split in ("train", "test"):
        means = []
        for (s, fam), scores in sorted(per.items()):
            if s != split:
                continue
            v = np.array(scores)
            means.append(v.mean(axis=0))
            print(f"{split:5s} {fam:8s} n={len(v):3d} key old {v[:, 0].mean():.3f} new {v[:, 1].mean():.3f}")
        if means:
            m = np.mean(means, axis=0)
            print(f"{split:5s} {'families':8s} (mean of the families) key old {m[0]:.3f} new {m[1]:.3f}")


if __name__ == "__main__":
    main()
