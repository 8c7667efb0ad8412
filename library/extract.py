"""One track's library entry, read from its session's result files (the source of truth).

What is read, for an upload `<stem>.<ext>` (each file optional; unreadable ones are skipped and logged):
    features_<stem>.json     duration, loudness, timbre/harmony/energy descriptors
    pitch_<stem>.json        key (+ Camelot), tempo, metre, chords summary, rhythm descriptors, speech_share
    transcript_<stem>.json   lines with start/end and word times (Whisper); has_vocals
    lyrics_<stem>.json       the LLM's lyrics analysis
    analysis_*_<stem>.json   audio-LLM analyses (gemma_3n ...)
    vocals_<stem>.<fmt>      a separated vocal stem (demucs): its presence is recorded
and, where none of these gives the track's length, the upload's own description (`../uploads/.<name>.json`,
written when it was checked at upload time).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storage import upload_description
from worker.audio_llm.options import TASKS
from worker.audio_llm.speech import measured_share, silent, speech_share
from worker.camelot import camelot_code
from worker.files import safe_name

from .descriptors import descriptor_values

log = logging.getLogger(__name__)

MAX_LINES = 2000  # transcript lines kept per track
MAX_PASSAGES = 48  # embedded passages per track (each costs an embedding)
MAX_PASSAGE_CHARS = 1200
CHUNK_LINES = 3  # transcript lines per embedded passage
TOP_CHORDS = 6
STEM_FORMATS = ("wav", "flac", "mp3")
# Whisper writes words into music without a voice (tiny.en on an instrumental Debian game track: "Let's go.",
# avg_logprob -1.93, word probabilities 0.43 and 0.31), so only words it is sure of say a track has vocals.
# A segment under -1.0 mean log-probability failed (Whisper's own threshold); one whose no-speech probability is
# 0.8 or more is doubted, as the transcript's "may be made up" warning doubts it (worker/transcription/pipeline.py
# DOUBT_NO_SPEECH). It had been 0.6, Whisper's silence threshold taken alone, where Whisper calls a segment silent
# only when its log-probability is under -1.0 too: a stranger's 72 s of clearly spoken English words (ktuberling's,
# tiny.en wrote every one, word probabilities up to 0.99, 100 % voiced, no warning) read no-speech 0.64-0.81 in
# every segment and was listed without vocals.
VOCALS_MIN_WORDS = 3
SEGMENT_MIN_LOGPROB = -1.0
SEGMENT_DOUBT_NO_SPEECH = 0.8
WORD_MIN_PROBABILITY = 0.5
# and a segment the voice activity detector heard no voice in, as the transcript's own "may be made up" warning has
# it (worker/transcription/pipeline.py DOUBT_SPEECH_SHARE): a stranger's Asterisk "tt-monkeys" (monkeys
# screeching, 16 s) was listed with vocals for "We're at the top, we're at the top, ..." (avg_logprob -0.54,
# no-speech 0.597, word probabilities up to 0.97) in a segment 0 % voiced
SEGMENT_MIN_SPEECH_SHARE = 0.1
# Short but clear speech has vocals with fewer sure words: a clip too short for three (a stranger's 3-word "Well
# done dude.", one word at 0.475, had read has_vocals false) when, in the segments above that are not failed,
# doubted or unvoiced, most words are sure (CLEAR_WORD_SHARE) and their voiced time is a good part of the track's
# length (CLEAR_VOICED_SHARE), which a few words written into a long instrumental are not (README: the figures).
CLEAR_WORD_SHARE = 0.6
CLEAR_VOICED_SHARE = 0.25


@dataclass(frozen=True)
class Line:
    text: str
    start: float | None
    end: float | None
    words: list[tuple[str, float | None, float | None]]


@dataclass(frozen=True)
class Passage:
    kind: str  # transcript | lyrics_analysis | analysis
    source: str
    text: str
    start: float | None = None
    end: float | None = None

    @property
    def text_hash(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:32]


@dataclass
class TrackDoc:
    owner: str
    session_id: str
    filename: str
    fields: dict[str, Any] = field(default_factory=dict)
    descriptors: dict[str, float] = field(default_factory=dict)
    lines: list[Line] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    @property
    def track_id(self) -> str:
        return track_id(owner=self.owner, session_id=self.session_id, filename=self.filename)

    @property
    def empty(self) -> bool:
        return not self.sources


def track_id(*, owner: str, session_id: str, filename: str) -> str:
    return hashlib.sha256("\0".join((owner, session_id, filename)).encode()).hexdigest()[:24]


def read_track(*, owner: str, session_id: str, filename: str, results_dir: Path) -> TrackDoc:
    """Everything the session's results say about upload `filename` (a doc with no sources: none yet)."""
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    doc = TrackDoc(owner=owner, session_id=session_id, filename=filename)
    features = _read(doc, results_dir, f"features_{stem}.json")
    pitch = _read(doc, results_dir, f"pitch_{stem}.json")
    transcript_name = next((n for n in (f"transcript_{stem}.json", f"whisper_{stem}.json")
                            if (results_dir / safe_name(n)).is_file()), None)
    transcript = _read(doc, results_dir, transcript_name) if transcript_name else None
    lyrics = _read(doc, results_dir, f"lyrics_{stem}.json")
    f = doc.fields
    if features:
        f["duration_seconds"] = _num(features.get("duration_seconds"))
        f["loudness_lufs"] = _num((features.get("audio_features") or {}).get("loudness_lufs"))
    if pitch:
        _pitch_fields(f, pitch)
    f["speech_share"] = measured_share(pitch)  # speech or music, as the analyze, lyrics and compare jobs decide
    f["silent"] = silent(pitch)  # ... or silence (content "silence"), where the pitch job found nothing to analyse
    f.setdefault("duration_seconds", _num((pitch or transcript or {}).get("duration_seconds")))
    if f["duration_seconds"] is None:  # a track with only stems (their result carries no length) had none
        f["duration_seconds"] = _num((_upload_description(results_dir, filename) or {}).get("duration_seconds"))
    doc.descriptors = descriptor_values(features=features, pitch=pitch)
    if transcript:
        doc.lines = _lines(transcript)
        f["transcript_text"] = " ".join(line.text for line in doc.lines) or None
        doc.passages += _transcript_passages(doc.lines, safe_name(str(transcript_name)))
    analyses: list[str] = []
    if lyrics:
        name = safe_name(f"lyrics_{stem}.json")
        for section, body in (lyrics.get("analysis") or {}).items():
            if isinstance(body, str) and body.strip():
                doc.passages.append(Passage("lyrics_analysis", name, f"{section}: {body.strip()}"[:MAX_PASSAGE_CHARS]))
                analyses.append(f"{section}: {body.strip()}")
    # analysis_<model>_<task>_<stem>.json, a model_type having no underscore: the glob alone had also matched the
    # analyses of another upload whose stem ends in this one's (`live_song` for `song`), so a track's library entry
    # carried the other's analysis
    own = re.compile(rf"analysis_[^_]+_(?:{'|'.join(TASKS)})_{re.escape(stem)}\.json")
    for path in sorted(results_dir.glob(f"analysis_*_{stem}.json")) if results_dir.is_dir() else []:
        if not own.fullmatch(path.name):
            continue
        data = _read(doc, results_dir, path.name)
        text = str((data or {}).get("analysis_summary") or "").strip()
        if text:
            doc.passages += [Passage("analysis", path.name, chunk) for chunk in _chunks(text)]
            analyses.append(text)
    f["analysis_text"] = "\n\n".join(analyses) or None
    doc.passages = doc.passages[:MAX_PASSAGES]
    stem_file = next((safe_name(f"vocals_{stem}.{ext}") for ext in STEM_FORMATS
                      if (results_dir / safe_name(f"vocals_{stem}.{ext}")).is_file()), None)
    if stem_file:
        doc.sources.append(stem_file)
    # vocals: a transcript with words Whisper is sure of says yes, one without says no; a vocal stem alone
    # proves nothing. A track the pitch job measured as speech (content "speech") has a voice whatever Whisper
    # made of its words: French through tiny.en, no word sure, had been listed as speech without vocals
    f["has_vocals"] = has_vocals(transcript) if transcript is not None else None
    if speech_share(pitch) is not None:
        f["has_vocals"] = True
    return doc


