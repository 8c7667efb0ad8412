"""A few lines a person wants from each kind of finished job: key, tempo, the first chords, the start of the
transcript, the files written. The full results stay in the session (and in --json)."""

from __future__ import annotations

from typing import Any

CHORDS_SHOWN = 8
TEXT_SHOWN = 160


def summary_lines(job: dict[str, Any], *, files: bool = True) -> list[tuple[str, str]]:
    """(label, text) pairs for a finished job; a failed one says why. `files`: a line naming the files written."""
    state = job.get("state")
    if state == "failed":
        err = job.get("error") or {}
        return [("error", f"{err.get('message', 'failed')} ({err.get('code', 'error')})")] + _kept(job)
    if state != "succeeded":
        err = job.get("error") or {}  # a job that could not be followed (its record gone): why, not only that
        return [("state", str(state))] + ([("error", f"{err.get('message')} ({err.get('code')})")] if err else []) \
            + _kept(job)
    result = job.get("result") or {}
    lines = _BY_TYPE.get(str(job.get("type")), lambda r: [])(result)
    # what the result itself doubts ("tempo may be double or half", "no clear key", "may be made up"): a
    # stranger's CLI summary had shown a confident key and tempo where the JSON said otherwise
    # a features job's are about the recording and sit beside its measures (clipped, DC offset): a stranger's
    # summary of a clipped file showed its loudness and no word of the clipping the JSON and .txt named
    warned = [*(result.get("warnings") or []), *((result.get("audio_features") or {}).get("warnings") or [])]
    if any(str(w).startswith(SILENT_ANSWER) for w in warned):  # an LLM analysis that says so of its answer: the
        warned = [w for w in warned if not str(w).startswith("silent:")]  # features' note said it a second time
    if job.get("type") == "pitch" and any(label == "key" and text.startswith(NO_KEY) for label, text in lines):
        warned = [w for w in warned if not str(w).startswith(NO_KEY)]  # the key line says it, with the reason
    lines += [("warning", str(w)) for w in warned]
    written = job.get("files") or result.get("files") or []
    if files and written:
        lines.append(("files", " ".join(written)))
    return lines


PARTIAL_WHY = {"time_limit": "stopped by the server's time limit: partial answer",
               "canceled": "canceled: partial answer"}


def _kept(job: dict[str, Any]) -> list[tuple[str, str]]:
    """What an LLM job stopped midway kept (its `result` marked `partial`, finish_reason "time_limit" or
    "canceled"): a line saying so, then its text as a finished one's summary shows it; a time-limited analysis had
    been summarised by its error alone, the text it wrote left in the session's partial_... files."""
    result = job.get("result")
    if not isinstance(result, dict) or not result.get("partial"):
        return []
    text = _BY_TYPE.get(str(job.get("type")), lambda r: [])(result)
    if not text:
        return []
    return [("partial", PARTIAL_WHY.get(str(result.get("finish_reason")), "partial answer"))] + text


SILENT_ANSWER = "the recording is silent"  # how an LLM analysis' warning of a silent recording begins
NO_KEY = "no clear key"  # the key line of a result without a key, and how the server's warning of it begins
UNCERTAIN_KEY_WARNING = "key uncertain"  # how the server's pitch warnings begin for a key under its confidence bar


# where each job type that keeps a stopped generation's text holds it (of those `batch` runs, only --llm's gemma_3n
# does: features, pitch, stems and Whisper keep nothing when stopped); chunk notes are text an analysis kept too
KEPT_TEXT = {"gemma_3n": "analysis_summary", "lyrics": "analysis_text", "compare": "comparison",
             "generate": "response", "library_ask": "answer"}
KEPT_AS = {"time_limit": "time limit", "canceled": "canceled"}  # a kept text's cell begins with why it stopped


