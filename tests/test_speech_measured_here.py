"""The lyrics and compare jobs measure a recording's speech share themselves where no pitch result says it
(worker/music/speech_share.py): an audiobook with a transcript and no pitch analysis had been asked "what the song is
about" and compared by key. The share is the pitch job's own (the same speech finder and beat check, on the same
files: real espeak-ng speech, a recorded Asterisk prompt, game music from tests/data), and the jobs run with real
SmolLM2 weights (one short generation each)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import resident_models
from tests.spoken import SENTENCES, speak

DATA = Path(__file__).resolve().parent / "data"

pytestmark = pytest.mark.needs_espeak


@pytest.fixture(scope="module")
def manager(smollm2_settings):
    yield from resident_models(smollm2_settings)


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    """Uploads talk.wav (espeak-ng), prompt.flac (a telephone prompt), boom.flac (game music) and race.flac (game
    music), and a transcript of talk.wav: no pitch result of any."""
    root = tmp_path_factory.mktemp("unmeasured-session")
    uploads, results = root / "uploads", root / "results"
    uploads.mkdir()
    results.mkdir()
    speak(uploads / "talk.wav", " ".join(SENTENCES))
    for source, name in (("privacy-prompt-en.flac", "prompt.flac"), ("boom-boom-boom-3s.flac", "boom.flac"),
                         ("race-summary-3s.flac", "race.flac")):
        shutil.copy(DATA / source, uploads / name)
    segments = [{"start": 5.0 * i, "end": 5.0 * i + 4.5, "text": text} for i, text in enumerate(SENTENCES)]
    (results / "transcript_talk.json").write_text(json.dumps({"language": "en", "segments": segments,
                                                              "text": " ".join(SENTENCES), "warnings": []}))
    return root


def test_the_share_measured_alone_is_the_pitch_jobs(session, tmp_path):
    from worker.music.options import PitchOptions
    from worker.music.pipeline import run_pitch
    from worker.music.speech_share import measure_speech_share, with_speech_share

    shares = {}
    for name in ("talk.wav", "prompt.flac", "boom.flac", "race.flac"):
        pitch = run_pitch(audio_path=session / "uploads" / name, results_dir=tmp_path, options=PitchOptions())
        share, seconds = measure_speech_share(audio_path=session / "uploads" / name)
        assert (share, round(seconds, 2)) == (pitch["speech_share"], round(pitch["duration_seconds"], 2)), name
        shares[name] = share
    assert shares["talk.wav"] >= 0.5 and shares["prompt.flac"] >= 0.5, shares  # speech; the music is not
    assert shares["boom.flac"] < 0.5 and shares["race.flac"] < 0.5, shares
    # a long file is measured on its beginning alone (bounded time and memory)
    assert measure_speech_share(audio_path=session / "uploads" / "talk.wav", max_seconds=2.5)[1] == 2.5
    # a pitch result with a share is read, not measured again; one without (include=["key"]) is measured
    talk = session / "uploads" / "talk.wav"
    assert with_speech_share({"speech_share": 0.25}, audio_path=talk) == {"speech_share": 0.25}
    assert with_speech_share({"key": None}, audio_path=talk)["speech_share"] == shares["talk.wav"]
    (tmp_path / "short.wav").write_bytes((session / "uploads" / "talk.wav").read_bytes()[:2000])  # 0.04 s
    assert with_speech_share(None, audio_path=tmp_path / "short.wav") is None  # too short: unmeasured, as before


def test_lyrics_and_compare_of_unanalysed_speech_treat_it_as_speech(session, manager):
    from worker.compare.options import CompareOptions
    from worker.compare.pipeline import run_compare
    from worker.lyrics.options import LyricsOptions
    from worker.lyrics.pipeline import run_lyrics

    results = session / "results"
    options = LyricsOptions(model_variant="smollm2-135m", temperature=0, max_new_tokens=24)
    result = run_lyrics(audio_path=session / "uploads" / "talk.wav", results_dir=results, options=options,
                        manager=manager)
    assert result["content"] == "speech" and result["speech_share"] >= 0.5, result
    assert result["grounded_on"] == ["transcript_talk.json"]  # no pitch result was read: none was there
    # said as this job's measure, not the music analysis' (there was none), and where the share came from
    assert result["warnings"][0].startswith("this job measured the recording as speech ("), result
    assert result["warnings"][0].endswith("% of it a speaking voice) (no pitch analysis of it gave a speech share): "
                                          "its transcript was analysed as spoken words, not as a song's lyrics")
    assert not any("the music analysis" in w for w in result["warnings"]), result["warnings"]
    assert result["speech_source"] == "measured" and 3 < result["speech_measured_seconds"] < 15, result
    assert (results / "lyrics_talk.txt").read_text().startswith("Transcript (speech, not a song) of talk.wav")
    compared = run_compare(audio_paths=[session / "uploads" / n for n in ("talk.wav", "boom.flac")],
                           results_dir=results, options=CompareOptions(model_variant="smollm2-135m", temperature=0,
                                                                       max_new_tokens=24),
                           manager=manager, output_stem="compare_unmeasured")
    assert {t["file"]: t["content"] for t in compared["tracks"]} == {"talk.wav": "speech", "boom.flac": "music"}
    assert any(w.startswith("talk.wav was measured as speech (") and "by this job (no pitch analysis of it gave a "
               "speech share), not music" in w for w in compared["warnings"]), compared["warnings"]
    origin = {t["file"]: (t["speech_source"], t["speech_measured_seconds"]) for t in compared["tracks"]}
    assert origin["talk.wav"] == ("measured", result["speech_measured_seconds"]), origin
    assert origin["boom.flac"][0] == "measured" and 2.5 < origin["boom.flac"][1] < 3.5, origin  # 3 s measured


def test_an_answer_about_music_of_speech_this_job_measured_names_the_job(session, manager):
    """The music-talk warning of a share the job measured: it had said "the music analysis measured the recording
    as speech (... no chords, beat or melody)" of a file no music analysis had seen."""
    from worker.lyrics.options import LyricsOptions
    from worker.lyrics.pipeline import _result
    from worker.music.speech_share import with_speech_share

    measured = with_speech_share(None, audio_path=session / "uploads" / "talk.wav")
    said = {"response": "Themes: a sad song about ships.", "model": "smollm2-135m", "finish_reason": "stop",
            "tokens_generated": 8, "seconds": 1.0}
    lines = [{"start": 0.0, "end": 4.5, "text": SENTENCES[0]}]
    warned = _result(session / "uploads" / "talk.wav", LyricsOptions(model_variant="smollm2-135m"), None,
                     {"language": "en"}, "transcript_talk.json", lines, False, said, [], pitch=measured)
    assert warned["warnings"][-1].startswith('the answer describes music ("song"), but this job measured the '
                                             "recording as speech ("), warned["warnings"]
    assert "(no pitch analysis of it gave a speech share)" in warned["warnings"][-1]
    assert (warned["content"], warned["speech_source"]) == ("speech", "measured")