def _pitch_fields(f: dict[str, Any], pitch: Mapping[str, Any]) -> None:
    key = pitch.get("key") if isinstance(pitch.get("key"), Mapping) else None
    if key and key.get("tonic") and key.get("mode"):
        f["key_label"] = str(key.get("label") or f"{key['tonic']} {key['mode']}")
        f["key_mode"] = str(key["mode"])
        f["camelot"] = camelot_code(tonic=str(key["tonic"]), mode=str(key["mode"]))
        f["key_confidence"] = _num(key.get("confidence"))
    f["tempo_bpm"] = _num(pitch.get("tempo_bpm"))
    f["metre"] = pitch.get("time_signature") if isinstance(pitch.get("time_signature"), str) else None
    f["chords_summary"] = _chords_summary(pitch.get("chords") or [])


def _chords_summary(chords: list[Any]) -> str | None:
    share: dict[str, float] = {}
    for c in chords:
        if isinstance(c, Mapping) and c.get("label") not in (None, "N"):
            share[str(c["label"])] = share.get(str(c["label"]), 0.0) + max(
                0.0, float(c.get("end") or 0) - float(c.get("start") or 0))
    total = sum(share.values())
    if total <= 0:
        return None
    ranked = sorted(share.items(), key=lambda kv: -kv[1])[:TOP_CHORDS]
    return ", ".join(f"{label} {100 * s / total:.0f}%" for label, s in ranked)


