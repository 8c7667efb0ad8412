"""Pure pieces of the audio-LLM job: chunk plans, features as compact text, the prompt of every pass, the
text report.

No model, no audio decoding, no files: everything here is a function of numbers and strings, so prompts can
be read, tested and benchmarked without loading anything. worker/audio_llm.py runs the passes; its options
live in worker/audio_llm_options.py.

Passes
- audio model, audio within one clip: one pass that hears the clip (task instruction + features).
- audio model, longer audio (map-reduce): one "chunk" pass per clip, each writing notes on its part only,
  then one "merge" pass over the notes (text only) that writes the final answer.
- text-only model: one pass over the features (whole file + a per-section timeline) and, when present,
  a Whisper transcript; the prompt says plainly that the model cannot hear the audio.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CHUNK_NOTE_TOKENS = 256  # tokens at most per chunk's notes: the merge pass must read all of them
TEXT_SECTION_SECONDS = 30.0  # s, timeline resolution given to text-only models
MAX_SECTIONS = 24  # longer audio gets longer sections, so the timeline stays a few hundred tokens
MAX_TRANSCRIPT_CHARS = 6000  # characters of a Whisper transcript put into a prompt (~1.5 k tokens)
SILENT_FRACTION = 0.99  # share of silent frames from which a recording is called silent
MERGE_INPUT_CHARS = 12000  # characters of chunk notes one merge pass reads; beyond that notes merge in groups

# Rough verbal labels put next to the numbers: a small model uses "bright" more reliably than "3400 Hz".
# (upper bound, label), checked in order; the thresholds are conventional mixing-engineer ranges.
LOUDNESS_LABELS = ((-35.0, "very quiet"), (-23.0, "quiet"), (-14.0, "moderate"), (math.inf, "loud"))  # LUFS
BRIGHTNESS_LABELS = ((800.0, "dark"), (1800.0, "warm"), (3500.0, "bright"), (math.inf, "very bright"))  # Hz
NOISINESS_LABELS = ((0.04, "tonal"), (0.12, "mixed"), (math.inf, "noisy or percussive"))  # crossings/sample
CREST_LABELS = ((8.0, "little dynamic range"), (14.0, "moderately dynamic"), (math.inf, "very dynamic"))  # dB

SYSTEM_PROMPTS = {
    "transcribe": ("You are a careful audio transcriber. Report only what the audio or the given measurements "
                   "support; when something cannot be determined, say so instead of guessing."),
    "analyze": ("You are a music analyst. Ground every statement in what you hear or in the measured features "
                "you are given, and do not invent details."),
}
TASK_INSTRUCTIONS = {
    "transcribe": ("1. Transcribe exactly what is said or sung, in order (write [instrumental] where there are "
                   "no words).\n2. Describe the sound: voices, instruments, other sounds, recording quality."),
    "analyze": ("Describe the music's mood, instrumentation, structure (sections and how they change) and "
                "production (mix, dynamics, space), citing the measured features as evidence."),
}
CHUNK_INSTRUCTIONS = {
    "transcribe": ("Write notes on this part only: the exact words said or sung in it ([instrumental] if none), "
                   "then one or two sentences on how it sounds. The notes of all parts are merged later."),
    "analyze": ("Write short notes on this part only: mood, instruments, what changes within it, production. "
                "The notes of all parts are merged later."),
}
MERGE_INSTRUCTIONS = {
    "transcribe": ("Merge them into one answer: first the full transcript in order (no repeated lines at part "
                   "boundaries), then one description of the sound of the whole recording."),
    "analyze": ("Merge them into one analysis of the whole recording: mood, instrumentation, structure (how the "
                "parts follow each other), production. Do not repeat yourself."),
}


@dataclass(frozen=True)
class Span:
    """One chunk or section of the recording, in samples and seconds."""

    index: int
    start: int  # sample index (inclusive)
    end: int  # sample index (exclusive)
    sample_rate: int  # Hz

    @property
    def start_seconds(self) -> float:
        return self.start / self.sample_rate

    @property
    def end_seconds(self) -> float:
        return self.end / self.sample_rate

    @property
    def label(self) -> str:
        return f"{clock(self.start_seconds)}-{clock(self.end_seconds)}"


def plan_chunks(n_samples: int, sample_rate: int, max_seconds: float) -> list[Span]:
    """Split [0, n_samples) into the fewest equal spans of at most `max_seconds` each.

    Equal spans (75 s at 30 s → 3 × 25 s) rather than full clips plus a remainder, so no pass gets a
    fraction-of-a-second tail to describe.
    """
    if n_samples <= 0:
        return []
    limit = max(1, int(max_seconds * sample_rate))
    count = -(-n_samples // limit)
    bounds = [round(i * n_samples / count) for i in range(count + 1)]
    return [Span(i, bounds[i], bounds[i + 1], sample_rate) for i in range(count)]


def plan_sections(n_samples: int, sample_rate: int) -> list[Span]:
    """The timeline of a text-only prompt: ~TEXT_SECTION_SECONDS spans, at most MAX_SECTIONS of them."""
    duration = n_samples / sample_rate if sample_rate else 0.0
    return plan_chunks(n_samples, sample_rate, max(TEXT_SECTION_SECONDS, duration / MAX_SECTIONS))


# BS.1770's loudness is also undefined where every block is under its -70 LUFS gate (features' warning says so)
LOUDNESS_UNDEFINED = "undefined: silent, under 0.4 s, or quieter than -70 LUFS throughout"


def clock(seconds: float) -> str:
    """75.4 → '1:15'."""
    total = int(round(seconds))
    return f"{total // 60}:{total % 60:02d}"


def _label(value: float | None, table: Sequence[tuple[float, str]], *,
           undefined: str = "undefined: silent or under 0.4 s") -> str:
    if value is None:
        return undefined
    return next(name for bound, name in table if value < bound)


def compact_features(features: Mapping) -> dict:
    """The few per-section figures a timeline needs (rounded for JSON and prompts)."""
    def r(value, digits):
        return None if value is None else round(float(value), digits)

    return {
        "loudness_lufs": r(features.get("loudness_lufs"), 1),
        "rms_dbfs": r(features.get("rms_dbfs"), 1),
        "spectral_centroid_hz": r(features.get("spectral_centroid_hz"), 0),
        "zero_crossing_rate": r(features.get("zero_crossing_rate"), 4),
        "dominant_pitch_class": features.get("dominant_pitch_class"),
    }


def top_pitch_classes(features: Mapping, count: int = 3) -> list[tuple[str, float]]:
    names = features.get("chroma_pitch_classes") or []
    dist = features.get("chroma_distribution") or []
    return sorted(zip(names, dist, strict=False), key=lambda kv: -kv[1])[:count]


def describe_features(features: Mapping, *, duration_seconds: float, sample_rate: int) -> str:
    """compute_features' dict as a few compact lines of text (numbers with units and a rough label)."""
    lufs, rms_db, peak_db = features.get("loudness_lufs"), features.get("rms_dbfs"), features.get("peak_dbfs")
    crest = features.get("crest_factor_db")
    centroid = features.get("spectral_centroid_hz")
    zcr = features.get("zero_crossing_rate")
    mfcc = (features.get("mfcc") or {}).get("mean") or []
    pitch = ", ".join(f"{name} {share:.0%}" for name, share in top_pitch_classes(features))
    if features.get("dominant_pitch_class") is None:
        pitch = "none measurable"
    lines = [
        f"- duration {duration_seconds:.1f} s, {features.get('channels', 1)} channel(s), {sample_rate} Hz",
        f"- loudness {_num(lufs, '.1f', ' LUFS')} ({_label(lufs, LOUDNESS_LABELS, undefined=LOUDNESS_UNDEFINED)}), RMS "
        f"{features.get('rms_energy', 0.0):.4f} ({_num(rms_db, '.1f', ' dBFS')}), peak {_num(peak_db, '.1f', ' dBFS')}",
        f"- dynamics: crest factor {_num(crest, '.1f', ' dB')} ({_label(crest, CREST_LABELS)}), "
        f"silent frames {features.get('silence_fraction', 0.0):.0%}",
        f"- brightness: spectral centroid {_num(centroid, '.0f', ' Hz')} ({_label(centroid, BRIGHTNESS_LABELS)}), "
        f"bandwidth {_num(features.get('spectral_bandwidth_hz'), '.0f', ' Hz')}, "
        f"roll-off {_num(features.get('spectral_rolloff_hz'), '.0f', ' Hz')}",
        f"- zero-crossing rate {_num(zcr, '.4f')} ({_label(zcr, NOISINESS_LABELS)})",
        f"- strongest pitch classes (share of chroma energy): {pitch or 'n/a'}",
    ]
    if mfcc:
        lines.append("- timbre, MFCC 1-5 means: " + " ".join(f"{v:.0f}" for v in mfcc[:5]))
    if features.get("silence_fraction", 0.0) >= SILENT_FRACTION:
        lines.append("- the recording is silent (or nearly): no sound to describe")
    return "\n".join(lines)


