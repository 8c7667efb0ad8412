"""pgvector on PostgreSQL: the library's vectors as `vector` values, searched by the database.

Used when the server has the `vector` extension (Debian/Ubuntu `postgresql-NN-pgvector`, the `pgvector/pgvector`
Docker image) and LIBRARY_VECTOR_SEARCH is `auto`; otherwise library/vectors.py searches exactly in numpy.

- Passages: `passages.embedding`, a `vector` of no fixed dimension, since the dimension is the embedding
  model's (384 for MiniLM, 576 for SmolLM2's hidden states). Each (model, dimension) gets its own partial HNSW
  index over `embedding::vector(dim)` with cosine ops, WHERE model = '<model>' (pgvector's documented way of
  indexing mixed dimensions), made when the first passage of that model is written. Semantic search is
  `ORDER BY embedding::vector(dim) <=> query LIMIT n`, owner-scoped.
- HNSW is approximate, and pgvector 0.6 filters the owner after the index scan (no iterative scans): ef_search
  is raised to the rows wanted; a page short of tracks whose rows were all good matches (tracks of many
  passages) asks for more rows, up to ef_search's bound; and when the index scan stopped short (a small library
  among big ones, or one with few passages) an exact scan of the owner's passages in the database answers, so
  the results contract is the exact path's apart from HNSW's recall on big libraries.
- Descriptors (similar tracks): the distance is over descriptors standardised by the owner's own library
  (library/descriptors.py), which change with every track added, so no index can hold them. The database
  computes the owner's means and deviations and the weighted distance in one exact scan instead:
  `tracks.descriptor_values` (NaN as 0) and `descriptor_present` (1 where measured) give a standardised,
  mean-filled, weighted row as values * a - present * b with the owner's a = scale / std, b = a * mean, and
  an unknown value's gap is added per seed dimension the row lacks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .descriptors import COMPARED_IN_FULL, NAMES, STD_FLOOR, compared_weights, group_scale, unknown_gap

VECTORS_LABEL = "pgvector (hnsw)"
HNSW_M = 16  # pgvector's defaults, named: links per node and build-time candidate list
HNSW_EF_CONSTRUCTION = 64
# candidates per query (pgvector's default is 40): at 40,000 random 384-d unit vectors, the hard case for HNSW,
# a query near a stored passage found it first 175/200 times at 40, 193 at 100, 198 at 200 (5.7 ms p50), 200 at
# 400 (9.6 ms); real embeddings cluster and fare better
EF_SEARCH_MIN = 200
EF_SEARCH_MAX = 1000  # pgvector's upper bound of hnsw.ef_search
HEAD_GROWTH = 4  # a page short of tracks whose rows were all good matches asks the index for this many times more
BACKFILL_BATCH = 500  # rows converted per statement when the extension arrives on a filled library
DIMS = len(NAMES)


def literal(text: str) -> str:
    """A SQL string literal: index predicates must name the model literally for the planner to match them."""
    return "'" + text.replace("'", "''") + "'"


def as_vector(values: np.ndarray | Sequence[float]) -> str:
    """pgvector's text form; 9 significant digits keep a float32 exact."""
    return "[" + ",".join(f"{float(v):.9g}" for v in values) + "]"


def parse_vector(text: str) -> np.ndarray:
    return np.asarray(json.loads(text), dtype=np.float64)


def descriptor_columns(vector: np.ndarray) -> tuple[str, str]:
    """(descriptor_values, descriptor_present) of a raw descriptor vector (NaN where unmeasured)."""
    present = ~np.isnan(vector)
    return as_vector(np.where(present, vector, 0.0)), as_vector(present.astype(np.float32))


