"""Library index and query latency at 10,000 synthetic tracks, and embedding throughput.

    python3 -m bench.library [--tracks 10000] [--database-url postgresql://...]

Each synthetic track has features/pitch results (random descriptors, keys, tempos), 12 transcript lines made
of a word pool and 4 embedded passages; vectors are random unit vectors (the embedder's own speed is measured
separately, on real text). Prints medians and p99 of each query kind over 100 queries.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from library.camelot import camelot_code
from library.extract import Line, Passage, TrackDoc
from library.search import semantic_hits
from library.service import Library
from library.store import TrackFilter

WORDS = ("river road night rain falling town walking light dance money heart fire city dream love gone "
         "home summer cold train window morning song blue highway ocean broken").split()
KEYS = [("C", "major"), ("A", "minor"), ("G", "major"), ("E", "minor"), ("D", "major"), ("F#", "minor")]


def synthetic(i: int, rng: np.random.Generator, owner: str) -> TrackDoc:
    tonic, mode = KEYS[i % len(KEYS)]
    doc = TrackDoc(owner=owner, session_id=f"s{i // 100:04d}", filename=f"track{i:05d}.wav")
    doc.fields = {"duration_seconds": float(rng.uniform(60, 400)), "key_label": f"{tonic} {mode}", "key_mode": mode,
                  "camelot": None, "tempo_bpm": float(rng.uniform(60, 180)), "metre": "4/4",
                  "loudness_lufs": float(rng.uniform(-30, -6)), "has_vocals": bool(i % 3)}
    doc.fields["camelot"] = camelot_code(tonic=tonic, mode=mode)
    doc.descriptors = {f"mfcc_mean_{k}": float(rng.normal()) for k in range(13)} | {
        "spectral_centroid_hz": float(rng.uniform(500, 4000)), "log2_tempo": float(np.log2(doc.fields["tempo_bpm"]))}
    doc.lines = [Line(" ".join(rng.choice(WORDS, 7)), 3.0 * k, 3.0 * k + 3, []) for k in range(12)]
    doc.passages = [Passage("transcript", "t.json", " ".join(line.text for line in doc.lines[k:k + 3]), 3.0 * k)
                    for k in range(0, 12, 3)]
    doc.sources = ["features.json"]
    return doc


def percentiles(samples: list[float]) -> str:
    a = np.array(samples) * 1000
    return f"p50 {np.median(a):7.2f} ms   p99 {np.percentile(a, 99):7.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the embedder (TORCH_NUM_THREADS)")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="library-bench-"))
    settings = {"DATA_DIR": str(data), "DATABASE_URL": args.database_url, "TORCH_NUM_THREADS": args.threads}
    lib = Library(settings)
    rng = np.random.default_rng(0)
    owner = f"bench{int(time.time())}"

    def random_embed(texts: list[str]) -> np.ndarray:
        v = rng.normal(size=(len(texts), 384)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    t0 = time.perf_counter()
    for i in range(args.tracks):
        lib.store.upsert(synthetic(i, rng, owner), embed=random_embed, model=lib.model)
    index_s = time.perf_counter() - t0
    print(f"backend {lib.describe()['backend']}: indexed {args.tracks} tracks (12 lines, 4 passages each) in "
          f"{index_s:.1f} s = {1000 * index_s / args.tracks:.2f} ms/track (random vectors)")

    t0 = time.perf_counter()
    lib.cache.passages(owner)
    lib.cache.descriptors(owner)
    print(f"first vector load (cold cache): {1000 * (time.perf_counter() - t0):.0f} ms")
    query_vectors = random_embed(["q"] * args.queries)
    ids = [t for t, _, _ in lib.store.session_tracks(owner=owner)]
    kinds = {
        "lyrics phrase": lambda k: lib.search(owner=owner, query=" ".join(rng.choice(WORDS, 2)), mode="lyrics",
                                              limit=10),
        "lyrics fuzzy": lambda k: lib.search(owner=owner, query="rivr raod nigth", mode="lyrics", limit=10),
        "semantic (vector part)": lambda k: semantic_hits(lib.cache, owner=owner, query_vector=query_vectors[k],
                                                          limit=10),
        "filters key+tempo": lambda k: lib.list_tracks(owner=owner, where=TrackFilter(
            camelot=("8A", "8B", "9A", "7A"), tempo_min=110, tempo_max=130), after=None, limit=50),
        "similar": lambda k: lib.similar(owner=owner, track_id=ids[k % len(ids)], limit=10, mix=False),
        "similar mix=1": lambda k: lib.similar(owner=owner, track_id=ids[k % len(ids)], limit=10, mix=True),
    }
    for name, run in kinds.items():
        times = []
        for k in range(args.queries):
            t = time.perf_counter()
            run(k)
            times.append(time.perf_counter() - t)
        print(f"{name:24s} {percentiles(times)}")

    from library.embedding import embedder

    embed = embedder(settings)
    texts = [" ".join(rng.choice(WORDS, 20)) for _ in range(256)]
    embed(texts[:8])  # warm
    t0 = time.perf_counter()
    embed(texts)
    s = time.perf_counter() - t0
    print(f"embedding (all-MiniLM-L6-v2, CPU): {len(texts) / s:.0f} passages/s (20 words each)")
    times = []
    for k in range(30):
        t = time.perf_counter()
        embed([texts[k]])
        times.append(time.perf_counter() - t)
    print(f"{'query embedding':24s} {percentiles(times)}")
    t = time.perf_counter()
    lib.search(owner=owner, query="walking by the river at night", mode="hybrid", limit=10)
    print(f"one hybrid search end to end: {1000 * (time.perf_counter() - t):.1f} ms")
    print(json.dumps(lib.describe()))


if __name__ == "__main__":
    main()
