"""One streaming pass over a recording for the audio-LLM processor: the whole track's features, each span's
features and (for models that hear audio) the 16 kHz mono copy the passes hear, kept in a temporary file.

Memory is bounded by the decoder's block and one span, whatever the duration: the features come from
streaming accumulators (worker/features/descriptors.py, equal to the whole-array computation), and a chunk
of model audio is read from the file only when its pass runs. The previous version held the waveform at
the file's rate, its mono mix and the 16 kHz copy at once (~1.5 GB for an hour of 44.1 kHz stereo).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from threadpoolctl import threadpool_limits

from worker.audio_blocks import resampled_blocks
from worker.audio_io import to_mono
from worker.errors import AudioError
from worker.features.descriptors import FeatureAccumulator
from worker.progress import Progress, quiet

from .prompts import Span

_FLOAT32 = np.dtype(np.float32)
PROGRESS_STEP = 0.05  # report the decode's progress at most every 5 % of the file


class ModelAudio:
    """A recording as (n,) float32 mono at `rate` Hz in an unnamed temporary file; `read` returns one span.

    The file lives in `spill_dir` (the job passes its results folder, on the data disk whose free space
    is watched) and disappears when closed or collected: nothing is left behind by a failed job.
    """

    def __init__(self, *, rate: int, spill_dir: Path | None = None):
        self.rate = rate
        self.samples = 0
        self._file: IO[bytes] = tempfile.TemporaryFile(dir=spill_dir, prefix=".model-audio-")
        self._spill_dir = spill_dir

    def append(self, samples: np.ndarray) -> None:
        self._file.write(np.ascontiguousarray(samples, dtype=_FLOAT32).tobytes())
        self.samples += len(samples)

    def read(self, start_seconds: float, end_seconds: float) -> np.ndarray:
        """The samples of [start, end) seconds (clamped to the recording)."""
        start = min(max(round(start_seconds * self.rate), 0), self.samples)
        end = min(max(round(end_seconds * self.rate), start), self.samples)
        self._file.flush()
        data = os.pread(self._file.fileno(), (end - start) * _FLOAT32.itemsize, start * _FLOAT32.itemsize)
        return np.frombuffer(data, dtype=_FLOAT32).copy()

    def resampled(self, rate: int, *, block_seconds: float = 30.0) -> ModelAudio:
        """The same recording at another rate (a model whose extractor wants it), streamed block by block."""
        out = ModelAudio(rate=rate, spill_dir=self._spill_dir)
        step = max(1, int(block_seconds * self.rate))
        blocks = ((self.read(start / self.rate, (start + step) / self.rate), self.rate)
                  for start in range(0, self.samples, step))
        for block in resampled_blocks(blocks, rate):
            out.append(block)
        return out

    def close(self) -> None:
        self._file.close()


@dataclass(frozen=True)
class AudioClip:
    """One pass's share of the model audio, read from the file when the pass runs."""

    source: ModelAudio
    start_seconds: float
    end_seconds: float

    def read(self) -> np.ndarray:
        return self.source.read(self.start_seconds, self.end_seconds)


@dataclass
class Measured:
    """What one pass over the recording found."""

    sample_rate: int  # Hz, the recording's
    channels: int
    samples: int  # per channel, as decoded
    features: dict  # compute_features of the whole recording (all channels)
    spans: list[Span]  # the planned spans, their ends set by the samples decoded
    span_features: list[dict]  # compute_features of each span (all channels, as the whole's)
    model_audio: ModelAudio | None  # the mono mix at the model's rate, when the model hears audio