# -- setup (in the migrating transaction) -----------------------------------------------------------------
def setup(tx: Any) -> str | None:
    """Install the extension when the server has it and we may, add the vector columns, fill them for rows
    written before; returns the extension's version, or None when PostgreSQL has no pgvector for us."""
    tx.execute("DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS vector; "
               "EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'pgvector is not available: exact vector search'; END $$")
    found = tx.query("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    if not found:
        return None
    tx.execute("ALTER TABLE passages ADD COLUMN IF NOT EXISTS embedding vector")
    tx.execute(f"ALTER TABLE tracks ADD COLUMN IF NOT EXISTS descriptor_values vector({DIMS})")
    tx.execute(f"ALTER TABLE tracks ADD COLUMN IF NOT EXISTS descriptor_present vector({DIMS})")
    _backfill(tx)
    for model, dim in tx.query("SELECT DISTINCT model, vector_dims(embedding) FROM passages "
                               "WHERE embedding IS NOT NULL"):
        ensure_index(tx, model=str(model), dim=int(dim))  # a library filled before the extension came
    return str(found[0][0])


def _backfill(tx: Any) -> None:
    """Rows indexed before the extension was there get their vector columns from the stored float32 bytes."""
    while True:
        rows = tx.query("SELECT track_id, passage_no, vector FROM passages WHERE embedding IS NULL LIMIT ?",
                        (BACKFILL_BATCH,))
        if not rows:
            break
        tx.executemany("UPDATE passages SET embedding = ?::vector WHERE track_id = ? AND passage_no = ?",
                       [(as_vector(np.frombuffer(bytes(blob), dtype=np.float32)), tid, no) for tid, no, blob in rows])
    while True:
        rows = tx.query("SELECT track_id, descriptor_vector FROM tracks WHERE descriptor_values IS NULL "
                        "AND length(descriptor_vector) = ? LIMIT ?", (4 * DIMS, BACKFILL_BATCH))
        if not rows:
            break
        tx.executemany("UPDATE tracks SET descriptor_values = ?::vector, descriptor_present = ?::vector "
                       "WHERE track_id = ?",
                       [(*descriptor_columns(np.frombuffer(bytes(blob), dtype=np.float32)), tid) for tid, blob in rows])


def index_name(*, model: str, dim: int) -> str:
    return f"passages_hnsw_{hashlib.sha1(model.encode()).hexdigest()[:10]}_{dim}"


def ensure_index(tx: Any, *, model: str, dim: int) -> None:
    """The HNSW index of one model's passages (IF NOT EXISTS; the caller holds the migration lock)."""
    tx.execute(f"CREATE INDEX IF NOT EXISTS {index_name(model=model, dim=dim)} ON passages USING hnsw "
               f"((embedding::vector({int(dim)})) vector_cosine_ops) "
               f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION}) WHERE model = {literal(model)}")


# -- semantic search ------------------------------------------------------------------------------------
def nearest_passages_sql(*, model: str, dim: int) -> str:
    """The approximate query (its plan uses the model's HNSW index); parameters: vector, owner, vector, limit.
    No filter on the dimension: a model's vectors all have its own, and a filter on a function of the column
    makes the planner guess the owner has few rows and sort them instead of using the index."""
    cast = f"vector({int(dim)})"
    return (f"SELECT track_id, passage_no, 1 - (embedding::{cast} <=> ?::{cast}) FROM passages "
            f"WHERE model = {literal(model)} AND owner = ? AND embedding IS NOT NULL "
            f"ORDER BY embedding::{cast} <=> ?::{cast} LIMIT ?")


def semantic_hits(db: Any, *, owner: str, model: str, query_vector: np.ndarray, limit: int, head: int,
                  min_score: float) -> list[dict[str, Any]]:
    """Tracks by their best passage, best first (the fields of library/search.py's semantic_hits)."""
    dim, q = int(query_vector.shape[0]), as_vector(query_vector)
    while True:
        with db.transaction() as tx:
            # SET LOCAL: the candidate list of this query only (ef_search bounds how many rows HNSW returns)
            tx.execute(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH_MIN, min(head, EF_SEARCH_MAX))}")
            rows = tx.query(nearest_passages_sql(model=model, dim=dim), (q, owner, q, head))
        out = _best_per_track(rows, limit=limit, min_score=min_score)
        if len(out) >= limit or (len(rows) == head and float(rows[-1][2]) < min_score):
            return out  # a full page, or the good matches ended within the rows
        if len(rows) == head and head < EF_SEARCH_MAX:
            head = min(head * HEAD_GROWTH, EF_SEARCH_MAX)  # good passages all of a few tracks: look further
            continue
        break
    # the index scan stopped short (other owners' rows fill its candidate list, or the owner has few passages):
    # the owner's passages scanned exactly answer instead
    rows = db.query(
        "SELECT track_id, passage_no, score FROM (SELECT DISTINCT ON (track_id) track_id, passage_no, "
        "1 - (embedding <=> ?::vector) AS score FROM passages WHERE model = ? AND owner = ? "
        "AND vector_dims(embedding) = ? "
        "ORDER BY track_id, embedding <=> ?::vector, passage_no) best "
        "WHERE score >= ? ORDER BY score DESC, track_id LIMIT ?", (q, model, owner, dim, q, min_score, limit))
    return _best_per_track(rows, limit=limit, min_score=min_score)


