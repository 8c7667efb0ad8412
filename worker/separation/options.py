"""Options of the separation job (POST /process/demucs/<session_id>). Light: the API imports it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from worker.audio_writers import AUDIO_FORMATS
from worker.options import JobOptions, Settings, check_choice, option

from .catalog import DSP_METHODS, DSP_STEMS, available_models, check_model_name

DEFAULT_MODEL = "htdemucs"
DEFAULT_OVERLAP = 0.25  # fraction of a segment shared with the next (demucs' default)
DEFAULT_SHIFTS = 1  # random time shifts averaged (demucs' default; 0 = deterministic)
SEGMENT_RANGE = (1.0, 60.0)  # seconds; HTDemucs is further capped at its training length (7.8 s)
MAX_OVERLAP = 0.9
MAX_SHIFTS = 10
KNOWN_STEMS = ("drums", "bass", "other", "vocals", "guitar", "piano") + tuple(
    s for stems in DSP_STEMS.values() for s in stems)


def models_dir(settings: Settings | None) -> Path | None:
    return Path(settings["MODELS_DIR"]) if settings and settings.get("MODELS_DIR") else None


@dataclass(frozen=True)
class SeparationOptions(JobOptions):
    WHAT: ClassVar[str] = "separation"

    model: str = option(DEFAULT_MODEL, "A Demucs model (htdemucs, htdemucs_ft, htdemucs_6s, ... or one under "
                                       "MODELS_DIR/demucs), or a weight-free DSP method: hpss, repet.",
                        choices=lambda settings: available_models(models_dir(settings)))
    two_stems: str | None = option(None, "Write this stem and no_<stem> (the sum of the others) instead of every "
                                         "stem, e.g. vocals.", choices=KNOWN_STEMS)
    format: str = option("wav", "Audio format of the stems.", choices=AUDIO_FORMATS)
    segment: float | None = option(None, "Seconds per window (null: the model's own).",
                                   minimum=SEGMENT_RANGE[0], maximum=SEGMENT_RANGE[1])
    overlap: float = option(DEFAULT_OVERLAP, "Fraction of a window shared with the next.", minimum=0.0,
                            maximum=MAX_OVERLAP)
    shifts: int = option(DEFAULT_SHIFTS, "Random time shifts averaged (0: deterministic; Demucs only).", minimum=0,
                         maximum=MAX_SHIFTS)

    @property
    def is_dsp(self) -> bool:
        return self.model in DSP_METHODS

    def validate(self, settings: Settings | None = None) -> SeparationOptions:
        """400 for any bad option; the model name is checked against local extras under MODELS_DIR too."""
        if isinstance(self.model, str):  # the message lists what is available (the field check would too)
            check_model_name(self.model, models_dir(settings))
        return super().validate(settings)

    def check(self, settings: Settings | None) -> None:
        if self.two_stems is not None and self.is_dsp:
            check_choice("two_stems", self.two_stems, DSP_STEMS[self.model])

    def validate_settings(self) -> SeparationOptions:
        """Every check but the model name's, which needs the installation (for a model already loaded)."""
        self.check_fields(None, skip=("model",))
        self.check(None)
        return self
