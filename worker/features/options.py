"""Options of the audio-features job (POST /process/features/<session_id>). Light: the API imports it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from worker.options import JobOptions, Settings, check_bool


@dataclass(frozen=True)
class FeaturesOptions(JobOptions):
    """What the features job writes besides its JSON and text summary."""

    WHAT: ClassVar[str] = "features"

    picture: bool = True  # features_<stem>.png: waveform, spectrogram, chromagram (~0.3-0.8 s of the job)

    def validate(self, settings: Settings | None = None) -> FeaturesOptions:
        check_bool("picture", self.picture)
        return self
