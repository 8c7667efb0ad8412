"""What an accepted audio stream may be: duration, sample rate, channels, finite samples of a sane size.

The header (or the container's stream info) is checked first, so a 10-hour file (one that holds a frame at
the tenth hour) or a 384 kHz x 32-channel one is refused before a single block is decoded; the streaming
decode that follows re-checks the length it actually finds (a header may omit or
understate it) and stops as soon as the limit is passed, so no file costs more
decoding than the limit allows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from worker.errors import AudioError, AudioTooLongError


@dataclass(frozen=True)
class AudioLimits:
    max_duration: float | None = None  # s
    max_sample_rate: int | None = None  # Hz
    min_sample_rate: int | None = None  # Hz
    max_channels: int | None = None

    def check_header(self, *, sample_rate: int, channels: int, duration: float | None) -> None:
        """Refuse what the header already shows to be over a limit (`duration` None: not declared)."""
        if sample_rate <= 0 or channels <= 0:
            raise AudioError("the file declares no sample rate or no channels", code="invalid_audio")
        if self.max_sample_rate is not None and sample_rate > self.max_sample_rate:
            raise AudioError(f"the sample rate is {sample_rate} Hz; the limit is {self.max_sample_rate} Hz",
                             code="sample_rate_too_high")
        if self.min_sample_rate is not None and sample_rate < self.min_sample_rate:
            raise AudioError(f"the sample rate is {sample_rate} Hz; the lowest accepted is {self.min_sample_rate} Hz",
                             code="sample_rate_too_low")
        if self.max_channels is not None and channels > self.max_channels:
            raise AudioError(f"the file has {channels} channels; the limit is {self.max_channels}",
                             code="too_many_channels")
        if duration is not None:
            self.check_duration(duration)

    def believed(self, duration: float | None, borne_out: Callable[[], bool]) -> float | None:
        """A header's length `duration` (None: not declared), as far as it may decide. Past the limit it refuses
        the file only where `borne_out()` (the file holds a frame at its end: worker/declared_length.py); where
        not, it is not believed (None): the decode measures the file, stopping past the limit, and a 48 s FLAC
        whose STREAMINFO said 715827.9 s is taken as the 48 s it holds."""
        if duration is None or self.max_duration is None or duration <= self.max_duration:
            return duration
        if borne_out():
            self.check_duration(duration)
        return None

    def check_duration(self, duration: float, *, at_least: bool = False) -> None:
        """`at_least`: the decode stopped at the limit, so the real length is only known to be longer."""
        if self.max_duration is not None and duration > self.max_duration:
            raise AudioTooLongError(f"audio lasts {'more than ' if at_least else ''}{duration:.1f} s; "
                                    f"the limit is {self.max_duration:.0f} s")

    def max_frames(self, sample_rate: int) -> float:
        """Frames past which the decode stops and the file is too long (inf: no limit)."""
        return float("inf") if self.max_duration is None else self.max_duration * sample_rate


# A float file's full scale is 1.0, but some tools store integer sample values as floats (up to 2**31 for 32-bit
# PCM), and the analyses normalise them. Far beyond that no level means anything, and the squares the analyses
# take overflow float32 (a stranger's 1e30 WAV failed features with internal_error): such files are refused.
DIGITAL_SILENCE_PEAK = 1e-4  # of full scale (-80 dBFS): a peak at or below it is digital silence, no sound
MAX_SAMPLE_MAGNITUDE = float(2**31)


def check_finite(block: np.ndarray) -> None:
    """Refuse NaN or infinite samples (float WAV/FLAC can hold them; every analysis would break on them) and
    samples beyond MAX_SAMPLE_MAGNITUDE."""
    peak = float(np.max(np.abs(block), initial=0.0))  # NaN when any sample is NaN, inf when any is infinite
    if not np.isfinite(peak):
        raise AudioError("the audio holds NaN or infinite sample values", code="non_finite_samples")
    if peak > MAX_SAMPLE_MAGNITUDE:
        raise AudioError(f"the audio's sample values reach {peak:.3g}, beyond {MAX_SAMPLE_MAGNITUDE:.0f} (a float "
                         "file's full scale is 1.0)", code="samples_out_of_range")
