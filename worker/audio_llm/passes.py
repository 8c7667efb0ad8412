"""What the audio-LLM processor plans and carries between its stages: the model host it needs, one generation
pass (LLMCall), what preprocess prepared and what forward generated, a pass that also looks at an image, and the
warnings an answer carries."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from worker.llm.claims import unsupported_claims
from worker.llm.loading import LoadedLLM
from worker.llm.options import GenerateOptions
from worker.llm.repetition import loop_warning
from worker.progress import Progress

from .measure import AudioClip, ModelAudio
from .options import Gemma3NOptions
from .prompts import SILENT_FRACTION, SYSTEM_PROMPTS, Span, describe_timeline, text_only_prompt, truncate_transcript
from .speech import SPEECH_SYSTEM, measured_part, music_talk_warning, speech_instruction, speech_origin


class ModelHost(Protocol):
    """What the processor needs of the worker's model manager (models.ModelManager is one)."""

    registry: Mapping[str, Any]
    settings: Mapping[str, Any]

    @property
    def device(self) -> str: ...

    @property
    def current_model(self) -> str | None: ...

    def get_llm(self, model_type: str | None = None, *, progress: Progress | None = None) -> LoadedLLM: ...

    def generate(self, options: GenerateOptions, *, audio: Any = None, images: Any = None,
                 progress: Progress | None = None) -> dict: ...


@dataclass(frozen=True)
class LLMCall:
    """One generation pass: its options and the audio it hears (a clip of the model audio, or None)."""

    kind: str  # single | chunk | text | merge
    options: GenerateOptions
    clip: AudioClip | None = None
    span: Span | None = None
    image: Any = None  # an RGB PIL image the pass looks at (album art), or None

    @property
    def audio(self) -> np.ndarray | None:
        """The clip's samples ((n,) float32 at the model's rate), read now: passes hold no audio."""
        return None if self.clip is None else self.clip.read()

    @property
    def user_text(self) -> str:
        message = self.options.conversation()[-1]["content"]
        return message if isinstance(message, str) else "".join(p.get("text", "") for p in message)


@dataclass
class Prepared:
    """Everything preprocess measured and planned for one recording."""

    filename: str
    options: Gemma3NOptions
    duration_seconds: float
    sample_rate: int  # Hz, the file's
    channels: int
    features: dict  # compute_features of the whole recording
    features_text: str
    audio_input: bool  # the model hears the audio
    spans: list[Span]  # audio chunks (audio path) or timeline sections (text path)
    span_features: list[dict]  # compact_features per span
    calls: list[LLMCall]  # the map passes (one per chunk) or the single pass
    model_audio: ModelAudio | None = None  # the mono mix at model_sample_rate, in a temporary file (audio path)
    model_sample_rate: int | None = None
    transcript_source: str | None = None
    transcript_text: str | None = None  # the whole Whisper text (the prompt may hold a shortened copy)
    seconds: float = 0.0
    music_text: str = ""  # the session's music analysis of the track, as prompt lines ("" when it has none)
    grounded_on: list[str] = field(default_factory=list)  # the session's result files the prompts quote
    transcript_doubts: list[str] = field(default_factory=list)  # Whisper's doubts of the transcript quoted
    transcript_words: tuple[int, int] | None = None  # (words the text prompt quotes, words in the transcript): cut
    speech_share: float | None = None  # of the recording the session's music analysis found speech (speech.py)
    speech: Mapping[str, Any] | None = None  # what said it: the pitch result, or the job's own measure (grounding)
    image: Any = None  # album art (RGB PIL image) the final pass looks at, or None


@dataclass
class Generated:
    summary: str
    notes: list[dict] = field(default_factory=list)  # per chunk (map-reduce only)
    passes: list[dict] = field(default_factory=list)  # per generate call
    merge_passes: int = 0
    final_prompt: str = ""
    finish_reason: str | None = None
    model_load_seconds: float | None = None


ALBUM_ART_NOTE = "The image is the album art of this release: say what it adds where it matters."


def looking_at(call: LLMCall, image: Any) -> LLMCall:
    """`call` with `image` in front of its user message (and a line saying what it is); unchanged without one."""
    if image is None:
        return call
    messages = call.options.messages
    if not messages:  # every pass here is built from messages (_generate_options)
        raise ValueError("a pass without messages cannot show an image")
    message = messages[-1]
    content = message["content"]
    parts = list(content) if isinstance(content, list) else [{"type": "text", "text": content}]
    user = {**message, "content": [{"type": "image"}, {"type": "text", "text": ALBUM_ART_NOTE + "\n\n"}, *parts]}
    options = dataclasses.replace(call.options, messages=(*messages[:-1], user))
    return dataclasses.replace(call, options=options, image=image)