def partial_kept(job: dict[str, Any]) -> dict[str, Any] | None:
    """What a failed (time limit) or canceled job kept of its text, its `result` marked `partial`: {"finish_reason",
    "words" (of the text kept, chunk notes included), "files" (the session's partial_... files)}; else None."""
    result = job.get("result")
    if job.get("state") not in ("failed", "canceled") or not isinstance(result, dict) or not result.get("partial"):
        return None
    texts = [result.get(KEPT_TEXT.get(str(job.get("type")), "")) or ""]
    texts += [n.get("text") or "" for n in result.get("chunk_notes") or [] if isinstance(n, dict)]
    words = sum(len(str(t).split()) for t in texts)
    if not words:
        return None
    return {"finish_reason": result.get("finish_reason"), "words": words, "files": list(result.get("files") or [])}


def brief(job: dict[str, Any]) -> str:
    """One short phrase for a table cell: "C major · 120.0 BPM", "-14.2 LUFS", or the state / error; a job stopped
    midway that kept its text says so, "time limit: partial text kept, 212 words" (it had read "failed: the job ran
    longer than the server's limit ...", as if nothing were kept: the text was in the session's partial_... files)."""
    if (partial := partial_kept(job)) is not None:
        why = KEPT_AS.get(str(partial["finish_reason"]), str(job.get("state")))
        return f"{why}: partial text kept, {partial['words']} word{'s' if partial['words'] != 1 else ''}"
    if job.get("state") == "failed":
        return "failed: " + str((job.get("error") or {}).get("message", ""))
    if job.get("state") != "succeeded":
        return str(job.get("state"))
    result = job.get("result") or {}
    if job.get("type") == "pitch":
        key = key_text(result, confidence=False)
        # the table has no room for the confidence, so a key the server doubts says so: a 0.3 s typewriter click read
        # "G# minor" (confidence 0.02) beside tracks' keys, its warning "key uncertain" in the JSON only
        if key and any(str(w).startswith(UNCERTAIN_KEY_WARNING) for w in result.get("warnings") or []):
            key += " (uncertain)"
        found = [t for t in (key, tempo_text(result, metre=False, confidence=False)) if t]
        return " · ".join(found) or "no key or tempo"
    if job.get("type") == "features":  # the two numbers a producer compares across a folder
        return ", ".join(_features(result)[0][1].split(", ")[:2]) if _features(result) else "done"
    lines = _BY_TYPE.get(str(job.get("type")), lambda r: [])(result)
    return head(lines[0][1], 40) if lines else "done"


def key_text(result: dict[str, Any], *, confidence: bool = True) -> str | None:
    key = result.get("key") or {}
    if not key.get("tonic"):
        return None
    value = key.get("confidence")
    return f"{key['tonic']} {key.get('mode', '')}".strip() + (
        f" (confidence {value:.2f})" if confidence and isinstance(value, int | float) else "")


def key_changes_text(result: dict[str, Any]) -> str | None:
    """Where the key changes (or the music names no one key and moves between several), each key with the time it
    starts, as the page's "Key changes": "C major -> E major at 0:25 -> G# major at 0:49"; None for one key."""
    changes = [c for c in (result.get("key") or {}).get("changes") or [] if isinstance(c, dict)]
    if len(changes) < 2:
        return None

    def clock(seconds: Any) -> str:
        s = max(0, int(seconds)) if isinstance(seconds, int | float) else 0
        return f"{s // 60}:{s % 60:02d}"

    return " -> ".join(str(c.get("label")) + (f" at {clock(c.get('time'))}" if i else "")
                       for i, c in enumerate(changes))


def tempo_text(result: dict[str, Any], *, metre: bool = True, confidence: bool = True) -> str | None:
    bpm = result.get("tempo_bpm")
    if bpm is None:
        return None
    signature = result.get("time_signature") if metre else None
    value = result.get("tempo_confidence")
    return f"{bpm:.1f} BPM" + (f", {signature}" if signature else "") + (
        f" (confidence {value:.2f})" if confidence and isinstance(value, int | float) else "")


def chords_text(result: dict[str, Any]) -> str | None:
    heard = [c.get("label") for c in result.get("chords") or [] if c.get("label") not in (None, "N")]
    # a chord either side of a silence ("N") is one chord to a reader: "C:maj C:maj D:maj" had been shown
    chords = [label for i, label in enumerate(heard) if i == 0 or label != heard[i - 1]]
    if not chords:
        return None
    head = " ".join(chords[:CHORDS_SHOWN])
    return head + (f" … ({len(chords)} chords)" if len(chords) > CHORDS_SHOWN else "")


