"""Options of the MusicGen job (POST /process/musicgen/<session_id>). Light: the API imports it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from worker.errors import InvalidRequestError
from worker.options import JobOptions, Settings, option

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

    prompt: str = option("", "What to make, in words.", required=True, non_empty=True, max_length=MAX_PROMPT_CHARS,
                         example="slow jazz guitar with soft brushes")
    duration_seconds: float = option(10.0, "Seconds of audio; past 30 s each pass continues from the last 10 s.",
                                     minimum=0.1, maximum=MAX_DURATION_SECONDS)
    model: str = option(DEFAULT_MODEL, "The MusicGen checkpoint.", choices=tuple(MODELS))
    temperature: float = option(1.0, "Sampling temperature.", minimum=0.01, maximum=5.0)
    top_k: int = option(DEFAULT_TOP_K, "Sample among the k likeliest tokens (0: no top-k filtering).", minimum=0,
                        maximum=4096)
    guidance_scale: float = option(DEFAULT_GUIDANCE, "Classifier-free guidance (1: none, half the compute).",
                                   minimum=1.0, maximum=20.0)
    seed: int | None = option(None, "For a reproducible piece; null: a random seed, reported in the result.",
                              minimum=0, maximum=2**63 - 1)
    melody_file: str | None = option(None, "An upload of the session whose melody conditions the piece "
                                           "(musicgen-melody only).", max_length=255)
    mp3: bool = option(False, "Also write an MP3 beside the WAV.")

    def check(self, settings: Settings | None) -> None:
        if self.melody_file is not None and self.model != "musicgen-melody":
            raise InvalidRequestError("melody_file needs model musicgen-melody", code="invalid_option")

    def validate(self, settings: Settings | None = None) -> MusicGenOptions:
        # with its own code: the API tells unknown models apart (a non-string is unknown too, never a TypeError)
        if not isinstance(self.model, str) or self.model not in MODELS:
            raise InvalidRequestError(f"unknown musicgen model {self.model!r}; available: {', '.join(MODELS)}",
                                      code="unknown_model", details={"available": list(MODELS)})
        return super().validate(settings)


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
    # here, not with the module (which the API and every worker import): huggingface_hub's client and its HTTP stack
    # cost each process' start ~0.5-1 s, for a lookup only a MusicGen request makes
    from huggingface_hub import snapshot_download

    for cache_dir in ([str(models_dir)] if models_dir else []) + [None]:
        try:
            path = Path(snapshot_download(repo_id, local_files_only=True, cache_dir=cache_dir))
        except Exception:  # noqa: BLE001 - "not in the cache" comes in several exception types
            continue
        if (path / "config.json").is_file():
            return path
    return None