def answer_warnings(prepared: Prepared, generated: Generated) -> list[str]:
    """What a reader of the analysis should know of its answer: cut at the token limit, stuck in a loop (where
    more tokens would not help: a stranger's SmolLM2 answer was 71 % "evidence", and the only warning advised
    asking for more), keys and tempi the measurements do not support, and Whisper's doubts of the transcript
    it quoted ("You know what I mean?" for an instrumental track)."""
    loop = loop_warning(generated.summary)
    out = []
    if generated.finish_reason == "length":
        out.append("the answer was cut at max_new_tokens (finish_reason: length)" + ("" if loop else
                                                                                     "; ask for more tokens"))
    # told the measured key and tempo, a model that names others contradicts them: said, not edited; a looping
    # answer's claims too (a loop had hidden a stranger's comparison's wrong tempo)
    out += loop + (unsupported_claims(generated.summary, prompt=prepared.music_text, tracks=[prepared.filename])
                   if prepared.music_text else [])
    if prepared.options.task == "analyze":  # (a transcribe answer quotes the words, which may name music)
        out += music_talk_warning(generated.summary, prepared.speech_share,
                                  source=speech_origin(prepared.speech)["speech_source"],
                                  first_seconds=measured_part(prepared.speech))
    return (silence_warning(prepared) + out + note_loops(generated) + transcript_cut_warning(prepared)
            + [f"the analysis read a doubtful transcript: {w}" for w in prepared.transcript_doubts])


def note_loops(generated: Generated) -> list[str]:
    """A part's notes (`chunk_notes`, printed under "Notes per part" in the .txt) stuck in a loop, named as the
    answer's own loop is: they had gone unchecked, the final answer alone was."""
    out = []
    for note in generated.notes:
        span = Span(0, round(float(note["start_seconds"]) * 1000), round(float(note["end_seconds"]) * 1000), 1000)
        out += [f"the notes of part {span.label}: {w}" for w in loop_warning(str(note.get("text") or ""))]
    return out


def transcript_cut_warning(prepared: Prepared) -> list[str]:
    """An analysis by a model that cannot hear read only the start of a long transcript (MAX_TRANSCRIPT_CHARS): a
    stranger's 30-minute audiobook was analysed from its first 4 minutes of words with no word of it. Not said of a
    transcribe answer, whose words are the whole transcript quoted (its description of the sound comes from the
    measurements of the whole recording)."""
    if prepared.transcript_words is None or prepared.options.task == "transcribe":
        return []
    read, total = prepared.transcript_words
    return [f"the transcript is too long to quote whole ({total} words): the model read its first {read} "
            f"({read / max(total, 1):.0%}), so the analysis speaks of the start of the recording's words only"]


def silence_warning(prepared: Prepared) -> list[str]:
    """A silent recording's analysis describes nothing heard: the prompt says it is silent, yet asked for its mood
    and instruments a small model answers anyway (a stranger's 300 s of zeros read "a sense of melancholy and
    introspection" with no warning); the features' own "silent" note had stayed inside `audio_features`."""
    share = float(prepared.features.get("silence_fraction", 0.0))
    if share < SILENT_FRACTION:
        return []
    return [f"the recording is silent ({share:.0%} of its frames): there is no sound to describe, so what the "
            "answer says of its mood, instruments or production does not come from the audio"]


def text_call(prepared: Prepared, transcript: tuple[str, str] | None) -> LLMCall:
    """The one pass of a model that cannot hear: the features, the timeline and the transcript (cut to fit, said in
    `transcript_words`); a recording measured as speech is analysed as speech (speech.py)."""
    options = prepared.options
    text, cut = truncate_transcript(transcript[1]) if transcript else (None, False)
    if transcript and text and cut:
        prepared.transcript_words = (len(text.split()) - 1, len(transcript[1].split()))  # less the "[…]"
    speech = prepared.speech_share is not None and options.task == "analyze"
    user = text_only_prompt(options.task, features_text=prepared.features_text,
                            timeline_text=describe_timeline(list(zip(prepared.spans, prepared.span_features,
                                                                     strict=True))),
                            transcript=text, transcript_truncated=cut, user_prompt=options.prompt,
                            instruction=speech_instruction(prepared.speech_share or 0.0) if speech else None)
    return LLMCall("text", GenerateOptions(
        messages=({"role": "user", "content": user},), system=SPEECH_SYSTEM if speech else SYSTEM_PROMPTS[options.task],
        max_length=options.max_new_tokens, temperature=float(options.temperature), seed=options.seed,
        model_type=options.model_variant))
