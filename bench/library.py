"""Library index and query latency at 10,000 synthetic tracks, and embedding throughput.

    python3 -m bench.library [--tracks 10000] [--database-url postgresql://... | --pgserver] [--vector-search both]

Each synthetic track has features/pitch results (random descriptors, keys, tempos), 12 transcript lines made
of a word pool and 4 embedded passages; vectors are random unit vectors (the embedder's own speed is measured
separately, on real text). Prints medians and p99 of each query kind over 100 queries.

`--pgserver` runs a private PostgreSQL with pgvector (the dev package `pgserver`, tests/pgvector_server.py);
`--vector-search both` then times the vector queries with pgvector and again with numpy's exact search over the
same rows (LIBRARY_VECTOR_SEARCH=exact), and says how often the two agree on the top hit.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from library import pgvector
from library.extract import Line, Passage, TrackDoc
from library.search import semantic_hits
from library.service import Library
from library.store import TrackFilter
from worker.camelot import camelot_code

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


def semantic_plan(lib: Library, *, owner: str, vector: np.ndarray) -> str:
    """The scan PostgreSQL chose for the approximate semantic query (the HNSW index, or the owner's rows)."""
    q = pgvector.as_vector(vector)
    rows = lib.db.query("EXPLAIN " + pgvector.nearest_passages_sql(model=lib.model, dim=len(vector)), (q, owner, q, 80))
    return next((r[0].strip().removeprefix("->  ") for r in rows if "Scan" in r[0]), "?")


def percentiles(samples: list[float]) -> str:
    a = np.array(samples) * 1000
    return f"p50 {np.median(a):7.2f} ms   p99 {np.percentile(a, 99):7.2f} ms"


RECALL_NOISE = 0.7  # a recall query: a stored passage plus this much noise per unit (cosine ~0.8 to it)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--pgserver", action="store_true", help="a private PostgreSQL with pgvector (dev package)")
    parser.add_argument("--vector-search", choices=("auto", "exact", "both"), default="auto")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the embedder (TORCH_NUM_THREADS)")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        url = args.database_url
        if args.pgserver:
            from tests.pgvector_server import pgvector_server

            url = stack.enter_context(pgvector_server())
        run(args, url=url)


def run(args: argparse.Namespace, *, url: str) -> None:
    data = Path(tempfile.mkdtemp(prefix="library-bench-"))
    modes = ("auto", "exact") if args.vector_search == "both" else (args.vector_search,)
    settings = {"DATA_DIR": str(data), "DATABASE_URL": url, "TORCH_NUM_THREADS": args.threads,
                "LIBRARY_VECTOR_SEARCH": modes[0]}
    lib = Library(settings)
    rng = np.random.default_rng(0)
    owner = f"bench{int(time.time())}"
    kept: list[np.ndarray] = []  # one stored passage vector per 100 tracks, for the recall queries

    def random_embed(texts: list[str]) -> np.ndarray:
        v = rng.normal(size=(len(texts), 384)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def keeping_embed(texts: list[str]) -> np.ndarray:
        v = random_embed(texts)
        kept.append(v[0])
        return v

    t0 = time.perf_counter()
    for i in range(args.tracks):
        lib.store.upsert(synthetic(i, rng, owner), embed=keeping_embed if i % 100 == 0 else random_embed,
                         model=lib.model)
    index_s = time.perf_counter() - t0
    print(f"backend {lib.describe()['backend']}, vectors {lib.describe()['vectors']}: indexed {args.tracks} tracks "
          f"(12 lines, 4 passages each) in {index_s:.1f} s = {1000 * index_s / args.tracks:.2f} ms/track "
          f"(random vectors)")
    if lib.db.dialect == "postgresql":  # the planner's statistics, as autovacuum would have them by now
        with lib.db.transaction() as tx:
            tx.execute("ANALYZE")
    query_vectors = random_embed(["q"] * args.queries)
    ids = [t for t, _, _ in lib.store.session_tracks(owner=owner)]
    libraries = {"auto": lib} | ({"exact": Library({**settings, "LIBRARY_VECTOR_SEARCH": "exact"})}
                                 if "exact" in modes[1:] else {})
    for mode, one in libraries.items():
        label = one.describe()["vectors"]
        if not one.db.uses_pgvector:
            t0 = time.perf_counter()
            one.cache.passages(owner)
            one.cache.descriptors(owner)
            print(f"[{label}] first vector load (cold cache): {1000 * (time.perf_counter() - t0):.0f} ms")
        else:
            print(f"[{label}] semantic query plan: {semantic_plan(one, owner=owner, vector=query_vectors[0])}")
        kinds: dict[str, Callable[[int], Any]] = {
            "semantic (vector part)": lambda k, one=one: semantic_hits(one.cache, owner=owner,
                                                                       query_vector=query_vectors[k], limit=10),
            "similar": lambda k, one=one: one.similar(owner=owner, track_id=ids[k % len(ids)], limit=10, mix=False),
            "similar mix=1": lambda k, one=one: one.similar(owner=owner, track_id=ids[k % len(ids)], limit=10,
                                                            mix=True),
        }
        if mode == "auto":
            kinds = {
                "lyrics phrase": lambda k: lib.search(owner=owner, query=" ".join(rng.choice(WORDS, 2)),
                                                      mode="lyrics", limit=10),
                "lyrics fuzzy": lambda k: lib.search(owner=owner, query="rivr raod nigth", mode="lyrics", limit=10),
                "filters key+tempo": lambda k: lib.list_tracks(owner=owner, where=TrackFilter(
                    camelot=("8A", "8B", "9A", "7A"), tempo_min=110, tempo_max=130), after=None, limit=50),
                **kinds}
        for name, query in kinds.items():
            times = []
            for k in range(args.queries):
                t = time.perf_counter()
                query(k)
                times.append(time.perf_counter() - t)
            print(f"[{label}] {name:24s} {percentiles(times)}")
    if len(libraries) == 2:
        recall_queries = [v + RECALL_NOISE * random_embed(["q"])[0] for v in kept]
        same_top = same_similar = 0
        for v in recall_queries:
            v = (v / np.linalg.norm(v)).astype(np.float32)
            tops = [[h["track_id"] for h in semantic_hits(one.cache, owner=owner, query_vector=v, limit=1)]
                    for one in libraries.values()]
            same_top += bool(tops[0]) and tops[0] == tops[1]
        for seed in ids[:len(recall_queries)]:
            near = [[s["track"]["track_id"] for s in one.similar(owner=owner, track_id=seed, limit=10, mix=False)
                     ["similar"]] for one in libraries.values()]
            same_similar += near[0] == near[1]
        print(f"pgvector vs exact: same top semantic hit for {same_top}/{len(recall_queries)} queries near a stored "
              f"passage; same 10 similar tracks in the same order for {same_similar}/{len(recall_queries)} seeds")

    from library.embedding import INDEXING, embedder

    embed = embedder(settings, purpose=INDEXING)  # the worker's: transformers
    texts = [" ".join(rng.choice(WORDS, 20)) for _ in range(256)]
    embed(texts[:8])  # warm
    t0 = time.perf_counter()
    embed(texts)
    s = time.perf_counter() - t0
    print(f"embedding (all-MiniLM-L6-v2, CPU): {len(texts) / s:.0f} passages/s (20 words each)")
    query_embed = embedder(settings)  # the API's: numpy for MiniLM
    times = []
    for k in range(30):
        t = time.perf_counter()
        query_embed([texts[k]])
        times.append(time.perf_counter() - t)
    print(f"{'query embedding':24s} {percentiles(times)}")
    t = time.perf_counter()
    lib.search(owner=owner, query="walking by the river at night", mode="hybrid", limit=10)
    print(f"one hybrid search end to end: {1000 * (time.perf_counter() - t):.1f} ms")
    print(json.dumps(lib.describe()))


if __name__ == "__main__":
    main()
