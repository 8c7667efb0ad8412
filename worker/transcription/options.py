"""Options of the transcription job (POST /process/whisper/<session_id>). Light: the API imports it.

The model sizes and language codes are faster-whisper's own lists, copied here so that validating a
request does not import faster-whisper (CTranslate2, PyAV) into the API; a test keeps them equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from worker.errors import InvalidRequestError
from worker.options import JobOptions, Settings, option

DEFAULT_MODEL = "tiny.en"
DEFAULT_BEAM_SIZE = 5  # beam 1 garbles words on tiny.en (shared/TINY_MODELS.md)
MAX_BEAM_SIZE = 10
TASKS = ("transcribe", "translate")
SOURCES = ("mix", "vocals")
WHISPER_SUBDIR = "whisper"  # MODELS_DIR/whisper/<name>: converted or custom CTranslate2 models
CT2_FILES = ("model.bin", "config.json")  # what makes a folder a CTranslate2 model
# faster_whisper.available_models() (faster-whisper 1.2.1)
WHISPER_SIZES = ("tiny.en", "tiny", "base.en", "base", "small.en", "small", "medium.en", "medium", "large-v1",
                 "large-v2", "large-v3", "large", "distil-large-v2", "distil-medium.en", "distil-small.en",
                 "distil-large-v3", "distil-large-v3.5", "large-v3-turbo", "turbo")
# faster_whisper.tokenizer._LANGUAGE_CODES (ISO 639-1, plus haw and yue)
LANGUAGES = (
    "af", "am", "ar", "as", "az", "ba", "be", "bg", "bn", "bo", "br", "bs", "ca", "cs", "cy", "da", "de", "el", "en",
    "es", "et", "eu", "fa", "fi", "fo", "fr", "gl", "gu", "ha", "haw", "he", "hi", "hr", "ht", "hu", "hy", "id", "is",
    "it", "ja", "jw", "ka", "kk", "km", "kn", "ko", "la", "lb", "ln", "lo", "lt", "lv", "mg", "mi", "mk", "ml", "mn",
    "mr", "ms", "mt", "my", "ne", "nl", "nn", "no", "oc", "pa", "pl", "ps", "pt", "ro", "ru", "sa", "sd", "si", "sk",
    "sl", "sn", "so", "sq", "sr", "su", "sv", "sw", "ta", "te", "tg", "th", "tk", "tl", "tr", "tt", "uk", "ur", "uz",
    "vi", "yi", "yo", "zh", "yue")


def is_ct2_folder(path: Path) -> bool:
    return path.is_dir() and all((path / f).is_file() for f in CT2_FILES)


def local_model_names(models_dir: Path | None) -> list[str]:
    """Names of CTranslate2 Whisper folders under MODELS_DIR/whisper/ (custom or converted models)."""
    root = Path(models_dir) / WHISPER_SUBDIR if models_dir else None
    if root is None or not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if is_ct2_folder(p))


def available_models(models_dir: Path | None = None) -> list[str]:
    return sorted(set(WHISPER_SIZES) | set(local_model_names(models_dir)))


def _models_dir(settings: Settings | None) -> Path | None:
    return Path(settings["MODELS_DIR"]) if settings and settings.get("MODELS_DIR") else None


@dataclass(frozen=True)
class WhisperOptions(JobOptions):
    WHAT: ClassVar[str] = "whisper"

    model: str = option(DEFAULT_MODEL, "A faster-whisper size (tiny.en, base, small, ...) or a CTranslate2 "
                                       "model under MODELS_DIR/whisper.",
                        choices=lambda settings: available_models(_models_dir(settings)))
    language: str | None = option(None, "ISO 639-1 code of the speech; null: detect it.", choices=LANGUAGES)
    task: str = option("transcribe", "transcribe, or translate to English (needs a multilingual model).",
                       choices=TASKS)
    word_timestamps: bool = option(True, "Times for every word (in the JSON and the .lrc).")
    vad: bool = option(False, "Skip silence with Silero VAD first.")
    source: str = option("mix", "Transcribe the file itself (mix) or its vocal stem (vocals), separating it "
                                "first when missing.", choices=SOURCES)
    beam_size: int = option(DEFAULT_BEAM_SIZE, "Beam search width.", minimum=1, maximum=MAX_BEAM_SIZE)

    @property
    def english_only(self) -> bool:
        return self.model.endswith(".en")

    def check(self, settings: Settings | None) -> None:
        if self.english_only and (self.task == "translate" or self.language not in (None, "en")):
            # the option that asks for another language, as every option error names its option
            raise InvalidRequestError(f"{self.model} only transcribes English: use a multilingual model",
                                      code="invalid_option",
                                      details={"option": "task" if self.task == "translate" else "language"})

    def validate(self, settings: Settings | None = None) -> WhisperOptions:
        valid = available_models(_models_dir(settings))
        if self.model not in valid:  # with its own code: the API tells unknown models apart
            raise InvalidRequestError(f"unknown whisper model {self.model!r}; available: {', '.join(valid)}",
                                      code="unknown_model", details={"available": valid})
        return super().validate(settings)