class _SpanCursor:
    """Routes (channels, n) blocks into one feature accumulator per span, in order, finishing each when passed.
    Every channel, as the whole recording's accumulator has: a stereo track's one section measured on its mono
    mix read -24.3 LUFS beside the whole track's -18.4 for the same 27 s (a stranger's trial).

    The spans were planned from the declared length; when the decoder delivers more, the last span grows
    (up to `max_samples`, then a new one starts); when it delivers less, the spans past the end are dropped.
    """

    def __init__(self, spans: list[Span], *, sample_rate: int, channels: int, max_samples: int):
        self.planned, self.sr, self.channels, self.max_samples = spans, sample_rate, channels, max_samples
        self.done: list[tuple[Span, dict]] = []
        self.index, self.start, self.held = 0, spans[0].start if spans else 0, 0
        self.acc: FeatureAccumulator | None = None

    def _end(self) -> int:
        if self.index < len(self.planned):
            return self.planned[self.index].end
        return self.start + self.max_samples  # past the plan: spans of the longest allowed length

    def push(self, block: np.ndarray) -> None:
        pos, n = 0, block.shape[1]
        while pos < n:
            if self.acc is None:
                self.acc = FeatureAccumulator(sample_rate=self.sr, channels=self.channels,
                                              expected_frames=self._end() - self.start)
            take = min(n - pos, self._end() - (self.start + self.held))
            self.acc.push(block[:, pos:pos + take])
            self.held += take
            pos += take
            if self.start + self.held >= self._end():
                self._close()

    def _close(self) -> None:
        if self.acc is None or self.held == 0:
            return
        end = self.start + self.held
        self.done.append((Span(len(self.done), self.start, end, self.sr), self.acc.finish().features))
        self.index, self.start, self.held, self.acc = self.index + 1, end, 0, None

    def finish(self) -> tuple[list[Span], list[dict]]:
        self._close()
        return [s for s, _ in self.done], [f for _, f in self.done]


def measure_blocks(blocks: Iterable[np.ndarray], *, sample_rate: int, channels: int, spans: list[Span],
                   max_span_samples: int, model_rate: int | None, spill_dir: Path | None = None,
                   progress: Progress = quiet) -> Measured:
    """Consume (channels, n) float32 blocks at `sample_rate` Hz once.

    spans: planned from the declared length; max_span_samples: the longest span (the model's clip) when
    the recording runs past the plan; model_rate: the rate of the mono copy the model hears (None: none);
    progress: the fraction decoded, every PROGRESS_STEP (it may raise JobCanceled: the job stops here).
    """
    planned = spans[-1].end if spans else 0
    reported = 0.0
    whole = FeatureAccumulator(sample_rate=sample_rate, channels=channels,
                               expected_frames=spans[-1].end if spans else None, spill_dir=spill_dir)
    cursor = _SpanCursor(spans, sample_rate=sample_rate, channels=channels, max_samples=max_span_samples)
    model_audio = ModelAudio(rate=model_rate, spill_dir=spill_dir) if model_rate else None
    resampler = None
    if model_rate and model_rate != sample_rate:
        import soxr

        resampler = soxr.ResampleStream(sample_rate, model_rate, 1, dtype="float32", quality="HQ")
    try:
        # One BLAS thread, as in the features job: a block's matrix products are small, a second thread
        # only spins between them (1.7x the CPU time on a shared 2-core machine).
        with threadpool_limits(limits=1, user_api="blas"):
            for block in blocks:
                whole.push(block)
                cursor.push(block)
                if model_audio is not None:
                    mono = to_mono(block)
                    model_audio.append(resampler.resample_chunk(mono) if resampler is not None else mono)
                done = min(whole.samples / planned, 1.0) if planned else 0.0
                if done - reported >= PROGRESS_STEP:
                    progress(done, "decoding and measuring")
                    reported = done
        if whole.samples == 0:
            raise AudioError("no samples to analyse", code="no_audio")
        if model_audio is not None and resampler is not None:
            model_audio.append(resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
    except BaseException:
        if model_audio is not None:
            model_audio.close()
        raise
    measured_spans, span_features = cursor.finish()
    return Measured(sample_rate=sample_rate, channels=channels, samples=whole.samples,
                    features=whole.finish().features, spans=measured_spans, span_features=span_features,
                    model_audio=model_audio)
