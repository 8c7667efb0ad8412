"""Search and discovery over one owner's library: lyrics, semantic, hybrid, and similar tracks.

- lyrics: phrase and fuzzy matches of transcript lines (library/fulltext.py), each with its line and time.
- semantic: the query's embedding against every passage of the owner (transcript chunks, lyrics and LLM
  analyses), exact cosine in numpy, or pgvector's HNSW index when PostgreSQL has it (library/pgvector.py);
  a track ranks by its best passage.
- hybrid: reciprocal-rank fusion of the two rankings, score = sum of 1 / (RRF_K + rank) (Cormack et al. 2009).
- similar: Euclidean distance over the seed's weighted descriptors, an unknown value costing what an average
  track's does (library/descriptors.py); `mix` keeps only tracks in a compatible key (Camelot) whose tempo, or
  its double or half, is within LIBRARY_MIX_TEMPO_PERCENT.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from worker.camelot import compatible, relative, tempo_match
from worker.errors import AudioError, NotFoundError, echo

from . import pgvector
from .descriptors import COMPARED_IN_FULL, compared_shares, distances
from .fulltext import search_lines
from .store import LibraryStore
from .vectors import VectorCache

RRF_K = 60
MAX_RESULTS = 200  # hits a search ranks at most (pages are cut from them)
SEMANTIC_MIN = 0.2  # cosine below which a passage is not called a match
PASSAGES_PER_TRACK_GUESS = 8  # passages ranked per wanted track before falling back to a full sort
SIMILAR_CHUNK = 200  # neighbours read (and their track rows fetched) at a time until a page is full
Neighbours = Iterator[tuple[str, float, float]]  # (track_id, distance, compared_share): fully compared first,
# nearest first within each (library/descriptors.py)


def lyrics_hits(store: LibraryStore, *, owner: str, query: str, limit: int, fuzzy: str) -> list[dict[str, Any]]:
    """One hit per track (its best line, and up to 3 matching lines), best first."""
    by_track: dict[str, dict[str, Any]] = {}
    for line in search_lines(store.db, owner=owner, query=query, limit=MAX_RESULTS, fuzzy=fuzzy):
        hit = by_track.setdefault(line.track_id, {"track_id": line.track_id, "score": line.score,
                                                  "line": line.to_dict(), "lines": []})
        if len(hit["lines"]) < 3:
            hit["lines"].append(line.to_dict())
    return list(by_track.values())[:limit]


def semantic_hits(cache: VectorCache, *, owner: str, query_vector: np.ndarray, limit: int,
                  min_score: float = SEMANTIC_MIN) -> list[dict[str, Any]]:
    """Tracks by their best passage (a cosine of `min_score` or more), best first; the database answers when it has
    pgvector. `query_vector` may be several, one per row (a question's clauses, library/clauses.py): a passage's
    score is then its best cosine to any of them."""
    vectors = np.atleast_2d(query_vector)
    db = cache.store.db
    if db.uses_pgvector:  # one index search per vector, each track at its best score
        rankings = [pgvector.semantic_hits(db, owner=owner, model=cache.model, query_vector=vector, limit=limit,
                                           head=limit * PASSAGES_PER_TRACK_GUESS, min_score=min_score)
                    for vector in vectors]
        if len(rankings) == 1:
            return rankings[0]
        best: dict[str, dict[str, Any]] = {}
        for hit in itertools.chain.from_iterable(rankings):
            if hit["track_id"] not in best or hit["score"] > best[hit["track_id"]]["score"]:
                best[hit["track_id"]] = hit
        return sorted(best.values(), key=lambda h: (-h["score"], h["track_id"]))[:limit]
    data = cache.passages(owner)
    if not data.keys or data.matrix.shape[1] != vectors.shape[1]:
        return []
    scores = (data.matrix @ vectors.astype(np.float32).T).max(axis=1)
    # the best passages first: a partial sort of a few per wanted track, all of them only if that is too few
    head = min(len(scores), limit * PASSAGES_PER_TRACK_GUESS)
    top = np.argpartition(-scores, head - 1)[:head]
    order = top[np.argsort(-scores[top])]
    if len({data.keys[int(i)][0] for i in order}) < limit and head < len(scores):
        order = np.argsort(-scores)
    out: dict[str, dict[str, Any]] = {}
    for i in order:
        if scores[i] < min_score or len(out) >= limit:
            break
        track, number = data.keys[int(i)]
        if track not in out:
            out[track] = {"track_id": track, "score": round(float(scores[i]), 4), "passage_key": (track, number)}
    return list(out.values())


def fuse(*rankings: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Reciprocal-rank fusion: each track's hits merged, scored by sum(1 / (RRF_K + rank))."""
    merged: dict[str, dict[str, Any]] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            entry = merged.setdefault(hit["track_id"], {"track_id": hit["track_id"], "score": 0.0})
            entry["score"] += 1.0 / (RRF_K + rank)
            entry.update({k: v for k, v in hit.items() if k not in ("track_id", "score")})
    ranked = sorted(merged.values(), key=lambda h: -h["score"])
    for h in ranked:
        h["score"] = round(h["score"], 6)
    return ranked[:limit]


def _unmixable(seed: dict[str, Any]) -> str:
    """Why a track cannot seed mix=1: pitch not run on it, or run and no clear key or steady beat found (a stranger
    was told to run /process/pitch on a track it had run on, finding no clear key)."""
    if not any(str(s).startswith("pitch_") for s in seed.get("sources") or ()):
        return "mix=1 needs the track's key and tempo: run /process/pitch on it first"
    missing = " or ".join(what for what, value in (("clear key", seed["key"]), ("steady tempo", seed["tempo_bpm"]))
                          if not value)
    return (f"mix=1 needs the track's key and tempo: /process/pitch found no {missing} in {seed['filename']}, so no "
            "track can be said to mix with it (without mix=1 the similar tracks are listed)")


def similar_tracks(store: LibraryStore, cache: VectorCache, *, owner: str, track_id: str, limit: int, mix: bool,
                   tempo_percent: float, whose: str = "your library") -> dict[str, Any]:
    """`whose`: how a missing track's error names the library (library.ask.whose_library)."""
    seed = store.get(owner=owner, track_id=track_id)
    if seed is None:
        raise NotFoundError(f"no track {echo(track_id)} in {whose}", code="track_not_found")
    ranked = (pgvector.descriptor_neighbours(store.db, owner=owner, track_id=track_id, chunk=SIMILAR_CHUNK,
                                             scales=cache.descriptor_scales(owner))
              if store.db.uses_pgvector else _numpy_neighbours(cache, owner=owner, track_id=track_id))
    if ranked is None:
        raise AudioError("the track has no audio descriptors yet: run /process/features (and /process/pitch for "
                         "tempo) on it first", code="track_not_analysed")
    keep: Callable[[dict[str, Any]], dict[str, Any] | None] = _any_track
    if mix:
        if not seed["key"] or not seed["tempo_bpm"]:
            raise AudioError(_unmixable(seed), code="track_not_analysed")
        keep = _mixable(seed, tempo_percent)
    out: list[dict[str, Any]] = []
    while len(out) < limit:  # read track rows a chunk at a time until the page is full
        chunk = list(itertools.islice(ranked, SIMILAR_CHUNK))
        if not chunk:
            break
        rows = store.tracks_by_id(owner=owner, track_ids=[t for t, _, _ in chunk])
        for other, distance, share in chunk:
            track = rows.get(other)
            extra = keep(track) if track is not None else None
            if extra is not None and track is not None:
                out.append({"track": track, "distance": round(distance, 4), "compared_share": round(share, 3),
                            **extra})
            if len(out) >= limit:
                break
    return {"track": seed, "similar": out}


def _numpy_neighbours(cache: VectorCache, *, owner: str, track_id: str) -> Neighbours | None:
    """Euclidean distances over the owner's weighted descriptors in memory; None when the track has none."""
    data = cache.descriptors(owner)
    i = data.index.get(track_id)
    if i is None or np.isnan(data.raw[i]).all():
        return None
    dist = distances(data.weighted, data.raw, data.gap, i)
    share = compared_shares(data.raw, i)
    # a track that measured none of the seed's descriptors (a transcript alone, or features where the seed has
    # only a pitch result) has nothing to be compared by
    shared = (~np.isnan(data.raw) & ~np.isnan(data.raw[i])).any(axis=1)
    order = np.lexsort((dist, share < COMPARED_IN_FULL))  # fully compared first, then by distance
    return ((data.track_ids[int(j)], float(dist[j]), float(share[j])) for j in order if int(j) != i and shared[j])


def _any_track(track: dict[str, Any]) -> dict[str, Any] | None:
    return {}


def _mixable(seed: dict[str, Any], tempo_percent: float) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    code, tempo = seed["key"]["camelot"], float(seed["tempo_bpm"])
    keys = compatible(code)

    def keep(track: dict[str, Any]) -> dict[str, Any] | None:
        if not track["key"] or track["key"]["camelot"] not in keys or not track["tempo_bpm"]:
            return None
        match = tempo_match(tempo, float(track["tempo_bpm"]), percent=tempo_percent)
        if match is None:
            return None
        other = track["key"]["camelot"]
        relation = "same" if other == code else "relative" if other == relative(code) else "fifth"
        return {"key_relation": relation, "tempo_match": match[0], "tempo_change_percent": match[1]}

    return keep