def describe_timeline(sections: Sequence[tuple[Span, Mapping]]) -> str:
    """One line per section: time span, loudness, brightness, noisiness, dominant pitch class."""
    lines = []
    for span, feats in sections:
        lufs, centroid = feats.get("loudness_lufs"), feats.get("spectral_centroid_hz")
        loudness = _label(lufs, LOUDNESS_LABELS, undefined=LOUDNESS_UNDEFINED)
        lines.append(f"- {span.label}: {_num(lufs, '.1f', ' LUFS')} ({loudness}), "
                     f"centroid {_num(centroid, '.0f', ' Hz')}, zcr {_num(feats.get('zero_crossing_rate'), '.3f')}, "
                     f"dominant {feats.get('dominant_pitch_class') or 'n/a'}")
    return "\n".join(lines)


def _num(value: float | None, fmt: str, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{fmt}}{unit}"


def _extra(user_prompt: str | None) -> str:
    return f"\n\nAdditional instruction from the user: {user_prompt.strip()}" if user_prompt else ""


def truncate_transcript(text: str, limit: int = MAX_TRANSCRIPT_CHARS) -> tuple[str, bool]:
    """(text cut at a word boundary to `limit` characters, whether it was cut)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text, False
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + " […]", True


# ---------------------------------------------------------------------------
# The user turn of each pass
# ---------------------------------------------------------------------------


def single_clip_prompt(task: str, *, features_text: str, user_prompt: str | None = None) -> str:
    """The text that follows the audio of a recording short enough for one pass."""
    return (f"{TASK_INSTRUCTIONS[task]}\n\nMeasured features of this recording:\n{features_text}"
            f"{_extra(user_prompt)}")


def chunk_prompt(task: str, *, span: Span, n_chunks: int, duration_seconds: float, features_text: str,
                 user_prompt: str | None = None) -> str:
    """The text that follows the audio of chunk `span` (the map step)."""
    return (f"This audio is part {span.index + 1} of {n_chunks} ({span.label} of a {clock(duration_seconds)} "
            f"recording).\n{CHUNK_INSTRUCTIONS[task]}\n\nMeasured features of this part:\n{features_text}"
            f"{_extra(user_prompt)}")


def merge_prompt(task: str, *, notes: Sequence[tuple[str, str]], features_text: str, duration_seconds: float,
                 user_prompt: str | None = None, final: bool = True) -> str:
    """The reduce step: `notes` are (time-span label, note text) in order. `final=False` asks for notes
    again (a group merge of a very long recording)."""
    body = "\n\n".join(f"[{label}]\n{text.strip() or '(no notes)'}" for label, text in notes)
    instruction = MERGE_INSTRUCTIONS[task] if final else (
        "Condense them into one set of notes for this stretch, keeping every transcribed word and every "
        "change in the music.")
    return (f"Below are notes written while listening to consecutive parts of one {clock(duration_seconds)} "
            f"recording, in order.\n\n{body}\n\n{instruction}\n\nMeasured features of the whole recording:\n"
            f"{features_text}{_extra(user_prompt)}")


def text_only_prompt(task: str, *, features_text: str, timeline_text: str, transcript: str | None = None,
                     transcript_truncated: bool = False, user_prompt: str | None = None,
                     instruction: str | None = None) -> str:
    """The one pass of a model that cannot hear: measurements (and a Whisper transcript when there is one).
    `instruction`: the analyze task's own, where it is not the music analysis' (a recording of speech)."""
    parts = ["You cannot hear this recording; you are given measurements of it.",
             f"Measured features of the whole recording:\n{features_text}",
             f"Timeline (per section):\n{timeline_text}"]
    if transcript:
        cut = " (cut short)" if transcript_truncated else ""
        parts.append(f"Automatic transcript by Whisper{cut} (may contain recognition errors):\n{transcript}")
    if task == "transcribe":
        if transcript:
            # The answer quotes Whisper's words itself (see transcript_answer): a language model that cannot
            # hear has nothing to add to them but errors, so it is asked for the description only.
            parts.append("The words are transcribed above and will be quoted as they are. Describe the sound of "
                         "the recording from the measurements (voices, instruments, other sounds, recording "
                         "quality), without repeating the words.")
        else:
            parts.append("No transcript is available: say that the words cannot be determined from measurements, "
                         "then describe the sound of the recording from the measurements.")
    else:
        parts.append(instruction or TASK_INSTRUCTIONS["analyze"])
    return "\n\n".join(parts) + _extra(user_prompt)


def transcript_answer(transcript: str, description: str) -> str:
    """The transcribe answer of a text-only model: Whisper's words verbatim, then the model's description."""
    return f"Transcript (Whisper):\n{transcript.strip()}\n\nDescription of the sound:\n{description.strip()}"


def group_for_merge(lengths: Sequence[int], budget: int = MERGE_INPUT_CHARS) -> list[list[int]]:
    """Indices of consecutive notes grouped so each group's total length stays within `budget` where it
    can. Every group holds at least two notes (when there are two), so each round of group merges shrinks
    the list even when single notes are over budget."""
    groups: list[list[int]] = []
    current: list[int] = []
    total = 0
    for i, n in enumerate(lengths):
        if current and total + n > budget and len(current) >= 2:
            groups.append(current)
            current, total = [], 0
        current.append(i)
        total += n
    if current:
        if len(current) == 1 and groups:
            groups[-1].append(current[0])
        else:
            groups.append(current)
    return groups


def render_text(result: Mapping[str, Any]) -> str:
    """The .txt result: what was asked, what the model produced, the chunk notes, the measured features."""
    from worker.features.descriptors import features_summary

    task = "Transcription" if result["task"] == "transcribe" else "Analysis"
    if result["audio_input"]:
        heard = f"the model heard the audio ({result['chunks']} chunk(s) at {result['model_sample_rate']} Hz)"
    else:
        heard = "the model read measured features only" + (
            f" and the Whisper transcript {result['transcript_source']}" if result["transcript_source"] else "")
    lines = [f"{task} of {result['filename']} by {result['model_name']} ({result['model']})",
             f"{result['duration_seconds']:.1f} s; {heard}; {result['generate_calls']} generation pass(es), "
             f"{result['tokens_generated']} tokens in {result['generation_seconds']:.1f} s", "",
             result["analysis_summary"] or "(the model produced no text)", ""]
    if result["chunk_notes"]:
        lines.append("Notes per part")
        for note in result["chunk_notes"]:
            span = Span(0, round(note["start_seconds"] * 1000), round(note["end_seconds"] * 1000), 1000)
            lines += [f"[{span.label}]", note["text"].strip() or "(no notes)", ""]
    return "\n".join(lines) + "\n" + features_summary(dict(result))
