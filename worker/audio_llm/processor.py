"""Gemma3NProcessor: let a language model listen to a recording (or read its measurements), then transcribe
or analyse it, writing `analysis_<model>_<task>_<stem>.json|.txt` into the session's results.

preprocess (CPU, no model): decode block by block, measure the features of the whole track and of each span with
    the features job's streaming accumulators, plan the passes (worker.audio_llm.prompts) and keep the 16 kHz mono
    copy an audio model hears in a temporary file, read one chunk per pass (worker.audio_llm.measure).
forward (the resident LLM, switched through the ModelManager when another one is loaded): run the passes.
    Audio models (Gemma 3n, Phi-4-multimodal) hear each chunk of at most the model's clip length together
    with that chunk's features; more than one chunk → a merge pass over the chunk notes (map-reduce).
    Text-only models get one pass over the features as text (and a Whisper transcript when one exists).
postprocess: the result dict (the user's contract, result.py) and its two files, written atomically after every pass
    succeeded, so a failed job leaves no partial result; a canceled one, or one stopped by its time limit, keeps
    what it had written, as its own partial_analysis_... files (result.py keep_stopped).

`progress(fraction, stage)` is called before every pass (and during generation); it may raise JobCanceled or
JobTimeLimitError (JobStopped), which propagate.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from worker.audio_blocks import BLOCK_SECONDS, channel_array_blocks, channel_blocks, count_frames, stream_info
from worker.errors import AudioError, InvalidRequestError, JobStopped
from worker.files import remove_result, write_json_atomic, write_text_atomic
from worker.image_io import DEFAULT_MAX_IMAGE_PIXELS, open_image
from worker.llm.choice import AUTO, Choice, choose_here
from worker.llm.generate import audio_sample_rate
from worker.llm.options import GenerateOptions
from worker.llm.weights import registry_entry
from worker.progress import Progress, pass_of, quiet, scaled

from .files import partial_names, result_names
from .grounding import Grounding, describe_music, find_grounding, heard_transcript, measure_speech_where_unsaid
from .measure import AudioClip, measure_blocks
from .options import Gemma3NOptions, check_can_transcribe, clip_seconds, hears_audio
from .passes import Generated, LLMCall, ModelHost, Prepared, looking_at, text_call
from .prompts import (
    CHUNK_NOTE_TOKENS,
    MERGE_INPUT_CHARS,
    SYSTEM_PROMPTS,
    Span,
    chunk_prompt,
    compact_features,
    describe_features,
    group_for_merge,
    merge_prompt,
    plan_chunks,
    plan_sections,
    render_text,
    single_clip_prompt,
    transcript_answer,
)
from .result import analysis_result, keep_stopped, took_running_pass
from .speech import speech_share

log = logging.getLogger(__name__)

MODEL_SAMPLE_RATE = 16000  # Hz: what the Gemma 3n and Phi-4-multimodal feature extractors expect
# Shares of the job's progress bar: decoding + features, model load, the generation passes, writing.
PREPROCESS_END, LOAD_END, PASSES_END = 0.1, 0.2, 0.95



class Gemma3NProcessor:
    """The audio-LLM job for one recording at a time, using `manager`'s resident LLM (switching if needed)."""

    def __init__(self, manager: ModelHost, *, merge_input_chars: int = MERGE_INPUT_CHARS):
        self.manager = manager
        self.merge_input_chars = merge_input_chars  # chunk-note characters one merge pass reads

    @property
    def registry(self) -> Mapping[str, Any]:
        return self.manager.registry

    def resolve_auto(self, options: Gemma3NOptions) -> tuple[Gemma3NOptions, Choice | None]:
        """`model_variant: "auto"` -> the best model this machine has for the task, and why."""
        if options.model_variant != AUTO:
            return options, None
        choice = choose_here(options.task, needs=("image",) if options.image else (), settings=self.manager.settings,
                             registry=self.registry, device=self.manager.device)
        return dataclasses.replace(options, model_variant=choice.model_type), choice

    # -- preprocess ------------------------------------------------------------------------------------
    def preprocess(self, y: np.ndarray, sr: int, *, options: Gemma3NOptions, filename: str,
                   transcript: tuple[str, str] | None = None, grounding: Grounding | None = None) -> Prepared:
        """Measure `y` ((channels, n) or (n,) float32 at `sr` Hz) and plan the passes for `options`.

        transcript: (source file name, text) of a Whisper result (text-only models read it in full);
        grounding: what the session already measured about the track, quoted in every prompt.
        """
        data = np.atleast_2d(np.asarray(y, dtype=np.float32))
        blocks = channel_array_blocks(data, block_frames=max(1024, int(BLOCK_SECONDS * sr)))
        return self._prepare(blocks, sample_rate=sr, channels=data.shape[0], samples=int(data.shape[-1]),
                             options=options, filename=filename, transcript=transcript, grounding=grounding)

    def preprocess_file(self, audio_path: Path, *, options: Gemma3NOptions, transcript: tuple[str, str] | None = None,
                        grounding: Grounding | None = None, spill_dir: Path | None = None,
                        progress: Progress = quiet) -> Prepared:
        """`preprocess` of a file, decoded block by block: memory does not grow with its duration.
        A file whose header does not declare its length is decoded twice (first to count).
        progress: the fraction decoded (0..1), as the decode goes."""
        info = stream_info(audio_path)
        samples = info.frames if info.frames is not None else count_frames(audio_path)
        return self._prepare(channel_blocks(audio_path), sample_rate=info.sample_rate, channels=info.channels,
                             samples=samples, options=options, filename=audio_path.name, transcript=transcript,
                             grounding=grounding, spill_dir=spill_dir, progress=progress)

    def _prepare(self, blocks: Iterable[np.ndarray], *, sample_rate: int, channels: int, samples: int,
                 options: Gemma3NOptions, filename: str, transcript: tuple[str, str] | None,
                 grounding: Grounding | None, spill_dir: Path | None = None, progress: Progress = quiet) -> Prepared:
        options.validate()
        registry_entry(options.model_variant, self.registry)  # 400 for a model this manager does not know
        started = time.perf_counter()
        if samples <= 0:
            raise AudioError("no samples to analyse", code="no_audio")
        audio_input = hears_audio(options.model_variant, self.registry)
        clip = clip_seconds(options.model_variant, self.registry)
        spans = plan_chunks(samples, sample_rate, clip) if audio_input else plan_sections(samples, sample_rate)
        longest = max(s.end - s.start for s in spans)
        measured = measure_blocks(blocks, sample_rate=sample_rate, channels=channels, spans=spans,
                                  max_span_samples=max(longest, int(clip * sample_rate)) if audio_input else longest,
                                  model_rate=MODEL_SAMPLE_RATE if audio_input else None, spill_dir=spill_dir,
                                  progress=progress)
        duration = measured.samples / sample_rate
        features_text = describe_features(measured.features, duration_seconds=duration, sample_rate=sample_rate)
        music_text = describe_music(grounding.pitch) if grounding is not None and grounding.pitch else ""
        features_text = "\n\n".join(filter(None, [features_text, music_text, heard_transcript(
            grounding, audio_input)]))
        prepared = Prepared(
            filename=filename, options=options, duration_seconds=duration, sample_rate=sample_rate,
            music_text=music_text, grounded_on=grounding.sources if grounding is not None else [],
            transcript_doubts=list(grounding.transcript_doubts) if grounding is not None else [],
            channels=channels, features=measured.features, features_text=features_text, audio_input=audio_input,
            speech_share=speech_share(grounding.speech if grounding is not None else None),
            speech=grounding.speech if grounding is not None else None,
            spans=measured.spans, span_features=[compact_features(f) for f in measured.span_features], calls=[])
        if audio_input:
            prepared.model_audio = measured.model_audio
            prepared.model_sample_rate = MODEL_SAMPLE_RATE
            prepared.calls = self._audio_calls(prepared, measured.span_features)
        else:
            prepared.calls = [text_call(prepared, transcript)]
            if transcript:
                prepared.transcript_source, prepared.transcript_text = transcript
        prepared.seconds = time.perf_counter() - started
        return prepared

    def _generate_options(self, options: Gemma3NOptions, *, user: str | list, max_length: int) -> GenerateOptions:
        return GenerateOptions(messages=({"role": "user", "content": user},), system=SYSTEM_PROMPTS[options.task],
                               max_length=max_length, temperature=float(options.temperature), seed=options.seed,
                               model_type=options.model_variant)

    def _audio_calls(self, prepared: Prepared, span_full: list[dict]) -> list[LLMCall]:
        options, spans = prepared.options, prepared.spans
        calls = []
        for span, feats in zip(spans, span_full, strict=True):
            if len(spans) == 1:
                kind, max_length = "single", options.max_new_tokens
                text = single_clip_prompt(options.task, features_text=prepared.features_text,
                                          user_prompt=options.prompt)
            else:
                kind, max_length = "chunk", min(options.max_new_tokens, CHUNK_NOTE_TOKENS)
                part = describe_features(feats, duration_seconds=span.end_seconds - span.start_seconds,
                                         sample_rate=prepared.sample_rate)
                text = chunk_prompt(options.task, span=span, n_chunks=len(spans),
                                    duration_seconds=prepared.duration_seconds, user_prompt=options.prompt,
                                    features_text="\n\n".join(filter(None, [part, prepared.music_text])))
            user = [{"type": "audio"}, {"type": "text", "text": text}]
            calls.append(LLMCall(kind, self._generate_options(options, user=user, max_length=max_length),
                                 clip=self._chunk_audio(prepared, span), span=span))
        return calls

    @staticmethod
    def _chunk_audio(prepared: Prepared, span: Span | None) -> AudioClip:
        if prepared.model_audio is None or span is None:
            raise ValueError("only the audio path cuts chunks")
        return AudioClip(prepared.model_audio, span.start_seconds, span.end_seconds)

    # -- forward -----------------------------------------------------------------------------------------
    def ensure_model(self, prepared: Prepared, *, progress: Progress | None = None) -> float | None:
        """Make the requested model the resident LLM (one LLM at a time). Returns its load seconds when this
        call loaded it. A model whose extractor wants another rate than MODEL_SAMPLE_RATE gets re-cut chunks."""
        model_type = prepared.options.model_variant
        loaded_before = self.manager.current_model == model_type
        llm = self.manager.get_llm(model_type, progress=progress)
        rate, load_seconds = audio_sample_rate(llm), (None if loaded_before else llm.load_seconds)
        del llm  # the manager holds the only long-lived reference
        audio, old_rate = prepared.model_audio, prepared.model_sample_rate
        if prepared.audio_input and audio is not None and old_rate and rate and rate != old_rate:
            prepared.model_audio = audio.resampled(rate)
            prepared.model_sample_rate = rate
            audio.close()
            prepared.calls = [dataclasses.replace(c, clip=self._chunk_audio(prepared, c.span))
                              for c in prepared.calls]
        return load_seconds

    def forward(self, prepared: Prepared, *, progress: Progress | None = None) -> Generated:
        """Run the passes of `prepared` (loading/switching the model first). progress: 0..1 over this stage."""
        report = progress or quiet
        load_seconds = self.ensure_model(prepared, progress=scaled(report, 0.0, 0.05))
        calls = prepared.calls
        total = len(calls) + (1 if len(calls) > 1 else 0)  # map passes + the final merge
        span_of = scaled(report, 0.05, 1.0)
        out = Generated(summary="", model_load_seconds=load_seconds)
        try:
            self._passes(prepared, out, span_of, total)
        except JobStopped as e:  # what it had written is the stopped job's (result.py keep_stopped)
            e.partial = out
            raise
        return out

    def _passes(self, prepared: Prepared, out: Generated, span_of: Progress, total: int) -> None:
        calls = prepared.calls
        notes: list[tuple[str, str]] = []
        for i, call in enumerate(calls):
            span_of(i / total, f"chunk {i + 1}/{len(calls)}" if call.kind == "chunk" else "generating")
            with pass_of(i + 1, total):  # its generation's time left is this pass's: said as "pass 2/4"
                result = self._run(call, out, prepared, final=call.kind != "chunk",
                                   progress=scaled(span_of, i / total, (i + 1) / total))
            if call.kind == "chunk" and call.span is not None:
                span = call.span
                notes.append((span.label, result["response"]))
                out.notes.append({"index": span.index, "start_seconds": round(span.start_seconds, 3),
                                  "end_seconds": round(span.end_seconds, 3), "text": result["response"],
                                  "tokens_generated": result["tokens_generated"],
                                  "features": prepared.span_features[span.index]})
            else:
                out.summary, out.finish_reason, out.final_prompt = (result["response"], result["finish_reason"],
                                                                    call.user_text)
                if call.kind == "text" and prepared.options.task == "transcribe" and prepared.transcript_text:
                    out.summary = transcript_answer(prepared.transcript_text, result["response"])
        if notes:
            merge_progress = scaled(span_of, len(calls) / total, 1.0)
            # Group merges (rare, their count unknown up front) report at the merge share's start: the bar
            # pauses but never runs backwards, and every call still gives a cancel a chance.
            notes = self._condense(prepared, notes, out, progress=lambda fraction, stage: merge_progress(0.0, stage))
            merge_progress(0.0, "merging")
            text = merge_prompt(prepared.options.task, notes=notes, features_text=prepared.features_text,
                                duration_seconds=prepared.duration_seconds, user_prompt=prepared.options.prompt)
            call = looking_at(LLMCall("merge", self._generate_options(prepared.options, user=text,
                                                                      max_length=prepared.options.max_new_tokens)),
                              prepared.image)
            with pass_of(total, total):
                result = self._run(call, out, prepared, final=True, progress=merge_progress)
            out.summary, out.finish_reason, out.final_prompt = result["response"], result["finish_reason"], text
            out.merge_passes += 1

    def _condense(self, prepared: Prepared, notes: list[tuple[str, str]], out: Generated, *,
                  progress: Progress) -> list[tuple[str, str]]:
        """Group merges until the notes fit one merge prompt (only for very long recordings)."""
        options = prepared.options
        while len(notes) > 1 and sum(len(t) for _, t in notes) > self.merge_input_chars:
            condensed = []
            for group in group_for_merge([len(t) for _, t in notes], self.merge_input_chars):
                picked = [notes[i] for i in group]
                if len(picked) == 1:
                    condensed.append(picked[0])
                    continue
                progress(0.0, "merging")
                label = f"{picked[0][0].split('-')[0]}-{picked[-1][0].split('-')[1]}"
                text = merge_prompt(options.task, notes=picked, features_text=prepared.features_text,
                                    duration_seconds=prepared.duration_seconds, user_prompt=options.prompt,
                                    final=False)
                call = LLMCall("merge", self._generate_options(options, user=text,
                                                               max_length=min(options.max_new_tokens,
                                                                              2 * CHUNK_NOTE_TOKENS)))
                condensed.append((label, self._run(call, out, prepared, final=False, progress=progress)["response"]))
                out.merge_passes += 1
            notes = condensed
        return notes

    def _run(self, call: LLMCall, out: Generated, prepared: Prepared, *, final: bool, progress: Progress) -> dict:
        """One pass; stopped (canceled, time limit), the text it had written goes into `out` as this pass's (`final`:
        the answer's)."""
        audio = [call.audio] if call.audio is not None else None
        images = [call.image] if call.image is not None else None
        try:
            result = self.manager.generate(call.options, audio=audio, images=images, progress=progress)
        except JobStopped as e:
            took_running_pass(out, call, e.generated, prepared, final=final, stopped_as=e.stopped_as)
            raise
        out.passes.append({"kind": call.kind, "index": call.span.index if call.span else None,
                           "audio_input": result["audio_input"], "prompt_tokens": result["prompt_tokens"],
                           "tokens_generated": result["tokens_generated"], "seconds": result["seconds"],
                           "finish_reason": result["finish_reason"]})
        return result

    # -- postprocess -------------------------------------------------------------------------------------
    def postprocess(self, prepared: Prepared, generated: Generated, *, started: float) -> dict:
        """The result dict (JSON-serialisable; no files named yet): worker/audio_llm/result.py."""
        return analysis_result(self.registry, prepared, generated, started=started)

    # -- entry points --------------------------------------------------------------------------------------
    def process_array(self, y: np.ndarray, sr: int, *, options: Gemma3NOptions, filename: str = "audio",
                      transcript: tuple[str, str] | None = None, progress: Progress | None = None) -> dict:
        """preprocess → forward → postprocess for an array ((channels, n) or (n,) float32 at `sr` Hz).
        Writes nothing (output_*_file stay None)."""
        report = progress or quiet
        started = time.perf_counter()
        report(0.0, "features")
        prepared = self.preprocess(y, sr, options=options, filename=filename, transcript=transcript)
        try:
            generated = self.forward(prepared, progress=scaled(report, PREPROCESS_END, PASSES_END))
        finally:
            if prepared.model_audio is not None:
                prepared.model_audio.close()
        return self.postprocess(prepared, generated, started=started)

    def _open_image(self, options: Gemma3NOptions, image_path: Path | None) -> Any:
        if image_path is None:
            return None
        if "image" not in self.registry[options.model_variant].get("modalities", ()):
            raise InvalidRequestError(f"{options.model_variant} does not take images; leave out `image`",
                                      code="image_not_supported")
        return open_image(image_path, max_pixels=int(self.manager.settings.get("MAX_IMAGE_PIXELS")
                                                     or DEFAULT_MAX_IMAGE_PIXELS))

    def process_file(self, audio_path: Path, *, results_dir: Path, options: Gemma3NOptions,
                     progress: Progress | None = None, image_path: Path | None = None) -> dict:
        """Analyse one file and write analysis_<model>_<task>_<stem>.json|.txt into results_dir (atomically,
        the JSON last). Returns the result, its "files" listing both names. image_path: album art the final
        pass looks at (the model must see images)."""
        report = progress or quiet
        started = time.perf_counter()
        options, choice = self.resolve_auto(options.validate())
        registry_entry(options.model_variant, self.registry)  # 400 for a model this manager does not know
        image = self._open_image(options, image_path)
        audio_path, results_dir = Path(audio_path), Path(results_dir)
        report(0.0, "decoding")
        grounding = measure_speech_where_unsaid(find_grounding(results_dir, audio_path.stem), audio_path=audio_path,
                                                settings=self.manager.settings)
        check_can_transcribe(options, audio_path.name, bool(grounding.transcript), self.registry, results=results_dir)
        transcript = None if hears_audio(options.model_variant, self.registry) or not grounding.transcript else (
            grounding.transcript_source or "", grounding.transcript)
        prepared = self.preprocess_file(audio_path, options=options, transcript=transcript, grounding=grounding,
                                        spill_dir=results_dir if results_dir.is_dir() else None,
                                        progress=scaled(report, 0.0, PREPROCESS_END))
        extra = {"image": image_path.name if image is not None and image_path is not None else None,
                 **({"model_choice": choice.to_dict()} if choice is not None else {})}
        try:
            if image is not None:
                prepared.image = image
                prepared.calls = [looking_at(c, image) if c.kind in ("single", "text") else c for c in prepared.calls]
            generated = self.forward(prepared, progress=scaled(report, PREPROCESS_END, PASSES_END))
        except JobStopped as e:  # the passes finished and the text of the running one, kept marked partial
            keep_stopped(e, prepared, self.registry, started=started, results_dir=results_dir, stem=audio_path.stem,
                          extra=extra)
            raise
        finally:
            if prepared.model_audio is not None:
                prepared.model_audio.close()
        result = {**self.postprocess(prepared, generated, started=started), **extra}
        report(PASSES_END, "writing")
        json_name, txt_name = result_names(options.model_variant, options.task, audio_path.stem)
        result.update(output_json_file=json_name, output_text_file=txt_name, files=[json_name, txt_name])
        results_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(results_dir / txt_name, render_text(result))
        write_json_atomic(results_dir / json_name, result)  # last: its presence means both are complete
        for name in partial_names(options.model_variant, options.task, audio_path.stem):
            remove_result(results_dir / name)  # a canceled run's partial analysis: this one is whole
        report(1.0, "done")
        return result


