"""Reading and writing the library's rows: tracks, their lines and passages, owner-scoped.

Writes replace a track whole in one transaction (idempotent: indexing the same results twice gives the same
rows) and bump the `generation` counter, which tells every process that its in-memory copy of an owner's
vectors (library/vectors.py) is stale.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from worker.audio_llm.speech import SPEECH_SHARE_MIN, content

from . import pgvector
from .db import Database, Transaction
from .descriptors import to_vector
from .extract import TrackDoc
from .fulltext import words_of

FLOAT32_BYTES = 4
Embed = Callable[[list[str]], np.ndarray]  # texts -> (n, dim) float32, L2-normalised

TRACK_COLUMNS = ("track_id", "owner", "session_id", "filename", "duration_seconds", "key_label", "key_mode",
                 "camelot", "key_confidence", "tempo_bpm", "metre", "loudness_lufs", "has_vocals",
                 "chords_summary", "descriptors", "sources", "indexed_at", "speech_share", "silent")
_SELECT = "SELECT " + ", ".join(TRACK_COLUMNS) + " FROM tracks"
RANKABLE = ("tempo_bpm", "duration_seconds", "loudness_lufs")  # what ranked_tracks orders by


@dataclass(frozen=True)
class TrackFilter:
    session_id: str | None = None
    camelot: tuple[str, ...] = ()  # accepted key codes (exact, relative or compatible: worker/camelot.py)
    tempo_min: float | None = None
    tempo_max: float | None = None
    tempo_multiples: bool = True  # also half- and double-time matches (flagged in `tempo_match`)
    metre: str | None = None
    duration_min: float | None = None
    duration_max: float | None = None
    loudness_min: float | None = None
    loudness_max: float | None = None
    has_vocals: bool | None = None
    content: str | None = None  # speech | music | silence: as measured (speech_share, silent: audio_llm/speech.py)
    filenames: tuple[str, ...] = ()  # any of these file names, in any case (a library question that names a file)


class LibraryStore:
    def __init__(self, db: Database):
        self.db = db

    # -- writes -------------------------------------------------------------
    def upsert(self, doc: TrackDoc, *, embed: Embed | None, model: str) -> dict[str, int]:
        """Replace the track's rows by what `doc` holds; a passage takes the stored vector of the same text and
        model (this track's, or any of the owner's: a cached job's copy of a transcript in another session), new
        ones are embedded (`embed` None: those are dropped, and `unembedded` counts them)."""
        tid = doc.track_id
        known = self._known_vectors(doc.owner, model, sorted({p.text_hash for p in doc.passages}))
        vectors: list[bytes | None] = [known.get(p.text_hash) for p in doc.passages]
        missing = [i for i, v in enumerate(vectors) if v is None]
        if missing and embed is not None:
            fresh = embed([doc.passages[i].text for i in missing])
            for i, fresh_vector in zip(missing, fresh, strict=True):
                vectors[i] = np.asarray(fresh_vector, dtype=np.float32).tobytes()
        f = doc.fields
        row: tuple[Any, ...] = (
            tid, doc.owner, doc.session_id, doc.filename, f.get("duration_seconds"), f.get("key_label"),
            f.get("key_mode"), f.get("camelot"), f.get("key_confidence"), f.get("tempo_bpm"), f.get("metre"),
            f.get("loudness_lufs"), f.get("has_vocals"), f.get("chords_summary"), json.dumps(doc.descriptors),
            to_vector(doc.descriptors).tobytes(), f.get("transcript_text"), f.get("analysis_text"),
            json.dumps(doc.sources), time.time(), f.get("speech_share"), f.get("silent"))
        passages: list[tuple[Any, ...]] = [
            (tid, i, doc.owner, p.kind, p.source, p.text, p.start, p.end, p.text_hash, model, v)
            for i, (p, v) in enumerate(zip(doc.passages, vectors, strict=True)) if v is not None]
        track_sql = ("INSERT INTO tracks (track_id, owner, session_id, filename, duration_seconds, key_label, "
                     "key_mode, camelot, key_confidence, tempo_bpm, metre, loudness_lufs, has_vocals, chords_summary, "
                     "descriptors, descriptor_vector, transcript_text, analysis_text, sources, indexed_at, "
                     "speech_share, silent")
        passage_sql = ("INSERT INTO passages (track_id, passage_no, owner, kind, source, text, start_seconds, "
                       "end_seconds, text_hash, model, vector")
        track_values, passage_values = _values(len(row), 0), _values(11, 0)
        if self.db.writes_vector_columns:  # the same vectors again in pgvector's columns, for the database to search
            row = (*row, *pgvector.descriptor_columns(to_vector(doc.descriptors)))
            track_sql += ", descriptor_values, descriptor_present"
            track_values = _values(len(row) - 2, 2)
            passages = [(*p, pgvector.as_vector(np.frombuffer(p[-1], dtype=np.float32))) for p in passages]
            passage_sql += ", embedding"
            passage_values = _values(11, 1)
            if passages:
                self.db.ensure_vector_index(model=model, dim=len(passages[0][-2]) // FLOAT32_BYTES)
        with self.db.transaction() as tx:
            _delete_ids(tx, [tid])  # by its id alone, not through its track row: rows a broken write left go too
            tx.execute(track_sql + ")" + track_values, row)
            tx.executemany("INSERT INTO lines (track_id, line_no, owner, text, start_seconds, end_seconds, words) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [(tid, i, doc.owner, line.text, line.start, line.end, json.dumps(line.words))
                            for i, line in enumerate(doc.lines)])
            tx.executemany("INSERT INTO vocabulary (word) VALUES (?) ON CONFLICT DO NOTHING",
                           [(w,) for w in sorted({w for line in doc.lines for w in words_of(line.text, most=None)})])
            if passages:
                tx.executemany(passage_sql + ")" + passage_values, passages)
            _bump(tx)
        return {"lines": len(doc.lines), "passages": sum(v is not None for v in vectors),
                "embedded": len(missing) if embed is not None else 0,
                "unembedded": len(missing) if embed is None else 0}

    def _known_vectors(self, owner: str, model: str, hashes: list[str]) -> dict[str, bytes]:
        """text hash -> a stored vector of the owner's for that text and model."""
        known: dict[str, bytes] = {}
        for i in range(0, len(hashes), 500):  # under SQLite's bound on a statement's parameters
            part = hashes[i:i + 500]
            known.update((h, v) for h, v in self.db.query(
                "SELECT text_hash, vector FROM passages WHERE owner = ? AND model = ? AND text_hash IN ("
                + ", ".join("?" * len(part)) + ")", (owner, model, *part)))
        return known

    def remove(self, *, owner: str, session_id: str | None = None, track_ids: Sequence[str] = ()) -> int:
        """Remove the owner's tracks (of one session, or the listed ones, or all); returns how many."""
        where, params = "owner = ?", [owner]  # every value a str
        if session_id is not None:
            where, params = where + " AND session_id = ?", params + [session_id]
        if track_ids:
            where += " AND track_id IN (" + ", ".join("?" * len(track_ids)) + ")"
            params += list(track_ids)
        with self.db.transaction() as tx:
            n = _delete_tracks(tx, where, params)
            if n:
                _bump(tx)
        return n

    # -- reads --------------------------------------------------------------
    def generation(self) -> int:
        return int(self.db.query("SELECT value FROM library_meta WHERE name = 'generation'")[0][0])

    def get(self, *, owner: str, track_id: str) -> dict[str, Any] | None:
        rows = self.db.query(_SELECT + " WHERE owner = ? AND track_id = ?", (owner, track_id))
        return track_view(rows[0]) if rows else None

    def session_tracks(self, *, owner: str) -> list[tuple[str, str, str]]:
        """(track_id, session_id, filename) of every track of the owner."""
        return [(r[0], r[1], r[2]) for r in self.db.query(
            "SELECT track_id, session_id, filename FROM tracks WHERE owner = ?", (owner,))]

    def owners(self) -> list[str]:
        return [r[0] for r in self.db.query("SELECT DISTINCT owner FROM tracks")]

    def list_tracks(self, *, owner: str, where: TrackFilter, after: tuple[str, str] | None,
                    limit: int) -> list[dict[str, Any]]:
        """A page ordered by (session_id, filename), after the cursor's position."""
        clauses, params = _filtered(owner, where)
        if after is not None:
            clauses.append("(session_id > ? OR (session_id = ? AND filename > ?))")
            params += [after[0], after[0], after[1]]
        rows = self.db.query(_SELECT + " WHERE " + " AND ".join(clauses) + " ORDER BY session_id, filename LIMIT ?",
                             (*params, limit))
        return _with_tempo_match([track_view(r) for r in rows], where)

    def ranked_tracks(self, *, owner: str, where: TrackFilter, by: str, descending: bool,
                      limit: int) -> list[dict[str, Any]]:
        """The `limit` first tracks by the measurement `by` (RANKABLE), those without it left out."""
        if by not in RANKABLE:
            raise ValueError(f"tracks are ranked by {', '.join(RANKABLE)}, not {by!r}")
        clauses, params = _filtered(owner, where)
        clauses.append(f"{by} IS NOT NULL")
        order = f"{by} {'DESC' if descending else 'ASC'}, session_id, filename"
        rows = self.db.query(_SELECT + " WHERE " + " AND ".join(clauses) + f" ORDER BY {order} LIMIT ?",
                             (*params, limit))
        return _with_tempo_match([track_view(r) for r in rows], where)

    def text_counts(self, *, owner: str, content: str | None = None) -> tuple[int, int]:
        """(the owner's tracks, those of them with words a search reads: a transcript, lyrics or an LLM analysis);
        `content` (speech | music): of the tracks measured so alone, the ones a search so kept reads (a filtered
        search had said it searched the whole library)."""
        clauses, params = _filtered(owner, TrackFilter(content=content))
        kept = " AND ".join(clauses)
        [(tracks,)] = self.db.query(f"SELECT COUNT(*) FROM tracks WHERE {kept}", tuple(params))
        if content is None:
            [(worded,)] = self.db.query("SELECT COUNT(DISTINCT track_id) FROM passages WHERE owner = ?", (owner,))
        else:
            [(worded,)] = self.db.query("SELECT COUNT(DISTINCT track_id) FROM passages WHERE owner = ? AND track_id "
                                        f"IN (SELECT track_id FROM tracks WHERE {kept})", (owner, *params))
        return int(tracks), int(worded)

    def tracks_by_id(self, *, owner: str, track_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not track_ids:
            return {}
        rows = self.db.query(_SELECT + " WHERE owner = ? AND track_id IN (" + ", ".join("?" * len(track_ids)) + ")",
                             (owner, *track_ids))
        return {r[0]: track_view(r) for r in rows}

    def descriptor_rows(self, *, owner: str) -> list[tuple[str, bytes]]:
        return [(r[0], bytes(r[1])) for r in self.db.query(
            "SELECT track_id, descriptor_vector FROM tracks WHERE owner = ? AND descriptor_vector IS NOT NULL",
            (owner,))]

    def passage_rows(self, *, owner: str, model: str) -> list[tuple[str, int, bytes]]:
        return [(r[0], int(r[1]), bytes(r[2])) for r in self.db.query(
            "SELECT track_id, passage_no, vector FROM passages WHERE owner = ? AND model = ? "
            "ORDER BY track_id, passage_no", (owner, model))]

    def passages(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], dict[str, Any]]:
        out: dict[tuple[str, int], dict[str, Any]] = {}
        for track, number in keys:  # a handful per query (the best per track of one page)
            for kind, source, text, start, end in self.db.query(
                    "SELECT kind, source, text, start_seconds, end_seconds FROM passages "
                    "WHERE track_id = ? AND passage_no = ?", (track, number)):
                out[(track, number)] = {"kind": kind, "source": source, "text": text, "start_seconds": start,
                                        "end_seconds": end}
        return out


def _filtered(owner: str, where: TrackFilter) -> tuple[list[str], list[Any]]:
    """The WHERE clauses (and their parameters) of `owner`'s tracks that `where` selects."""
    clauses: list[str] = ["owner = ?"]
    params: list[Any] = [owner]
    if where.session_id:
        clauses.append("session_id = ?")
        params.append(where.session_id)
    if where.camelot:
        clauses.append("camelot IN (" + ", ".join("?" * len(where.camelot)) + ")")
        params += list(where.camelot)
    if where.tempo_min is not None or where.tempo_max is not None:
        lo = where.tempo_min if where.tempo_min is not None else 0.0
        hi = where.tempo_max if where.tempo_max is not None else 1e6
        factors = (1.0, 2.0, 0.5) if where.tempo_multiples else (1.0,)
        clauses.append("(" + " OR ".join("tempo_bpm * ? BETWEEN ? AND ?" for _ in factors) + ")")
        for factor in factors:
            params += [factor, lo, hi]
    for column, value in (("metre", where.metre),):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    for column, lo_v, hi_v in (("duration_seconds", where.duration_min, where.duration_max),
                               ("loudness_lufs", where.loudness_min, where.loudness_max)):
        if lo_v is not None:
            clauses.append(f"{column} >= ?")
            params.append(lo_v)
        if hi_v is not None:
            clauses.append(f"{column} <= ?")
            params.append(hi_v)
    if where.has_vocals is not None:
        clauses.append("has_vocals = ?")
        params.append(where.has_vocals)
    if where.content == "silence":  # the pitch job found nothing to analyse (a silent track's speech_share is 0)
        clauses.append("silent = ?")
        params.append(True)
    elif where.content is not None:  # a track without a music analysis is neither
        clauses.append("speech_share >= ?" if where.content == "speech" else
                       "speech_share < ? AND (silent IS NULL OR silent = ?)")
        params += [SPEECH_SHARE_MIN] if where.content == "speech" else [SPEECH_SHARE_MIN, False]
    if where.filenames:
        clauses.append("lower(filename) IN (" + ", ".join("?" * len(where.filenames)) + ")")
        params += [name.lower() for name in where.filenames]
    return clauses, params


def _with_tempo_match(tracks: list[dict[str, Any]], where: TrackFilter) -> list[dict[str, Any]]:
    if where.tempo_min is not None or where.tempo_max is not None:
        for t in tracks:
            t["tempo_match"] = tempo_match(t["tempo_bpm"], where.tempo_min, where.tempo_max)
    return tracks


def track_view(row: Sequence[Any]) -> dict[str, Any]:
    r = dict(zip(TRACK_COLUMNS, row, strict=True))
    return {
        "track_id": r["track_id"], "owner": r["owner"], "session_id": r["session_id"], "filename": r["filename"],
        "duration_seconds": r["duration_seconds"],
        "key": ({"label": r["key_label"], "mode": r["key_mode"], "camelot": r["camelot"],
                 "confidence": r["key_confidence"]} if r["key_label"] else None),
        "tempo_bpm": r["tempo_bpm"], "metre": r["metre"], "loudness_lufs": r["loudness_lufs"],
        "has_vocals": None if r["has_vocals"] is None else bool(r["has_vocals"]),
        "chords_summary": r["chords_summary"], "sources": json.loads(r["sources"] or "[]"),
        "indexed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(r["indexed_at"]))),
        "content": ("silence" if r["silent"] else content({"speech_share": r["speech_share"]})
                    if r["speech_share"] is not None else None),
        "speech_share": r["speech_share"],
    }


def tempo_match(tempo: float | None, lo: float | None, hi: float | None) -> str | None:
    """'exact' when the tempo is in [lo, hi]; 'double' when twice it is (a half-time feel); 'half' when half."""
    if tempo is None:
        return None
    low, high = lo if lo is not None else 0.0, hi if hi is not None else 1e6
    for name, factor in (("exact", 1.0), ("double", 2.0), ("half", 0.5)):
        if low <= tempo * factor <= high:
            return name
    return None


def _delete_tracks(tx: Transaction, where: str, params: Sequence[Any]) -> int:
    ids = [r[0] for r in tx.query("SELECT track_id FROM tracks WHERE " + where, params)]
    _delete_ids(tx, ids)
    return len(ids)


def _delete_ids(tx: Transaction, ids: Sequence[str]) -> None:
    """Every row of these tracks: their lines, passages and track rows."""
    for i in range(0, len(ids), 500):
        chunk = list(ids[i:i + 500])
        marks = ", ".join("?" * len(chunk))
        for table in ("lines", "passages", "tracks"):
            tx.execute(f"DELETE FROM {table} WHERE track_id IN ({marks})", chunk)


def _values(plain: int, vectors: int) -> str:
    """An INSERT's VALUES list: `plain` parameters, then `vectors` in pgvector's text form cast to `vector`."""
    return " VALUES (" + ", ".join(["?"] * plain + ["?::vector"] * vectors) + ")"


def _bump(tx: Transaction) -> None:
    tx.execute("UPDATE library_meta SET value = value + 1 WHERE name = 'generation'")
