"""Options of the MusicGen job (POST /process/musicgen/<session_id>). Light: the API imports it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from huggingface_hub import snapshot_download

from worker.errors import InvalidRequestError
from worker.options import JobOptions, Settings, check_bool, check_number, check_seed, check_text

MODELS = {  # request name -> hub repo id (also the folder name under MODELS_DIR)
    "musicgen-small": "facebook/musicgen-small",
    "musicgen-medium": "facebook/musicgen-medium",
    "musicgen-large": "facebook/musicgen-large",
    "musicgen-melody": "facebook/musicgen-melody",
}
DEFAULT_MODEL = "musicgen-small"
MAX_DURATION_SECONDS = 300.0
MAX_PROMPT_CHARS = 2000
DEFAULT_GUIDANCE = 3.0  # classifier-free guidance, audiocraft's default
DEFAULT_TOP_K = 250  # audiocraft's default


@dataclass(frozen=True)
class MusicGenOptions(JobOptions):
    WHAT: ClassVar[str] = "musicgen"

    prompt: str = ""
    duration_seconds: float = 10.0
    model: str = DEFAULT_MODEL
    temperature: float = 1.0
    top_k: int = DEFAULT_TOP_K  # 0 = no top-k filtering
    guidance_scale: float = DEFAULT_GUIDANCE  # 1 = no guidance (half the compute)
    seed: int | None = None  # None = a random seed, reported in the result for reproduction
    melody_file: str | None = None  # a session file; musicgen-melody only
    mp3: bool = False  # also write an MP3 beside the WAV

    def validate(self, settings: Settings | None = None) -> MusicGenOptions:
        if self.model not in MODELS:
            raise InvalidRequestError(f"unknown musicgen model {self.model!r}; available: {', '.join(MODELS)}",
                                      code="unknown_model", details={"available": list(MODELS)})
        check_text("prompt", self.prompt, max_chars=MAX_PROMPT_CHARS, optional=False, non_empty=True)
        check_number("duration_seconds", self.duration_seconds, 0.1, MAX_DURATION_SECONDS)
        check_number("temperature", self.temperature, 0.01, 5.0)
        check_number("top_k", self.top_k, 0, 4096, integer=True)
        check_number("guidance_scale", self.guidance_scale, 1.0, 20.0)
        check_seed(self.seed)
        if self.melody_file is not None:
            check_text("melody_file", self.melody_file, max_chars=255)
            if self.model != "musicgen-melody":
                raise InvalidRequestError("melody_file needs model musicgen-melody", code="invalid_option")
        check_bool("mp3", self.mp3)
        return self


def find_musicgen(name: str, models_dir: Path | None) -> Path | None:
    """A local folder holding `name`'s config and weights, or None. Never downloads."""
    repo_id = MODELS[name]
    candidates = []
    if models_dir:
        root = Path(models_dir)
        candidates = [root / repo_id, root / name, root / "musicgen" / name]
    for c in candidates:
        if (c / "config.json").is_file() and (any(c.glob("*.safetensors")) or (c / "pytorch_model.bin").is_file()):
            return c
    for cache_dir in ([str(models_dir)] if models_dir else []) + [None]:
        try:
            path = Path(snapshot_download(repo_id, local_files_only=True, cache_dir=cache_dir))
        except Exception:  # noqa: BLE001 - "not in the cache" comes in several exception types
            continue
        if (path / "config.json").is_file():
            return path
    return None
