"""The analyses `analyze` and `batch` can start, from their shared flags, as job requests."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

from .errors import UsageError

# the names the server's accepted formats may carry (worker/audio_io.py's _EXTENSIONS; .opus and .aiff had been
# skipped without a word); `batch --pattern` reaches anything else
AUDIO_SUFFIXES = (".mp3", ".wav", ".wave", ".flac", ".m4a", ".mp4", ".aac", ".ogg", ".oga", ".opus", ".aiff", ".aif",
                  ".aifc", ".webm", ".mka", ".caf", ".wv")
LLM_TASKS = ("transcribe", "analyze")
# the separation route's `format` choices (worker/audio_writers.py AUDIO_FORMATS): without a way to ask, a stranger's
# 10-minute track came back as two 225 MB float WAV stems
STEM_FORMATS = ("wav", "flac", "mp3")
# what --llm asks for without --llm-model, as the web page does: the route's own default (gemma-3n-E4B) had been a
# 409 "weights not on this server" on a server holding only SmolLM2, where the page's analysis of the file ran
LLM_AUTO = "auto"


@dataclass(frozen=True)
class Analysis:
    name: str  # what the user asked for: features, pitch, stems, lyrics, llm-analyze
    job_type: str  # the /process/<job_type> route
    options: dict[str, Any] = field(default_factory=dict)


def add_analysis_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("analyses (none given: --features --pitch)")
    group.add_argument("--features", action="store_true", help="loudness, spectrum, MFCC, chroma (CPU, seconds)")
    group.add_argument("--pitch", action="store_true", help="key, tuning, chords, tempo, beats, melody (CPU)")
    group.add_argument("--stems", action="store_true", help="source separation into stems (demucs; GPU)")
    group.add_argument("--model", metavar="NAME",
                       help="separation model for --stems: htdemucs (default), htdemucs_ft, htdemucs_6s, "
                            "hpss or repet (no weights needed)")
    group.add_argument("--stems-format", metavar="FORMAT", choices=STEM_FORMATS,
                       help="the stems' audio: wav (default; 32-bit float, ~23 MB per stem and minute at 48 kHz "
                            "stereo), flac (24-bit, lossless, about half) or mp3 (320 kbit/s, ~2.4 MB per minute)")
    group.add_argument("--lyrics", action="store_true", help="Whisper transcript of the vocal stem")
    group.add_argument("--transcribe", action="store_true",
                       help="Whisper transcript of the file as it is, no separation (speech: audiobooks, podcasts, "
                            "interviews)")
    group.add_argument("--llm", metavar="TASK", choices=LLM_TASKS,
                       help="an LLM on the audio: transcribe or analyze (models that hear it listen; text-only "
                            "ones read its measured features and transcript)")
    group.add_argument("--llm-max-tokens", metavar="N", type=int,
                       help="the length of --llm's answer in tokens (the server's default 512): an answer cut at it "
                            "is warned of with \"ask for more tokens\", which the CLI had no way to do")
    group.add_argument("--llm-model", metavar="NAME",
                       help=f"the LLM for --llm (default {LLM_AUTO}: the best model the server has for the task)")


def plan(args: argparse.Namespace) -> list[Analysis]:
    """The analyses the flags ask for, in the order they are started (the quick CPU ones first)."""
    if args.model and not args.stems:
        raise UsageError("--model chooses the separation model of --stems: add --stems")
    if args.stems_format and not args.stems:
        raise UsageError("--stems-format chooses the audio format of --stems: add --stems")
    if args.llm_model and not args.llm:
        raise UsageError("--llm-model chooses the model of --llm TASK: add --llm")
    if args.llm_max_tokens is not None and not args.llm:
        raise UsageError("--llm-max-tokens sets the answer's length of --llm TASK: add --llm")
    if args.llm_max_tokens is not None and args.llm_max_tokens < 1:
        raise UsageError("--llm-max-tokens must be 1 or more")
    if args.lyrics and args.stems and args.model == "hpss":  # found out after the separation had run (15 s)
        raise UsageError("--lyrics transcribes the vocal stem, and hpss makes none (its stems are harmonic and "
                         "percussive): use --model repet (no weights needed) or htdemucs")
    if args.lyrics and args.transcribe:  # both write transcript_<name>.*: the second would replace the first
        raise UsageError("--lyrics (the vocal stem) and --transcribe (the file as it is) write the same transcript "
                         "files: choose one")
    out: list[Analysis] = []
    if args.features:
        out.append(Analysis("features", "features"))
    if args.pitch:
        out.append(Analysis("pitch", "pitch"))
    if args.stems:
        stems: dict[str, Any] = {"model": args.model} if args.model else {}
        if args.stems_format:
            stems["format"] = args.stems_format
        out.append(Analysis("stems", "demucs", stems))
    if args.lyrics:
        out.append(Analysis("lyrics", "whisper", {"source": "vocals"}))
    if args.transcribe:  # speech needs no separation: --lyrics had been the CLI's only transcript, of a vocal stem
        out.append(Analysis("transcript", "whisper", {"source": "mix"}))
    if args.llm:
        options: dict[str, Any] = {"task": args.llm, "model_variant": args.llm_model or LLM_AUTO}
        if args.llm_max_tokens is not None:  # the server refuses one past its maximum (400, naming it)
            options["max_new_tokens"] = args.llm_max_tokens
        out.append(Analysis(f"llm-{args.llm}", "gemma_3n", options))
    return out or [Analysis("features", "features"), Analysis("pitch", "pitch")]