def head(text: str, limit: int = TEXT_SHOWN) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _pitch(result: dict[str, Any]) -> list[tuple[str, str]]:
    # without a key, why (the key's note): the line had read "no clear key" and a warning "no clear key" after it,
    # the reason in neither where it was the server's plainest ("no clear tonal centre (percussion, noise ...)")
    note = (result.get("key") or {}).get("note")
    key = key_text(result) or ((f"{NO_KEY}: {note}" if note else NO_KEY) if "key" in result else None)
    lines = [("key", key), ("keys", key_changes_text(result)), ("tempo", tempo_text(result)),
             ("chords", chords_text(result))]
    tuning = result.get("tuning_cents")
    if isinstance(tuning, int | float) and abs(tuning) >= 5:
        lines.append(("tuning", f"{tuning:+.0f} cents from A440"))
    return [(label, text) for label, text in lines if text]


def _features(result: dict[str, Any]) -> list[tuple[str, str]]:
    af = result.get("audio_features") or {}
    parts = []
    if af.get("loudness_lufs") is not None:
        parts.append(f"{af['loudness_lufs']:.1f} LUFS")
    if af.get("peak_dbfs") is not None:
        parts.append(f"peak {af['peak_dbfs']:.1f} dBFS")
    if af.get("spectral_centroid_hz"):  # 0 Hz: no sound (a silent file's one measure had been "centroid 0 Hz")
        parts.append(f"centroid {af['spectral_centroid_hz']:.0f} Hz")
    if af.get("dominant_pitch_class"):
        parts.append(f"dominant pitch class {af['dominant_pitch_class']}")
    return [("features", ", ".join(parts))] if parts else []


def _whisper(result: dict[str, Any]) -> list[tuple[str, str]]:
    text = str(result.get("text") or "").strip()
    lang = result.get("language")
    return [("lyrics" if result.get("source") == "vocals" else "transcript",
             (f"[{lang}] " if lang else "") + (head(text) if text else "(nothing heard)"))]


def _demucs(result: dict[str, Any]) -> list[tuple[str, str]]:
    stems = result.get("stems") or []
    return [("stems", f"{', '.join(stems)} ({result.get('model')})")] if stems else []


def _gemma(result: dict[str, Any]) -> list[tuple[str, str]]:
    text = str(result.get("analysis_summary") or "").strip()
    out = [(str(result.get("task") or "llm"), head(text) if text else "(no text)")]
    if result.get("model"):
        # `--llm` asks for `auto`, which may pick a text-only model: its words on the sound come from the measured
        # features, not from listening (a stranger's SmolLM2 described the "instrumentation" of a spoken chapter)
        heard = "heard the audio" if result.get("audio_input") else f"text-only: {_what_it_read(result)}, did not " \
            "hear the audio"
        out.append(("model", f"{result['model']} ({heard})"))
    return out


def _what_it_read(result: dict[str, Any]) -> str:
    """What a text-only model's prompt held, from the result: the measured features always, the session's analyses
    it was grounded on, Whisper's transcript when there was one (this had said "features and transcript" whatever
    it read: a stranger's had no transcript)."""
    transcript = result.get("transcript_source")
    grounded = [str(g) for g in result.get("grounded_on") or [] if g and g != transcript]
    read = ["the measured features"] + ([f"the analysis {', '.join(grounded)}"] if grounded else []) + \
        ([f"the transcript {transcript}"] if transcript else [])
    if len(read) == 1:
        return "read the measured features only (no transcript)"
    return "read " + ", ".join(read[:-1]) + " and " + read[-1]


def _musicgen(result: dict[str, Any]) -> list[tuple[str, str]]:
    seconds = result.get("duration_seconds")
    return [("generated", f"{seconds:.1f} s of audio")] if isinstance(seconds, int | float) else []


_BY_TYPE = {"pitch": _pitch, "features": _features, "whisper": _whisper, "demucs": _demucs,
            "gemma_3n": _gemma, "musicgen": _musicgen}
