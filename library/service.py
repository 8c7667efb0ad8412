"""The library as the API and the worker use it: one per process and database, migrated on first use."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from storage import SessionRoot
from worker.camelot import MIX_TEMPO_PERCENT

from . import search
from .clauses import question_clauses
from .db import Database
from .embedding import INDEXING, embedder, model_name
from .extract import read_track
from .store import LibraryStore, TrackFilter
from .vectors import VectorCache

log = logging.getLogger(__name__)
SQLITE_NAME = "library.sqlite3"
QUERY_CACHE = 256  # query vectors remembered per process
_lock = threading.Lock()
_libraries: dict[tuple[str, str, str], Library] = {}


class Library:
    def __init__(self, settings: Mapping[str, Any]):
        self.settings = settings
        self.data_dir = Path(settings["DATA_DIR"]).resolve()
        self.db = Database(url=str(settings.get("DATABASE_URL") or ""), sqlite_path=self.data_dir / SQLITE_NAME,
                           vector_search=str(settings.get("LIBRARY_VECTOR_SEARCH") or "auto"))
        self.db.migrate()
        self.store = LibraryStore(self.db)
        self.model = model_name(settings)
        self.cache = VectorCache(self.store, model=self.model)
        self._query_lock = threading.Lock()
        self._query_vectors: dict[str, np.ndarray] = {}

    # -- indexing (the worker) ------------------------------------------------
    def index_file(self, *, owner: str, session_id: str, filename: str, results_dir: Path,
                   embed_new: bool = True) -> dict[str, Any]:
        """Index one upload's results. `embed_new` False: no embedding model is loaded; passages whose text the
        owner's library has no vector for are left out and counted in `unembedded` (index again to embed them)."""
        doc = read_track(owner=owner, session_id=session_id, filename=filename, results_dir=results_dir)
        if doc.empty:
            removed = self.store.remove(owner=owner, track_ids=[doc.track_id])
            return {"track_id": doc.track_id, "indexed": False, "removed": removed}
        # loaded only when a passage needs a vector the library does not hold already
        embed = (lambda texts: embedder(self.settings, purpose=INDEXING)(texts)) if doc.passages and embed_new else None
        counts = self.store.upsert(doc, embed=embed, model=self.model)
        return {"track_id": doc.track_id, "indexed": True, **counts}

    def reindex(self, *, owner: str) -> dict[str, Any]:
        """Rebuild `owner`'s tracks from their session files; tracks whose upload is gone leave the index."""
        sessions = SessionRoot(self.data_dir).of(owner)
        seen, indexed, errors = set(), 0, []
        for session_id in sessions.session_ids():
            results = sessions.session_dir(session_id) / "results"
            for name in sessions.upload_names(session_id):
                try:
                    out = self.index_file(owner=owner, session_id=session_id, filename=name, results_dir=results)
                except Exception as e:  # one bad file does not stop the rebuild; its name is reported
                    log.warning("library: reindexing %s/%s failed", session_id, name, exc_info=True)
                    errors.append({"session_id": session_id, "filename": name, "error": type(e).__name__})
                    continue
                seen.add(out["track_id"])
                indexed += bool(out["indexed"])
        gone = [tid for tid, _, _ in self.store.session_tracks(owner=owner) if tid not in seen]
        removed = self.store.remove(owner=owner, track_ids=gone) if gone else 0
        return {"owner": owner, "tracks_indexed": indexed, "tracks_removed": removed, "errors": errors}

    def remove_session(self, *, owner: str, session_id: str) -> int:
        return self.store.remove(owner=owner, session_id=session_id)

    # -- queries (the API) ----------------------------------------------------
    def list_tracks(self, *, owner: str, where: TrackFilter, after: tuple[str, str] | None,
                    limit: int) -> list[dict[str, Any]]:
        return self.store.list_tracks(owner=owner, where=where, after=after, limit=limit)

    def ranked_tracks(self, *, owner: str, where: TrackFilter, by: str, descending: bool,
                      limit: int) -> list[dict[str, Any]]:
        return self.store.ranked_tracks(owner=owner, where=where, by=by, descending=descending, limit=limit)

    def search(self, *, owner: str, query: str, mode: str, limit: int, semantic_min: float = search.SEMANTIC_MIN,
               by_clause: bool = False, content: str | None = None) -> list[dict[str, Any]]:
        """Hits best first, each with its track, and the matching line and/or passage. A passage whose cosine to the
        query is under `semantic_min` is no semantic match; `by_clause`: its cosine is its best to any of the query's
        clauses (library/clauses.py: /library/ask's question, its subject weighed apart from an instruction after
        it; a query of one clause is itself). `content` (speech | music): only tracks measured so, taken from the
        best search.MAX_RESULTS hits of every kind (ranked as without it, so a page holds `limit` of them where
        that many are among those)."""
        ranked = search.MAX_RESULTS if content is not None else limit
        lyrics = semantic = []
        if mode in ("lyrics", "hybrid"):
            lyrics = search.lyrics_hits(self.store, owner=owner, query=query, limit=ranked,
                                        fuzzy=self.db.features.get("fuzzy", "words"))
        if mode in ("semantic", "hybrid"):
            texts = question_clauses(query) if by_clause else [query]
            vectors = np.stack([self.embed_query(t) for t in texts])
            semantic = search.semantic_hits(self.cache, owner=owner, query_vector=vectors, limit=ranked,
                                            min_score=semantic_min)
        hits = search.fuse(lyrics, semantic, limit=ranked) if mode == "hybrid" else (lyrics or semantic)[:ranked]
        tracks = self.store.tracks_by_id(owner=owner, track_ids=[h["track_id"] for h in hits])
        if content is not None:  # the track row says what it was measured as (a track measured as neither: none)
            hits = [h for h in hits if h["track_id"] in tracks and tracks[h["track_id"]]["content"] == content]
        hits = hits[:limit]
        passages = self.store.passages([h["passage_key"] for h in hits if "passage_key" in h])
        out = []
        for h in hits:
            if h["track_id"] not in tracks:  # removed between the two reads
                continue
            key = h.pop("passage_key", None)
            out.append({**h, "passage": passages.get(key) if key else h.get("passage"),
                        "line": h.get("line"), "track": tracks[h["track_id"]]})
        return out

    def text_counts(self, *, owner: str, content: str | None = None) -> tuple[int, int]:
        """(the owner's tracks, those with words to search): what an empty search result says it searched; with
        `content`, of the tracks measured so alone (what a search kept to them searched)."""
        return self.store.text_counts(owner=owner, content=content)

    def embed_query(self, query: str) -> np.ndarray:
        """The query's vector; recent ones are remembered (each page of a search embeds its query again)."""
        with self._query_lock:
            hit = self._query_vectors.get(query)
        if hit is not None:
            return hit
        vector = embedder(self.settings)([query])[0]
        with self._query_lock:
            if len(self._query_vectors) >= QUERY_CACHE:
                self._query_vectors.pop(next(iter(self._query_vectors)))
            self._query_vectors[query] = vector
        return vector

    def similar(self, *, owner: str, track_id: str, limit: int, mix: bool,
                whose: str = "your library") -> dict[str, Any]:
        percent = float(self.settings.get("LIBRARY_MIX_TEMPO_PERCENT", MIX_TEMPO_PERCENT))
        return search.similar_tracks(self.store, self.cache, owner=owner, track_id=track_id, limit=limit, mix=mix,
                                     tempo_percent=percent, whose=whose)

    def describe(self) -> dict[str, Any]:
        return {**self.db.features, "embedding_model": self.model}


def library_for(settings: Mapping[str, Any]) -> Library:
    """This process' library for the settings' database (made and migrated on first use)."""
    key = (str(settings.get("DATABASE_URL") or ""), str(Path(settings["DATA_DIR"]).resolve()),
           str(settings.get("LIBRARY_VECTOR_SEARCH") or "auto"))
    with _lock:
        if key not in _libraries:
            _libraries[key] = Library(settings)
        return _libraries[key]
