"""Options of the audio-features job (POST /process/features/<session_id>). Light: the API imports it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from worker.options import JobOptions, option


@dataclass(frozen=True)
class FeaturesOptions(JobOptions):
    """What the features job writes besides its JSON and text summary."""

    WHAT: ClassVar[str] = "features"

    picture: bool = option(True, "Also draw features_<stem>.png (waveform, spectrogram, chromagram); "
                                 "false saves its drawing time.")
