"""A speech share a job measured itself covers the file's first SPEECH_MEASURE_SECONDS (600 s by default) alone, and
its warnings say so where the file is longer; a comparison of speech says per track who measured it.

The lyrics, compare and gemma_3n jobs measure the share themselves where no pitch result holds one
(worker/music/speech_share.py), on a file's first ten minutes: a 20-minute talk's warning read "this job measured
the recording as speech (69% of it ...)" as if of all of it. And a comparison of a track the job measured with one
its pitch result measured, both speech, was warned of music talk as if the job had measured both ("this job measured
the recording as speech (the least share) ..."). The span is lowered through the setting here (the jobs read it from
the worker's settings) rather than a 10-minute file made: real espeak-ng speech (~9 s) measured on its first 4 s, a
real recorded prompt (tests/data) with a real pitch result, real SmolLM2 weights (one short generation per job)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import soundfile as sf

from tests.conftest import resident_models
from tests.spoken import SENTENCES, speak

DATA = Path(__file__).resolve().parent / "data"
SPAN = 4.0  # s: SPEECH_MEASURE_SECONDS here, under talk.wav's ~9 s
NO_PITCH = "no pitch analysis of it gave a speech share"
SPOKEN = "its transcript was analysed as spoken words, not as a song's lyrics"

pytestmark = pytest.mark.needs_espeak


@pytest.fixture(scope="module")
def manager(smollm2_settings):
    yield from resident_models(smollm2_settings)


def lower_span(manager, monkeypatch) -> float:
    """SPEECH_MEASURE_SECONDS lowered on the manager's settings (the jobs' settings) for the rest of the test."""
    monkeypatch.setitem(manager.settings, "SPEECH_MEASURE_SECONDS", SPAN)
    return SPAN


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    """talk.wav (espeak-ng) with a transcript and no pitch result; prompt.flac (a recorded telephone prompt, speech)
    with its pitch result."""
    from worker.music.options import PitchOptions
    from worker.music.pipeline import run_pitch

    root = tmp_path_factory.mktemp("span-session")
    uploads, results = root / "uploads", root / "results"
    uploads.mkdir()
    results.mkdir()
    speak(uploads / "talk.wav", " ".join(SENTENCES))
    shutil.copy(DATA / "privacy-prompt-en.flac", uploads / "prompt.flac")
    run_pitch(audio_path=uploads / "prompt.flac", results_dir=results, options=PitchOptions())
    segments = [{"start": 5.0 * i, "end": 5.0 * i + 4.5, "text": text} for i, text in enumerate(SENTENCES)]
    (results / "transcript_talk.json").write_text(json.dumps({"language": "en", "segments": segments,
                                                              "text": " ".join(SENTENCES), "warnings": []}))
    return root


def lyrics(session: Path, manager) -> dict:
    from worker.lyrics.options import LyricsOptions
    from worker.lyrics.pipeline import run_lyrics

    return run_lyrics(audio_path=session / "uploads" / "talk.wav", results_dir=session / "results", manager=manager,
                      options=LyricsOptions(model_variant="smollm2-135m", temperature=0, max_new_tokens=16))


def compared(session: Path, manager, *, spanned: bool) -> tuple[dict, list[str]]:
    """A real comparison of talk.wav (measured by the job) and prompt.flac (its pitch result), and the warnings of
    an answer about music over the same tracks (`spanned`: measured with the manager's settings, the span lowered)."""
    from worker.compare.options import CompareOptions
    from worker.compare.pipeline import _track, _warnings, run_compare

    paths = [session / "uploads" / n for n in ("talk.wav", "prompt.flac")]
    result = run_compare(audio_paths=paths, results_dir=session / "results", manager=manager,
                         options=CompareOptions(model_variant="smollm2-135m", temperature=0, max_new_tokens=16),
                         output_stem="compare_span")
    tracks = [_track(p, session / "results", *([manager.settings] if spanned else [])) for p in paths]
    said = _warnings(tracks, {"finish_reason": "stop", "response": "Both songs share a melody."}, prompt="")
    return result, said


def test_the_share_of_a_file_longer_than_the_span_is_marked_as_of_its_start(session, tmp_path):
    from worker.music.speech_share import with_speech_share

    talk = session / "uploads" / "talk.wav"
    part = with_speech_share(None, audio_path=talk, max_seconds=SPAN)
    assert part is not None and (part["speech_measured_seconds"], part["speech_measured_whole"]) == (SPAN, False)
    whole = with_speech_share(None, audio_path=talk)  # the default span: all of it
    assert whole is not None and whole["speech_measured_whole"] is True and whole["speech_measured_seconds"] > 8
    info = sf.info(talk)  # a span that ends exactly at the file's end: measured whole (no sample past it)
    exact = with_speech_share(None, audio_path=talk, max_seconds=info.frames / info.samplerate)
    assert exact is not None and exact["speech_measured_whole"] is True, exact


def test_lyrics_say_the_share_of_a_file_longer_than_the_span_is_of_its_start(session, manager, monkeypatch):
    from worker.lyrics.options import LyricsOptions
    from worker.lyrics.pipeline import _result
    from worker.music.speech_share import with_speech_share

    whole = lyrics(session, manager)  # measured whole (the default span): the wording it had
    assert whole["speech_source"] == "measured" and whole["speech_measured_seconds"] > 8, whole
    assert whole["warnings"][0] == (f"this job measured the recording as speech ({whole['speech_share']:.0%} of "
                                    f"it a speaking voice) ({NO_PITCH}): {SPOKEN}"), whole["warnings"]
    span = lower_span(manager, monkeypatch)
    result = lyrics(session, manager)
    assert (result["speech_source"], result["speech_measured_seconds"]) == ("measured", span), result
    share = result["speech_share"]
    assert result["warnings"][0] == (f"this job measured the recording as speech ({share:.0%} of it a speaking "
                                     f"voice) (measured on its first 4 s; {NO_PITCH}): {SPOKEN}"), result["warnings"]
    # an answer about music: its warning says the span too
    measured = with_speech_share(None, audio_path=session / "uploads" / "talk.wav", max_seconds=span)
    said = {"response": "Themes: a sad song about ships.", "model": "smollm2-135m", "finish_reason": "stop",
            "tokens_generated": 8, "seconds": 1.0}
    lines = [{"start": 0.0, "end": 4.5, "text": SENTENCES[0]}]
    warned = _result(session / "uploads" / "talk.wav", LyricsOptions(model_variant="smollm2-135m"), None,
                     {"language": "en"}, "transcript_talk.json", lines, False, said, [], pitch=measured)
    assert warned["warnings"][-1] == (f'the answer describes music ("song"), but this job measured the recording as '
                                      f"speech ({share:.0%} of it a speaking voice without a steady beat) (measured "
                                      f"on its first 4 s; {NO_PITCH}): check it against the measurements")


def test_a_comparison_says_per_track_who_measured_its_speech_and_of_how_much(session, manager, monkeypatch):
    lower_span(manager, monkeypatch)
    result, said = compared(session, manager, spanned=True)
    tracks = {t["file"]: t for t in result["tracks"]}
    assert {n: (t["content"], t["speech_source"]) for n, t in tracks.items()} == {
        "talk.wav": ("speech", "measured"), "prompt.flac": ("speech", "pitch")}, tracks
    talk, prompt = tracks["talk.wav"]["speech_share"], tracks["prompt.flac"]["speech_share"]
    assert (f"talk.wav was measured as speech ({talk:.0%} of it a speaking voice) by this job (measured on its "
            f"first 4 s; {NO_PITCH}), not music: it was compared as a spoken recording, not by key, tempo or "
            "mixing") in result["warnings"], result["warnings"]
    assert (f"prompt.flac was measured as speech ({prompt:.0%} of it a speaking voice), not music: it was compared "
            "as a spoken recording, not by key, tempo or mixing") in result["warnings"], result["warnings"]
    # an answer about music: each track with who measured it (the job had been named for both)
    assert said[-1] == ('the answer describes music ("songs", "melody"), but the tracks were measured as speech: '
                        f"talk.wav by this job ({talk:.0%} of it a speaking voice without a steady beat) (measured "
                        f"on its first 4 s; {NO_PITCH}); prompt.flac by its pitch analysis ({prompt:.0%} of it a "
                        "speaking voice, no chords, beat or melody): check it against the measurements"), said


def test_a_comparison_of_a_track_measured_whole_and_one_by_pitch_names_each(session, manager):
    result, said = compared(session, manager, spanned=False)
    tracks = {t["file"]: t for t in result["tracks"]}
    talk, prompt = tracks["talk.wav"]["speech_share"], tracks["prompt.flac"]["speech_share"]
    assert f"talk.wav was measured as speech ({talk:.0%} of it a speaking voice) by this job ({NO_PITCH}), not " \
           "music: it was compared as a spoken recording, not by key, tempo or mixing" in result["warnings"]
    assert said[-1] == ('the answer describes music ("songs", "melody"), but the tracks were measured as speech: '
                        f"talk.wav by this job ({talk:.0%} of it a speaking voice without a steady beat) ({NO_PITCH})"
                        f"; prompt.flac by its pitch analysis ({prompt:.0%} of it a speaking voice, no chords, beat "
                        "or melody): check it against the measurements"), said


def test_an_audio_llm_analysis_measures_the_span_its_settings_give(session, manager, monkeypatch, tmp_path):
    """The gemma_3n analysis reads SPEECH_MEASURE_SECONDS as lyrics and compare do (its music-talk warning then
    says the span, music_talk_warning's `first_seconds`, as the lyrics one above)."""
    from worker.audio_llm.options import Gemma3NOptions
    from worker.audio_llm.pipeline import run_gemma3n

    span = lower_span(manager, monkeypatch)
    (tmp_path / "results").mkdir()
    result = run_gemma3n(manager=manager, audio_path=session / "uploads" / "talk.wav", results_dir=tmp_path / "results",
                         options=Gemma3NOptions(task="analyze", model_variant="smollm2-135m", temperature=0,
                                                max_new_tokens=8))
    assert (result["speech_source"], result["speech_measured_seconds"]) == ("measured", span), result