def _best_per_track(rows: Sequence[Sequence[Any]], *, limit: int, min_score: float) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for track, number, score in rows:
        if float(score) < min_score or len(out) >= limit:
            break
        if track not in out:
            out[track] = {"track_id": track, "score": round(float(score), 4), "passage_key": (track, int(number))}
    return list(out.values())


# -- similar tracks -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DescriptorScales:
    """An owner's standardisation per dimension: a weighted row is values * a - present * b; gap is what an
    unknown value costs (library/descriptors.py's unknown_gap)."""
    a: np.ndarray
    b: np.ndarray
    gap: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.a.nbytes + self.b.nbytes + self.gap.nbytes)


def descriptor_scales(db: Any, *, owner: str) -> DescriptorScales:
    """The owner's means and deviations, computed by the server (two scans: kept per library generation by
    library/vectors.py, as they change only when the library does)."""
    present_mean, values_mean = db.query(
        "SELECT avg(descriptor_present)::text, avg(descriptor_values)::text FROM tracks WHERE owner = ? "
        "AND descriptor_values IS NOT NULL", (owner,))[0]
    if present_mean is None:  # no track with descriptors
        return DescriptorScales(np.zeros(DIMS), np.zeros(DIMS), np.zeros(DIMS))
    share = parse_vector(present_mean)  # the fraction of tracks measuring each dimension
    mean = np.where(share > 0, parse_vector(values_mean) / np.maximum(share, 1e-12), 0.0)
    m = as_vector(mean)
    spread = parse_vector(db.query(  # the mean squared deviation of the measured values, over all rows
        "SELECT avg((descriptor_values - descriptor_present * ?::vector) * (descriptor_values - descriptor_present "
        "* ?::vector))::text FROM tracks WHERE owner = ? AND descriptor_values IS NOT NULL", (m, m, owner))[0][0])
    std = np.sqrt(np.where(share > 0, spread / np.maximum(share, 1e-12), 0.0))
    a = np.where(std > STD_FLOOR, group_scale() / np.where(std > STD_FLOOR, std, 1.0), 0.0)
    return DescriptorScales(a, a * mean, unknown_gap(std))


def descriptor_neighbours(db: Any, *, owner: str, track_id: str, chunk: int,
                          scales: DescriptorScales) -> Iterator[tuple[str, float, float]] | None:
    """The owner's other tracks as (track_id, distance, compared_share), those that measured every descriptor the
    seed did first, nearest first within each, read `chunk` at a time; None when the track has no descriptors.
    Same metric and order as library/descriptors.py's, computed by the server in one exact scan of the owner's
    tracks."""
    seed = db.query("SELECT descriptor_values::text, descriptor_present::text FROM tracks WHERE owner = ? AND "
                    "track_id = ? AND descriptor_values IS NOT NULL", (owner, track_id))
    if not seed or not parse_vector(seed[0][1]).any():
        return None
    present = parse_vector(seed[0][1])
    point = scales.a * parse_vector(seed[0][0]) - scales.b * present
    # over the seed's dimensions only (a and b masked by them); each one another track lacks costs its gap:
    # sum(gap * seed) + present <#> (gap * seed), as <#> is the negative inner product
    gap = scales.gap * present
    weight = compared_weights(present)
    params = (as_vector(scales.a * present), as_vector(scales.b * present), as_vector(point), float(gap.sum()),
              as_vector(gap), as_vector(weight), owner, track_id, as_vector(present))

    def ranked() -> Iterator[tuple[str, float, float]]:
        offset = 0
        while True:
            # a track that measured none of the seed's descriptors is left out (see library/search.py)
            rows = db.query(
                "SELECT track_id, distance, share FROM (SELECT track_id, sqrt(greatest(0, power((descriptor_values "
                "* ?::vector - descriptor_present * ?::vector) <-> ?::vector, 2) + ? + (descriptor_present <#> "
                "?::vector))) AS distance, -(descriptor_present <#> ?::vector) AS share "
                "FROM tracks WHERE owner = ? AND track_id <> ? AND descriptor_values IS NOT NULL "
                "AND (descriptor_present <#> ?::vector) < 0) AS ranked "
                f"ORDER BY share < {COMPARED_IN_FULL!r}, distance, track_id LIMIT ? OFFSET ?",
                (*params, chunk, offset))
            yield from ((str(t), float(d), float(sh)) for t, d, sh in rows)
            if len(rows) < chunk:
                return
            offset += chunk

    return ranked()
