"""The lyrics job for one file: the session's transcript (the work function makes one first when it is
missing) -> an LLM analysis of the words -> lyrics_<stem>.json / .txt."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from worker.audio_llm.files import PARTIAL, TRANSCRIPT_PATTERNS, partial_note
from worker.audio_llm.grounding import describe_music, find_grounding, measure_speech_where_unsaid
from worker.audio_llm.passes import ModelHost
from worker.audio_llm.speech import content as measured_content
from worker.audio_llm.speech import (
    measured_as_speech,
    measured_part,
    measured_share,
    music_talk_warning,
    speech_origin,
    speech_share,
)
from worker.errors import AudioError, JobStopped
from worker.files import remove_result, safe_name, write_json_atomic, write_text_atomic
from worker.image_io import DEFAULT_MAX_IMAGE_PIXELS, open_image
from worker.llm.choice import AUTO, Choice, choose_here
from worker.llm.options import GenerateOptions
from worker.progress import Progress, quiet, scaled
from worker.transcription.pipeline import DOUBTS, SILENT, VOCALS_SILENT

from .explicit import explicit_words
from .options import LyricsOptions
from .prompts import MAX_LINES, SPEECH_SYSTEM, SYSTEM, clock, lyrics_prompt, read_answer, timed_lines, word_count
from .quotes import unheard_quotes, unheard_warning


def transcript_path(results_dir: Path, stem: str) -> Path | None:
    for pattern in TRANSCRIPT_PATTERNS:
        path = Path(results_dir) / safe_name(pattern.format(stem=stem))
        if path.is_file():
            return path
    return None


def run_lyrics(*, audio_path: Path, results_dir: Path, options: LyricsOptions, progress: Progress | None = None,
               manager: ModelHost, image_path: Path | None = None) -> dict:
    """Analyse the words of `audio_path` from its transcript in `results_dir`; write lyrics_<stem>.json|.txt."""
    report = progress or quiet
    started = time.perf_counter()
    audio_path, results_dir = Path(audio_path), Path(results_dir)
    source = transcript_path(results_dir, audio_path.stem)
    if source is None:
        raise AudioError("no transcript of this file: run /process/whisper first", code="missing_transcript")
    transcript = json.loads(source.read_text(encoding="utf-8"))
    lines = timed_lines(transcript)
    options, choice = _resolve_model(options, manager, sees_image=image_path is not None)
    sees_image = image_path is not None and "image" in manager.registry[options.model_variant].get("modalities", ())
    # the speech share measured here where no pitch result says (worker/music/speech_share.py): an audiobook with a
    # transcript alone had been asked "what the song is about"
    grounding = measure_speech_where_unsaid(find_grounding(results_dir, audio_path.stem), audio_path=audio_path,
                                            settings=manager.settings)
    measured = grounding.speech
    speech = speech_share(measured)  # measured as speech: its words are asked about as spoken, not sung
    text, cut = lyrics_prompt(lines, language=transcript.get("language"),
                              music_text=describe_music(grounding.pitch) if grounding.pitch else "",
                              sees_image=sees_image, speech_share=speech)
    content: Any = [{"type": "image"}, {"type": "text", "text": text}] if sees_image else text
    images = [open_image(image_path, max_pixels=_max_pixels(manager))] if sees_image and image_path else None
    report(0.05, "analysing lyrics")
    if not lines:  # no words (an instrumental, silence): nothing for the model to read, ~20 s of it saved
        generated = {"response": "", "model": options.model_variant, "finish_reason": "stop", "tokens_generated": 0,
                     "seconds": 0.0}
    else:
        try:
            generated = manager.generate(GenerateOptions(
                messages=({"role": "user", "content": content},), system=SYSTEM if speech is None else SPEECH_SYSTEM,
                max_length=options.max_new_tokens,
                temperature=options.temperature, seed=options.seed, model_type=options.model_variant),
                images=images, progress=scaled(report, 0.05, 0.95))  # (it had run 0-1 again: backwards, then 100 %
        except JobStopped as e:  # the analysis written so far is the stopped job's (canceled, time limit), as a
            # generation's is: its `finish_reason` the stop's
            if e.generated:
                partial = _result(audio_path, options, choice, transcript, source.name, lines, cut, e.generated,
                                  grounding.sources, pitch=measured)
                partial.update(image=image_path.name if sees_image and image_path is not None else None,
                               processing_seconds=round(time.perf_counter() - started, 3), partial=True)
                e.finished = _write(results_dir, audio_path.stem, partial, quiet)
            raise
    result = _result(audio_path, options, choice, transcript, source.name, lines, cut, generated, grounding.sources,
                     pitch=measured)
    result["image"] = image_path.name if sees_image and image_path is not None else None
    result["processing_seconds"] = round(time.perf_counter() - started, 3)
    return _write(results_dir, audio_path.stem, result, report)


def _resolve_model(options: LyricsOptions, manager: ModelHost, *, sees_image: bool
                   ) -> tuple[LyricsOptions, Choice | None]:
    if options.model_variant != AUTO:
        return options, None
    choice = choose_here("lyrics", needs=("image",) if sees_image else (), settings=manager.settings,
                         registry=manager.registry, device=manager.device)
    return dataclasses.replace(options, model_variant=choice.model_type), choice


def _result(audio_path: Path, options: LyricsOptions, choice: Choice | None, transcript: dict, source: str,
            lines: list[dict], cut: bool, generated: dict, grounded_on: list[str], *,
            pitch: Mapping[str, Any] | None = None) -> dict:
    """`pitch`: the session's music analysis of the file, or the job's own speech measure where it has no share
    (worker/music/speech_share.py), whose speech_share tells speech from song (`content`, `speech_source`)."""
    flagged = explicit_words(lines)
    speech, origin, first = speech_share(pitch), speech_origin(pitch), measured_part(pitch)
    warnings = []
    if speech is not None:  # an audiobook's transcript had been analysed as a song's lyrics, unsaid; who measured
        # it is said (a share this job measured had been put to "the music analysis")
        warnings.append(measured_as_speech(speech, source=origin["speech_source"], first_seconds=first)
                        + ": its transcript was analysed as spoken words, not as a song's lyrics")
    if generated["finish_reason"] == "length":
        warnings.append("the analysis was cut at max_new_tokens (finish_reason: length)")
    if cut:  # how much: a 30-minute talk had been read up to 18:08 of 30:17, "its beginning" alone said
        read, last = lines[MAX_LINES - 1], lines[-1]
        warnings.append("the transcript was too long to quote whole; the analysis read its beginning (its first "
                        f"{MAX_LINES} of {len(lines)} lines, up to {clock(read['end'])} of {clock(last['end'])})")
    if not lines:
        said = transcript.get("warnings") or []
        if SILENT in said:  # Whisper found no sound at all: "may be instrumental" contradicted the transcript's own
            # "the audio is silent" (a stranger's 300 s of zeros)
            warnings.append("the audio is silent: there are no words to analyse (no analysis was generated)")
        elif VOCALS_SILENT in said:  # the mix sounds: the separation put no voice in the stem
            warnings.append("the vocal stem is silent: the separation heard no voice" + (
                "" if speech is not None else ", so the song may be instrumental") + " (no analysis was generated)")
        else:
            warnings.append("the transcript holds no words (no analysis was generated)" if speech is not None else
                            "the transcript holds no words: the song may be instrumental (no analysis was generated)")
    # Whisper's words for music without a voice ("Thank you for watching"), or its uncertain words for a language an
    # English-only model does not know: the analysis of them says so too; with no word there is no analysis to
    # have read them (a stranger's instrumental was told both "no analysis was generated" and "the analysis read")
    doubted = "the analysis read a doubtful transcript" if lines else "the transcript is doubtful"
    warnings += [f"{doubted}: {w}" for w in transcript.get("warnings") or [] if w.startswith(DOUBTS)]
    analysis, notes = read_answer(generated["response"], heard_words=bool(lines))
    warnings += notes + music_talk_warning(generated["response"], speech, source=origin["speech_source"],
                                           first_seconds=first)
    unheard = unheard_quotes(generated["response"], [line["text"] for line in lines])
    if (said := unheard_warning(unheard)) is not None:
        warnings.append(said)
    return {
        "filename": audio_path.name, "model": generated["model"],
        "model_choice": choice.to_dict() if choice is not None else None,
        "language": transcript.get("language"), "transcript_source": source,
        "lines": len(lines), "words": sum(word_count(line["text"]) for line in lines),
        "explicit": {"flagged": bool(flagged), "words": flagged, "method": "word list (worker/lyrics/explicit.py)"},
        "analysis": analysis, "analysis_text": generated["response"],
        "finish_reason": generated["finish_reason"], "tokens_generated": generated["tokens_generated"],
        "generation_seconds": generated["seconds"], "grounded_on": grounded_on, "unheard_quotes": unheard,
        "warnings": warnings, "content": measured_content(pitch), "speech_share": measured_share(pitch),
        **origin, "options": options.to_dict(),
    }


def _write(results_dir: Path, stem: str, result: dict, report: Progress) -> dict:
    """lyrics_<stem>.json|.txt; a stopped analysis's (`partial`: canceled, or stopped by its time limit) as
    partial_lyrics_<stem>.json|.txt, beside a finished one, which removes it."""
    mark = PARTIAL if result.get("partial") else ""
    json_name, txt_name = safe_name(f"{mark}lyrics_{stem}.json"), safe_name(f"{mark}lyrics_{stem}.txt")
    result["files"] = [json_name, txt_name]
    report(0.95, "writing")
    text = _text(result)
    note = partial_note("lyrics analysis", str(result.get("finish_reason"))) if mark else ""
    write_text_atomic(results_dir / txt_name, f"{note}{text}")
    write_json_atomic(results_dir / json_name, result)  # last: its presence means both are complete
    if not mark:
        for name in (json_name, txt_name):
            remove_result(results_dir / safe_name(PARTIAL + name))  # a stopped run's partial one: this is whole
    report(1.0, "done")
    return result


def _text(result: dict) -> str:
    what = "Lyrics" if result.get("content") != "speech" else "Transcript (speech, not a song)"
    # no words: no model was asked (it had read "analysed by smollm2-135m" and "(the model produced no text)")
    by = f"analysed by {result['model']}" if result["lines"] else "not analysed: the transcript holds no words"
    lines = [f"{what} of {result['filename']} (language {result['language'] or 'unknown'}, {result['lines']} lines, "
             f"{by})", ""]
    for name, body in result["analysis"].items():
        if body:
            lines += [name.replace("_", " ").capitalize() + ":", body, ""]
    if not any(result["analysis"].values()) and result["lines"]:
        lines += [result["analysis_text"] or "(the model produced no text)", ""]
    explicit = result["explicit"]
    lines.append("Explicit words: " + (", ".join(f"{w['word']} at {clock(w['time'])}" for w in explicit["words"])
                                       if explicit["flagged"] else "none found"))
    lines += [f"Warning: {w}" for w in result["warnings"]]
    return "\n".join(lines) + "\n"


def _max_pixels(manager: ModelHost) -> int:
    return int(manager.settings.get("MAX_IMAGE_PIXELS") or DEFAULT_MAX_IMAGE_PIXELS)
