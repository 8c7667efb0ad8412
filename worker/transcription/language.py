"""How sure Whisper is of the words it wrote: the numbers bench/transcript_language.py compares, and the rule.

An English-only model (tiny.en) cannot detect a language: it writes English for any speech, and its
`language_probability` of 1.0 is a claim nobody measured (Asterisk's French `privacy-prompt.wav` read "Thank you
very much and thank you very much ..." with an average log-probability of -0.93, which the "may be made up"
warning lets pass). Its word probabilities are lower there than on English speech.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Sequence

_LETTERS = re.compile(r"\w+")


def transcript_certainty(segments: list[dict]) -> dict:
    """Whisper's certainty over the spoken segments: word probabilities (plain, by word duration, by characters),
    the share under 0.5, the average log-probability (segments weighted by their characters), the compression
    ratio of the text (Whisper's own loop test), the share of repeated word 3-grams and of zero-length words, and
    `speech_seconds` (the words' duration; the segments' where there are no word times)."""
    spoken = [s for s in segments if s["text"]]
    words = [w for s in spoken for w in s["words"]]
    text = " ".join(s["text"] for s in spoken)
    chars = [len(s["text"]) for s in spoken]
    durations = [max(w["end"] - w["start"], 0.0) for w in words]
    sizes = [len(w["word"].strip()) for w in words]
    probs = [w["probability"] for w in words]
    tokens = [t.lower() for t in _LETTERS.findall(text)]
    trigrams = Counter(zip(tokens, tokens[1:], tokens[2:], strict=False))
    raw = text.encode("utf-8")
    return {
        "words": len(words),
        "speech_seconds": sum(durations) if words else sum(s["end"] - s["start"] for s in spoken),
        "mean_probability": _mean(probs, [1.0] * len(probs)),
        "duration_mean_probability": _mean(probs, durations),
        "text_mean_probability": _mean(probs, sizes),
        "share_under_half": sum(p < 0.5 for p in probs) / len(probs) if probs else None,
        "avg_logprob": _mean([s["avg_logprob"] for s in spoken], chars),
        "compression_ratio": len(raw) / len(zlib.compress(raw)) if raw else None,
        "repeated_trigram_share": (sum(c for c in trigrams.values() if c > 1) / sum(trigrams.values())
                                   if trigrams else 0.0),
        "zero_length_share": sum(d == 0 for d in durations) / len(durations) if durations else None,
    }


def _mean(values: Sequence[float], weights: Sequence[float]) -> float | None:
    total = sum(weights)
    return sum(v * w for v, w in zip(values, weights, strict=True)) / total if total else None


UNCERTAIN = "the words are uncertain"  # how uncertain_words_warning's warning begins (the lyrics analysis passes it on)
# The rule (bench/transcript_language.py; figures in docs/transcript_language.md): words lasting at least
# MIN_SPEECH_SECONDS whose probability, weighted by each word's letters, averages under MIN_MEAN_PROBABILITY. Chosen on
# half of Asterisk's English and French prompts; a prompt of one short word ("password", p 0.25) is too little to go on.
MIN_SPEECH_SECONDS = 1.0
MIN_MEAN_PROBABILITY = 0.6
RULE_SIGNAL = "text_mean_probability"
# Without word times (`word_timestamps: false`) there are no word probabilities: the segments' average
# log-probability, weighted by their letters, under MAX_AVG_LOGPROB (chosen the same way: -0.737, rounded) stands in.
MAX_AVG_LOGPROB = -0.74


def is_english_only(model, name: str) -> bool:
    """The model knows English only: CTranslate2 says it is not multilingual, or its name ends with ".en"."""
    multilingual = getattr(getattr(model, "model", None), "is_multilingual", None)
    return name.endswith(".en") if multilingual is None else not multilingual


def uncertain_words_warning(segments: list[dict], *, english_only: bool, model_name: str) -> list[str]:
    """A warning when an English-only model's words are uncertain (see MIN_MEAN_PROBABILITY): it writes English
    words for any speech, and cannot say that the language was another."""
    if not english_only:
        return []
    c = transcript_certainty(segments)
    p, logprob = c[RULE_SIGNAL], c["avg_logprob"]
    if c["speech_seconds"] < MIN_SPEECH_SECONDS:
        return []
    if p is not None:
        if p >= MIN_MEAN_PROBABILITY:
            return []
        figure = f"mean word probability {p:.2f}"
    elif logprob is None or logprob >= MAX_AVG_LOGPROB:
        return []
    else:
        figure = f"average log-probability {logprob:.2f}"
    return [f"{UNCERTAIN} ({figure}): the speech may be in a language this English-only "
            f"Whisper model ({model_name}) does not know, or unclear; a multilingual model reads other languages "
            '(/process/whisper\'s "model", e.g. "small", where MODELS_DIR holds it, writes the transcript again; the '
            'lyrics job\'s "whisper_model" transcribes only a file without one)']


def few_words_warning(segments: list[dict], *, english_only: bool, model_name: str) -> list[str]:
    """Where the rule has too little to go on (words lasting under MIN_SPEECH_SECONDS) and those words are uncertain
    (under MIN_MEAN_PROBABILITY), an English-only model's transcript says so, and that it cannot tell the language:
    a stranger's one-word clips in German, French, Italian and Russian read as English words ("Hello" at 0.08, "No" at
    0.06) with no warning, while English clips of 2 s, a word each, were flagged by the rule."""
    if not english_only:
        return []
    c = transcript_certainty(segments)
    p = c[RULE_SIGNAL]
    if not c["words"] or c["speech_seconds"] >= MIN_SPEECH_SECONDS or p is None or p >= MIN_MEAN_PROBABILITY:
        return []
    return [f"{UNCERTAIN} (mean word probability {p:.2f}), and {c['speech_seconds']:.1f} s of words is too little to "
            f"tell the language: an English-only Whisper model ({model_name}) writes English words for speech in any "
            "language (a multilingual model detects it: the request's \"model\", e.g. \"small\", where MODELS_DIR "
            "holds it)"]
