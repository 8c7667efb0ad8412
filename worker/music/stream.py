"""The two passes over the audio that feed every music stage, block by block.

Pass 1 (`scan`): peak, RMS and tuning (spectral peaks of every 8th chroma frame).
Pass 2 (`extract`): the audio normalised to its peak feeds the frame streams at once:
the tuned semitone spectrogram (chroma, key, chords), the onset features (rhythm), the
speech finder (speech.py) and, at 11.025 kHz, the melody tracker. Only per-frame compact features are kept, so memory
grows with the frame count (~35 MB per hour) rather than with the samples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from . import chroma as chroma_mod
from . import melody as melody_mod
from .frames import FrameStream
from .onsets import OnsetFeatures, OnsetScan
from .speech import Speech, SpeechScan

SCAN_STRIDE = 8  # every 8th chroma frame (0.37 s) is scanned for the tuning: the peaks of held notes barely change

Blocks = Callable[[], Iterable[np.ndarray]]  # a fresh iterator of mono 22.05 kHz blocks per call
Laps = Callable[[str], None]
Tick = Callable[[float], None]  # progress of pass 2, 0..1 (of the samples the scan counted)


@dataclass(frozen=True)
class Scan:
    n_samples: int  # at chroma.SR
    peak: float
    rms: float
    tuning_cents: float

    @property
    def duration(self) -> float:
        return self.n_samples / chroma_mod.SR


@dataclass
class Features:
    harmonic: chroma_mod.HarmonicFeatures
    onsets: OnsetFeatures | None
    melody: melody_mod.Melody | None
    speech: Speech | None = None  # the stretches of speech without music (with the onsets: chords, beats)


def scan(blocks: Iterable[np.ndarray], *, expected_samples: int | None = None, tick: Tick | None = None) -> Scan:
    """Pass 1: length, peak, level and tuning. `tick` is told the share of `expected_samples` (the header's length,
    where it states one) read so far."""
    frames = FrameStream(chroma_mod.N_FFT, SCAN_STRIDE * chroma_mod.HOP)
    tuning = chroma_mod.TuningScan()
    n, peak, energy = 0, 0.0, 0.0
    for block in blocks:
        n += len(block)
        if tick is not None and expected_samples:
            tick(min(n / expected_samples, 1.0))
        if len(block):
            peak = max(peak, float(np.max(np.abs(block))))
            energy += float(np.dot(block.astype(np.float64), block.astype(np.float64)))
        tuning.add(frames.push(block))
    tuning.add(frames.finish())
    return Scan(n, peak, float(np.sqrt(energy / max(n, 1))), tuning.cents)


def _melody_blocks(blocks: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(22.05 kHz block, the same span at 11.025 kHz) pairs, the second from a streaming resampler."""
    import soxr

    down = soxr.ResampleStream(chroma_mod.SR, melody_mod.SR, 1, dtype="float32", quality="HQ")
    for block in blocks:
        yield block, down.resample_chunk(block)
    yield np.zeros(0, dtype=np.float32), down.resample_chunk(np.zeros(0, dtype=np.float32), last=True)


def _put(out: np.ndarray, at: int, frames) -> int:
    frames = np.asarray(frames)
    out[:, at : at + frames.shape[1]] = frames
    return at + frames.shape[1]


def extract(blocks: Iterable[np.ndarray], info: Scan, *, onsets: bool, melody: bool, silent: bool,
            laps: Laps, tick: Tick, source_sr: float | None = None) -> Features:
    """Pass 2: harmonic features always, onset features and the melody when asked. `source_sr`: the rate the
    blocks were resampled from (a source under 16 kHz lacks the onset features' top bands: onsets.OnsetScan)."""
    gain = 1.0 / info.peak if not silent and info.peak > 0 else 1.0
    chroma_frames = FrameStream(chroma_mod.N_FFT, chroma_mod.HOP)
    fb = chroma_mod.semitone_filterbank(info.tuning_cents)
    semi = np.zeros((fb.shape[0], info.n_samples // chroma_mod.HOP + 1), dtype=np.float32)  # filled in place
    at = 0
    onset_scan = (OnsetScan(tuning_cents=info.tuning_cents, n_samples=info.n_samples, source_sr=source_sr)
                  if onsets else None)
    melody_scan = melody_mod.MelodyScan(tuning_cents=info.tuning_cents) if melody else None
    speech_scan = SpeechScan() if onsets else None  # chords and beats are what speech must not be given
    seen = 0
    for block, block11 in _melody_blocks(blocks):
        block, block11 = block * np.float32(gain), block11 * np.float32(gain)
        laps("decode")
        at = _put(semi, at, fb @ chroma_frames.push(block))
        laps("chroma")
        if onset_scan is not None:
            onset_scan.push(block)
            laps("onsets")
        if speech_scan is not None:
            speech_scan.push(block)
            laps("speech")
        if melody_scan is not None:
            melody_scan.push(block11)
            laps("melody")
        seen += len(block)
        tick(seen / max(info.n_samples, 1))
    at = _put(semi, at, fb @ chroma_frames.finish())
    harmonic = chroma_mod.harmonic_from_semitone(semi[:, :at], info.tuning_cents)
    laps("chroma")
    onset_feats = onset_scan.finish() if onset_scan is not None else None
    laps("onsets")
    mel = melody_scan.finish() if melody_scan is not None else None
    laps("melody")
    speech = speech_scan.finish() if speech_scan is not None else None
    laps("speech")
    return Features(harmonic, onset_feats, mel, speech)
