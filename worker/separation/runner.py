"""Segmented overlap-add separation with a constant memory ceiling.

`demucs.apply.apply_model` holds the whole track (input and every stem) in memory. This runner reads the
input block by block, runs the model on overlapping windows and hands finished output samples on as soon as
no later window can touch them, so memory is bounded by a few window lengths whatever the track length.

It reproduces apply_model's arithmetic: windows of `segment` seconds every `(1 - overlap) * segment`, a
triangular taper, normalisation by the summed taper, centred context padding of a short last window,
random time shifts ("shift trick") as extra window grids starting up to 0.5 s early, and bags of models
combined with their per-source weights. With `shifts=0` the output equals apply_model's up to float error.

Arrays are numpy float32 shaped `(batch, channels, samples)` in, `(batch, sources, channels, samples)` out.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from worker.progress import Progress

MAX_SHIFT_SECONDS = 0.5  # range of demucs' random shift trick


def triangle_taper(length: int) -> np.ndarray:
    """apply_model's window weight: 1..L/2 then down to 1, divided by its max."""
    w = np.concatenate([np.arange(1, length // 2 + 1), np.arange(length - length // 2, 0, -1)]).astype(np.float32)
    return w / w.max()


@dataclass
class Track:
    """One window grid: one model of a bag with one time shift.

    `apply` maps `(B, C, input_length)` to `(B, S, C, input_length)`. Windows start at `k * stride - delay`.
    """

    apply: Callable[..., np.ndarray]  # (x) or, with reports_progress, (x, report)
    length: int  # samples of audio each window contributes (the segment)
    input_length: int  # samples the model is fed (>= length: some models want a padded "valid length")
    stride: int
    delay: int
    source_weight: np.ndarray  # (S,)
    k: int = 0
    done: bool = False
    taper: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)  # empty: triangle
    # False (a DSP method): a window shorter than `length` (a short file, the last window) is fed as it is,
    # not centred in zeros: a 1 s file had cost a whole 30 s window
    pad_short: bool = True
    # True: `apply(x, report)` calls report(fraction of the window done) as it goes
    reports_progress: bool = False
    # (B, S, C, capacity) from the emitted position on, and the summed taper (capacity,); empty until the first add
    acc: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32), repr=False)
    wsum: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)

    def __post_init__(self) -> None:
        if self.taper.size == 0:
            self.taper = triangle_taper(self.length)

    @property
    def next_start(self) -> int:
        return self.k * self.stride - self.delay

    def windows_for(self, total: int) -> int:
        return max(1, -(-(total + self.delay) // self.stride))

    def add(self, y: np.ndarray, w: np.ndarray, at: int) -> None:
        end = at + y.shape[-1]
        if self.acc.ndim == 1:  # the first window: now the batch, stem and channel counts are known
            self.acc = np.zeros((*y.shape[:-1], max(end, self.length + self.stride)), np.float32)
            self.wsum = np.zeros(self.acc.shape[-1], np.float32)
        elif end > self.acc.shape[-1]:
            grow = end - self.acc.shape[-1]
            self.acc = np.concatenate([self.acc, np.zeros(self.acc.shape[:-1] + (grow,), np.float32)], axis=-1)
            self.wsum = np.concatenate([self.wsum, np.zeros(grow, np.float32)])
        self.acc[..., at:end] += y
        self.wsum[at:end] += w

    def pop(self, n: int) -> np.ndarray:
        """The first n finished samples, normalised by the summed taper, removed from the accumulator."""
        out = self.acc[..., :n] / self.wsum[:n]
        self.acc = np.concatenate([self.acc[..., n:], np.zeros(self.acc.shape[:-1] + (n,), np.float32)], axis=-1)
        self.wsum = np.concatenate([self.wsum[n:], np.zeros(n, np.float32)])
        return out


class InputBuffer:
    """The input signal `(B, C, samples)` read on demand from an iterator of blocks; zeros outside [0, total)."""

    def __init__(self, blocks: Iterable[np.ndarray], batch: int, channels: int):
        self._blocks = iter(blocks)
        self.base = 0
        self.buf = np.zeros((batch, channels, 0), np.float32)
        self.total: int | None = None  # known once the iterator is exhausted

    @property
    def end(self) -> int:
        return self.base + self.buf.shape[-1]

    def ensure(self, upto: int) -> None:
        parts = [self.buf]
        end = self.end
        while self.total is None and end < upto:
            try:
                block = next(self._blocks)
            except StopIteration:
                self.total = end
                break
            parts.append(block.astype(np.float32, copy=False))
            end += block.shape[-1]
        if len(parts) > 1:
            self.buf = np.concatenate(parts, axis=-1)

    def window(self, start: int, length: int) -> np.ndarray:
        out = np.zeros(self.buf.shape[:-1] + (length,), np.float32)
        lo, hi = max(start, self.base), min(start + length, self.end)
        if hi > lo:
            out[..., lo - start:hi - start] = self.buf[..., lo - self.base:hi - self.base]
        return out

    def discard_before(self, pos: int) -> None:
        if pos > self.base:
            cut = min(pos - self.base, self.buf.shape[-1])
            self.buf = self.buf[..., cut:]
            self.base += cut


def overlap_add(tracks: list[Track], blocks: Iterable[np.ndarray], *, batch: int, channels: int,
                total_hint: int, progress: Progress | None = None) -> Iterator[np.ndarray]:
    """Yield finished output blocks `(B, S, C, n)` in order; their lengths sum to the input length.

    `progress(fraction, "separating")` is called after every window; it may raise (cancellation), in which
    case the generator stops there.
    """
    buf = InputBuffer(blocks, batch, channels)
    weight_total = np.sum([t.source_weight for t in tracks], axis=0).astype(np.float32)
    expected = sum(t.windows_for(max(total_hint, 1)) for t in tracks)
    done_windows, emitted = 0, 0
    if progress is not None:
        progress(0.0, "separating")  # the stage leaves "starting" before the first window's work
    while True:
        active = [t for t in tracks if not t.done]
        if active:
            t = min(active, key=lambda tr: tr.next_start)
            c = t.next_start
            buf.ensure(c + t.input_length)
            if buf.total is not None and c >= buf.total:
                t.done = True
                continue
            n = t.length if buf.total is None or c + t.length <= buf.total else buf.total - c
            pad = t.input_length - n if t.pad_short else 0
            x = buf.window(c - pad // 2, n + pad)
            if t.reports_progress and progress is not None:
                y = t.apply(x, _window_report(progress, done_windows, expected))
            else:
                y = t.apply(x)
            y = y[..., pad // 2: pad // 2 + n]
            lo = max(c, 0)  # a shifted grid starts before 0: those samples are padding
            w = t.taper[lo - c:n]
            t.add(y[..., lo - c:] * w, w, lo - emitted)
            t.k += 1
            done_windows += 1
            if progress is not None:
                progress(min(done_windows / expected, 1.0), "separating")
        pending = [t.next_start for t in tracks if not t.done]
        bounds = pending + ([buf.total] if buf.total is not None else [])
        frontier = min(bounds) if bounds else emitted
        if frontier > emitted:
            n = frontier - emitted
            out = sum(t.source_weight[None, :, None, None] * t.pop(n) for t in tracks)
            yield (out / weight_total[None, :, None, None]).astype(np.float32, copy=False)
            emitted = frontier
        if pending:
            buf.discard_before(min(pending) - max(t.input_length for t in tracks))
        else:
            return


def _window_report(progress: Progress, done: int, expected: int) -> Callable[[float], None]:
    def report(fraction: float) -> None:
        progress(min((done + min(max(fraction, 0.0), 1.0)) / expected, 1.0), "separating")

    return report


def demucs_tracks(model, *, segment: float | None, overlap: float, shifts: int, device,
                  seed: int = 0, max_batch: int | None = None) -> list[Track]:
    """Window grids for a demucs model or bag, as apply_model would lay them out."""
    import torch
    from demucs.apply import BagOfModels
    from demucs.htdemucs import HTDemucs

    subs = list(zip(model.models, model.weights, strict=True)) if isinstance(model, BagOfModels) \
        else [(model, [1.0] * len(model.sources))]
    rng = random.Random(seed)
    max_shift = int(MAX_SHIFT_SECONDS * model.samplerate)
    tracks = []
    sub: Any  # a demucs model: its attributes are plain numbers, which torch's Module typing cannot tell
    for sub, weights in subs:
        seg = sub.segment if segment is None else segment
        if isinstance(sub, HTDemucs) and seg > sub.segment:
            seg = sub.segment  # a transformer cannot attend past its training length
        length = int(sub.samplerate * seg)
        if isinstance(sub, HTDemucs) or not hasattr(sub, "valid_length"):
            input_length = length
        else:
            input_length = sub.valid_length(length)
        stride = max(1, int((1 - overlap) * length))
        apply = _torch_apply(sub, device, max_batch, torch)
        delays = [0] if shifts == 0 else [max_shift - rng.randint(0, max_shift) for _ in range(shifts)]
        for d in delays:
            tracks.append(Track(apply, length, input_length, stride, d, np.asarray(weights, np.float32)))
    return tracks


def _torch_apply(model, device, max_batch, torch):
    def apply(x: np.ndarray) -> np.ndarray:
        step = max_batch or x.shape[0]
        outs = []
        with torch.no_grad():
            for i in range(0, x.shape[0], step):
                y = model(torch.from_numpy(np.ascontiguousarray(x[i:i + step])).to(device))
                outs.append(y.float().cpu().numpy())
        return np.concatenate(outs, axis=0)

    return apply


def dsp_tracks(method, *, sample_rate: int, segment: float | None, overlap: float) -> list[Track]:
    """One window grid for a DSP method (`method(x, sr, report=None) -> (B, S, C, n)`): a short window is fed
    at its own length, and the method reports its steps within each window."""
    seg = method.segment if segment is None else segment
    length = max(1, int(sample_rate * seg))
    stride = max(1, int((1 - overlap) * length))

    def apply(x: np.ndarray, report: Callable[[float], None] | None = None) -> np.ndarray:
        return method(x, sample_rate, report=report)

    return [Track(apply, length, length, stride, 0, np.ones(len(method.sources), np.float32), pad_short=False,
                  reports_progress=True)]
