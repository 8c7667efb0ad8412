"""The speech share of a file alone, as the pitch job measures it, for a job that has no pitch result to read it from.

The lyrics and compare jobs treat a recording as speech (an audiobook, a talk) only when the session's pitch result
says so (`speech_share`, worker/audio_llm/speech.py); without one an audiobook was asked for "what the song is
about" and compared by key. This runs only what that share is made of, the same code as pitch's two passes
(pipeline._analyze): the level scan (peak, RMS, tuning), then the audio normalised to its peak through the speech
finder (speech.SpeechScan) and the onset features, whose log-mel frames feed the beat network that takes stretches
with a steady beat back out of the speech (speech.without_steady_beats), where there is speech at all. No chroma,
key, chords, tempo, beats or melody: the costly stages. Memory is bounded by the frame count, never the samples:
the file is decoded in blocks for each pass (no held copy of a short file, as pitch keeps), and what is kept per
23 ms frame is the speech finder's three float32 and the onset features' float16 bands, and a file is measured on
its first MEASURE_SECONDS at most (an audiobook of hours speaks in its first ten minutes as in the rest). Measured
on 2 shared cores (load 5-8), 2026-12-07: 0.6 s of CPU for 66 s of espeak-ng speech (pitch: 4.0 s), 1.1 s for 3 min
of a synthetic groove (pitch: 2.0), each +22 MB over the process; past 10 minutes the cap holds it to 5.0 s of CPU and
+35 MB (a 20-minute talk; 11.6 s and +49 MB uncapped, where pitch took 13.9 s and the process 434 MB), 3.2 s and
+31 MB for 30 minutes of music. Of that, the onset features and the beat network are two thirds (cProfile): a file
with no speech stretch could skip them, at a third decode for one with speech. The same share as pitch's on every
file of tests/test_speech_measured_here.py; the first 10 minutes of that 20-minute talk read 0.686 where pitch read
0.723 over all of it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from worker.audio_blocks import mono_blocks, stream_info
from worker.audio_llm.speech import measured_share
from worker.errors import AudioError

from . import beatnet, stream
from . import chroma as chroma_mod
from .onsets import FPS as ONSET_FPS
from .onsets import SILENCE_RMS, OnsetScan
from .speech import SpeechScan, without_steady_beats

log = logging.getLogger(__name__)
# s of a file measured at most: bounds the time and memory of a job that asked for words (the default of the
# SPEECH_MEASURE_SECONDS setting, which the jobs pass as `max_seconds`)
MEASURE_SECONDS = 600.0


def with_speech_share(pitch: Mapping[str, Any] | None, *, audio_path: Path,
                      max_seconds: float = MEASURE_SECONDS) -> Mapping[str, Any] | None:
    """`pitch` where it holds a speech_share; else {"speech_share": measured here, "speech_measured_seconds": of
    how much, "speech_measured_whole": whether that was the whole file (false: its first `max_seconds`, which the
    warnings say)}, for worker/audio_llm/speech.py's content() and speech_share(); `pitch` as it was where the file
    cannot be measured (too short for the pitch job, undecodable: the job goes on as before, unmeasured)."""
    if measured_share(pitch) is not None:
        return pitch
    try:
        share, seconds, whole = _measure(Path(audio_path), max_seconds)
    except (AudioError, OSError, RuntimeError, ValueError) as e:  # a decoder's own errors are among these
        log.info("speech share of %s not measured: %s", Path(audio_path).name, e)
        return pitch
    return {"speech_share": share, "speech_measured_seconds": round(seconds, 3), "speech_measured_whole": whole}


def measure_speech_share(*, audio_path: Path, max_seconds: float = MEASURE_SECONDS) -> tuple[float, float]:
    """(the share of `audio_path`'s first `max_seconds` that is speech without music, 0..1, rounded as
    pitch_<stem>.json's `speech_share` is (0.0 for silence); the seconds measured). Raises AudioError for a file
    the pitch job would refuse as too short."""
    share, seconds, _ = _measure(Path(audio_path), max_seconds)
    return share, seconds


def _measure(audio_path: Path, max_seconds: float) -> tuple[float, float, bool]:
    """measure_speech_share's (share, seconds) and whether those seconds are the whole file (no sample past them)."""
    from .pipeline import _check_duration as check_duration  # the music stages, imported when a file is measured

    info = stream_info(audio_path)
    cut = [False]  # a sample past max_seconds was decoded: the file is longer than what is measured

    def blocks():
        left = int(max_seconds * chroma_mod.SR)
        for block in mono_blocks(audio_path, target_sr=chroma_mod.SR):
            if left <= 0:  # a block past the span (one ended exactly at it): the file goes on
                cut[0] = cut[0] or len(block) > 0
                return
            part = block[:left]
            left -= len(part)
            yield part if np.all(np.isfinite(part)) else np.nan_to_num(part, nan=0.0, posinf=0.0, neginf=0.0)
            if len(part) < len(block):  # the rest is not decoded
                cut[0] = True
                return

    scan = stream.scan(blocks())
    check_duration(scan.duration)
    if scan.rms < SILENCE_RMS or scan.peak <= 0:
        return 0.0, scan.duration, not cut[0]
    gain = np.float32(1.0 / scan.peak)
    speech_scan = SpeechScan()
    onsets = OnsetScan(tuning_cents=scan.tuning_cents, n_samples=scan.n_samples, source_sr=info.sample_rate)
    for block in blocks():
        block = block * gain
        speech_scan.push(block)
        onsets.push(block)
    speech = speech_scan.finish()
    if speech.segments:
        logmel = onsets.finish().logmel
        activation = beatnet.activations(logmel) if logmel is not None else None
        if activation is not None:
            speech = without_steady_beats(speech, activation[0], fps=ONSET_FPS)
    return round(min(1.0, speech.share(scan.duration)), 3), scan.duration, not cut[0]
