"""Options of the separation job (POST /process/demucs/<session_id>). Light: the API imports it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from worker.audio_writers import AUDIO_FORMATS
from worker.errors import InvalidRequestError
from worker.options import JobOptions, Settings, check_choice, check_number

from .catalog import DSP_METHODS, DSP_STEMS, check_model_name

DEFAULT_MODEL = "htdemucs"
DEFAULT_OVERLAP = 0.25  # fraction of a segment shared with the next (demucs' default)
DEFAULT_SHIFTS = 1  # random time shifts averaged (demucs' default; 0 = deterministic)
SEGMENT_RANGE = (1.0, 60.0)  # seconds; HTDemucs is further capped at its training length (7.8 s)
MAX_OVERLAP = 0.9
MAX_SHIFTS = 10
KNOWN_STEMS = ("drums", "bass", "other", "vocals", "guitar", "piano") + tuple(
    s for stems in DSP_STEMS.values() for s in stems)


@dataclass(frozen=True)
class SeparationOptions(JobOptions):
    WHAT: ClassVar[str] = "separation"

    model: str = DEFAULT_MODEL  # a demucs name (htdemucs, htdemucs_ft, htdemucs_6s, ...) or "hpss" / "repet"
    two_stems: str | None = None  # e.g. "vocals": write vocals and no_vocals (the sum of the others)
    format: str = "wav"  # wav | flac | mp3
    segment: float | None = None  # seconds per window; None = the model's own
    overlap: float = DEFAULT_OVERLAP
    shifts: int = DEFAULT_SHIFTS

    @property
    def is_dsp(self) -> bool:
        return self.model in DSP_METHODS

    def validate(self, settings: Settings | None = None) -> SeparationOptions:
        """400 for any bad option; the model name is checked against local extras under MODELS_DIR too."""
        if not isinstance(self.model, str):
            raise InvalidRequestError("model must be a string", code="invalid_option")
        models_dir = Path(settings["MODELS_DIR"]) if settings and settings.get("MODELS_DIR") else None
        check_model_name(self.model, models_dir)
        return self.validate_settings()

    def validate_settings(self) -> SeparationOptions:
        """Every check but the model name's (for a model that is already loaded)."""
        check_choice("format", self.format, AUDIO_FORMATS)
        if self.two_stems is not None:
            check_choice("two_stems", self.two_stems, DSP_STEMS[self.model] if self.is_dsp else KNOWN_STEMS)
        if self.segment is not None:
            check_number("segment", self.segment, *SEGMENT_RANGE)
        check_number("overlap", self.overlap, 0.0, MAX_OVERLAP)
        check_number("shifts", self.shifts, 0, MAX_SHIFTS, integer=True)
        return self
