"""In-memory copies of an owner's vectors for exact search, reloaded when the library's generation moves (and,
with pgvector, which searches in the database, only the owner's descriptor standardisation).

Exact search: one matrix product over every passage (or descriptor row) of the owner. At 10,000 tracks
that is milliseconds (bench/library.py); it needs no extension, so SQLite and PostgreSQL search alike.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from .descriptors import NAMES, weighted_matrix
from .pgvector import DescriptorScales, descriptor_scales
from .store import LibraryStore

T = TypeVar("T")
MAX_OWNERS = 32  # owners whose vectors one process keeps at once
MAX_BYTES = 512 * 1024**2  # and at most this much of them (the least recently loaded go first)


@dataclass(frozen=True)
class PassageMatrix:
    keys: list[tuple[str, int]]  # (track_id, passage_no) per row
    matrix: np.ndarray  # (rows, dim) float32, L2-normalised


@dataclass(frozen=True)
class DescriptorMatrix:
    track_ids: list[str]
    index: dict[str, int]
    weighted: np.ndarray  # (tracks, dims): standardised and group-weighted (library/descriptors.py)
    raw: np.ndarray
    gap: np.ndarray  # (dims,): what an unknown value costs (library/descriptors.py's unknown_gap)


class _Cache(Generic[T]):
    def __init__(self, load: Callable[[str], T], size: Callable[[T], int]):
        self.load, self.size = load, size
        self.lock = threading.Lock()
        self.entries: dict[str, tuple[int, T, int]] = {}

    def get(self, owner: str, generation: int) -> T:
        with self.lock:
            hit = self.entries.get(owner)
            if hit is not None and hit[0] == generation:
                return hit[1]
        value = self.load(owner)
        nbytes = self.size(value)
        with self.lock:
            self.entries.pop(owner, None)
            while self.entries and (len(self.entries) >= MAX_OWNERS
                                    or sum(e[2] for e in self.entries.values()) + nbytes > MAX_BYTES):
                self.entries.pop(next(iter(self.entries)))
            self.entries[owner] = (generation, value, nbytes)
        return value


class VectorCache:
    def __init__(self, store: LibraryStore, *, model: str):
        self.store = store
        self.model = model
        self._passages = _Cache(self._load_passages, lambda p: p.matrix.nbytes)
        self._descriptors = _Cache(self._load_descriptors, lambda d: d.weighted.nbytes + d.raw.nbytes)
        self._scales = _Cache(lambda owner: descriptor_scales(store.db, owner=owner), lambda s: s.nbytes)

    def passages(self, owner: str) -> PassageMatrix:
        return self._passages.get(owner, self.store.generation())

    def descriptors(self, owner: str) -> DescriptorMatrix:
        return self._descriptors.get(owner, self.store.generation())

    def descriptor_scales(self, owner: str) -> DescriptorScales:
        return self._scales.get(owner, self.store.generation())

    def _load_passages(self, owner: str) -> PassageMatrix:
        rows = self.store.passage_rows(owner=owner, model=self.model)
        if not rows:
            return PassageMatrix([], np.zeros((0, 1), dtype=np.float32))
        blob = b"".join(r[2] for r in rows)
        matrix = np.frombuffer(blob, dtype=np.float32).reshape(len(rows), -1)
        return PassageMatrix([(r[0], r[1]) for r in rows], matrix)

    def _load_descriptors(self, owner: str) -> DescriptorMatrix:
        rows = [(tid, blob) for tid, blob in self.store.descriptor_rows(owner=owner) if len(blob) == 4 * len(NAMES)]
        raw = (np.frombuffer(b"".join(b for _, b in rows), dtype=np.float32).reshape(len(rows), len(NAMES))
               if rows else np.zeros((0, len(NAMES)), dtype=np.float32))
        ids = [tid for tid, _ in rows]
        weighted, gap = weighted_matrix(raw) if rows else (raw, np.zeros(len(NAMES)))
        return DescriptorMatrix(ids, {t: i for i, t in enumerate(ids)}, weighted, raw, gap)