def has_vocals(transcript: Mapping[str, Any]) -> bool:
    """Whether the transcript says the track has a voice: VOCALS_MIN_WORDS words Whisper is sure of
    (confident_words), or short but clear speech (see CLEAR_WORD_SHARE)."""
    sure = words = 0
    voiced = 0.0
    for seg, probabilities in _sure_segments(transcript):
        sure += sum(1 for p in probabilities if p is None or p >= WORD_MIN_PROBABILITY)
        words += len(probabilities)
        start, end, share = _num(seg.get("start")), _num(seg.get("end")), _num(seg.get("speech_share"))
        if start is not None and end is not None:
            voiced += max(0.0, end - start) * (1.0 if share is None else share)
    if sure >= VOCALS_MIN_WORDS:
        return True
    length = _num(transcript.get("duration_seconds"))
    return (sure > 0 and sure >= CLEAR_WORD_SHARE * words and length is not None and length > 0
            and voiced >= CLEAR_VOICED_SHARE * length)


def confident_words(transcript: Mapping[str, Any]) -> int:
    """Words of the transcript Whisper is sure of: in a segment it did not judge failed (avg_logprob at least
    SEGMENT_MIN_LOGPROB) or doubted (no_speech_prob under SEGMENT_DOUBT_NO_SPEECH) and that is voiced
    (speech_share at least SEGMENT_MIN_SPEECH_SHARE), each with a probability
    of at least WORD_MIN_PROBABILITY. Figures a transcript does not carry (older files) count as sure."""
    return sum(sum(1 for p in probabilities if p is None or p >= WORD_MIN_PROBABILITY)
               for _, probabilities in _sure_segments(transcript))


def _sure_segments(transcript: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], list[float | None]]]:
    """The segments Whisper did not judge failed or doubted and that are voiced (confident_words), each with its
    words' probabilities (None: not given; a segment without words: one None per word of its text)."""
    for seg in transcript.get("segments") or []:
        if not isinstance(seg, Mapping):
            continue
        logprob, no_speech = _num(seg.get("avg_logprob")), _num(seg.get("no_speech_prob"))
        voiced = _num(seg.get("speech_share"))
        if (logprob is not None and logprob < SEGMENT_MIN_LOGPROB) or (
                no_speech is not None and no_speech >= SEGMENT_DOUBT_NO_SPEECH) or (
                voiced is not None and voiced < SEGMENT_MIN_SPEECH_SHARE):
            continue
        words = [w for w in seg.get("words") or [] if isinstance(w, Mapping)]
        if not words:
            yield seg, [None] * len(str(seg.get("text") or "").split())
            continue
        yield seg, [_num(w.get("probability")) for w in words if str(w.get("word", "")).strip()]


def _lines(transcript: Mapping[str, Any]) -> list[Line]:
    out = []
    for seg in (transcript.get("segments") or [])[:MAX_LINES]:
        if not isinstance(seg, Mapping) or not str(seg.get("text") or "").strip():
            continue
        words = [(str(w.get("word", "")).strip(), _num(w.get("start")), _num(w.get("end")))
                 for w in seg.get("words") or [] if isinstance(w, Mapping)]
        out.append(Line(str(seg["text"]).strip(), _num(seg.get("start")), _num(seg.get("end")), words))
    return out


def _transcript_passages(lines: list[Line], source: str) -> list[Passage]:
    out = []
    for i in range(0, len(lines), CHUNK_LINES):
        chunk = lines[i:i + CHUNK_LINES]
        text = " ".join(line.text for line in chunk)[:MAX_PASSAGE_CHARS]
        out.append(Passage("transcript", source, text, chunk[0].start, chunk[-1].end))
    return out


def _chunks(text: str) -> list[str]:
    parts = [p.strip() for p in text.split("\n\n") if p.strip()]
    out: list[str] = []
    for p in parts:
        out += [p[i:i + MAX_PASSAGE_CHARS] for i in range(0, len(p), MAX_PASSAGE_CHARS)]
    return out


def _upload_description(results_dir: Path, filename: str) -> dict[str, Any] | None:
    """What the upload route measured of the file (format, duration, rate; api/uploads.py), None if unread."""
    path = upload_description(results_dir.parent / "uploads" / safe_name(filename))
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _read(doc: TrackDoc, results_dir: Path, name: str) -> dict[str, Any] | None:
    path = results_dir / safe_name(name)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        log.warning("library: skipping unreadable %s: %s", path.name, e)
        return None
    if not isinstance(data, dict):
        return None
    doc.sources.append(path.name)
    return data


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
