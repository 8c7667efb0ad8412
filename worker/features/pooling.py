"""Max-pooling columns for pictures: a whole array at once, or a stream of column blocks.

A picture of a track needs at most a few thousand columns, so the features job keeps the pooled
columns, never the full spectrogram or waveform.
"""

from __future__ import annotations

import math

import numpy as np


def pool_columns(a: np.ndarray, width: int) -> np.ndarray:
    """Max-pool the last axis down to at most `width` columns (keeps transients visible)."""
    n = a.shape[-1]
    if n <= width:
        return a
    step = int(np.ceil(n / width))
    pad = step * int(np.ceil(n / step)) - n
    a = np.pad(a, [(0, 0)] * (a.ndim - 1) + [(0, pad)], mode="edge")
    return a.reshape(*a.shape[:-1], -1, step).max(axis=-1)


class ColumnMaxPool:
    """`pool_columns` of the concatenation of pushed (rows, k) blocks, holding O(rows x width) values.

    With `expected` columns known the result equals `pool_columns` of the whole; without it (or when
    more arrive) the pool halves its resolution whenever it holds 2 x width columns.
    """

    def __init__(self, *, width: int, expected: int | None = None):
        self.width = width
        self.step = max(1, math.ceil(expected / width)) if expected else 1
        self._pooled: list[np.ndarray] = []
        self._count = 0
        self._partial: np.ndarray | None = None  # raw columns of the next pooled one

    def push(self, block: np.ndarray) -> None:
        if self._partial is not None:
            block = np.concatenate([self._partial, block], axis=-1)
        full = block.shape[-1] // self.step * self.step
        if full:
            head = block[..., :full]
            self._pooled.append(head.reshape(*head.shape[:-1], -1, self.step).max(axis=-1))
            self._count += full // self.step
        self._partial = block[..., full:].copy() if full < block.shape[-1] else None
        while self._count > 2 * self.width:  # a long block at a fine step may need several halvings
            self._halve()

    def _halve(self) -> None:
        cols = np.concatenate(self._pooled, axis=-1)
        even = cols.shape[-1] // 2 * 2
        merged = cols[..., :even].reshape(*cols.shape[:-1], -1, 2).max(axis=-1)
        self._pooled = [merged, cols[..., even:]]  # an odd last column stays as it is (a narrower column)
        self._count = merged.shape[-1] + (cols.shape[-1] - even)
        self.step *= 2

    def result(self) -> np.ndarray:
        parts = list(self._pooled)
        if self._partial is not None:
            parts.append(self._partial.max(axis=-1, keepdims=True))
        if not parts:
            raise ValueError("nothing was pushed")
        return pool_columns(np.concatenate(parts, axis=-1), self.width)
