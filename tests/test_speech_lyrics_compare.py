"""The lyrics and compare jobs of a recording the session's music analysis measured as speech treat it as speech.

An audiobook whose pitch result said "speech, not music" was still sent to the lyrics job's model as "The lyrics of a
song" ("Themes: what the song is about.") and compared with a song by key, tempo and "which would follow or mix into
which", nothing said. The same decision as the analyze task's (worker/audio_llm/speech.py): real espeak-ng speech and
a real Asterisk prompt (tests/data), real game music, real pitch analyses of them, real SmolLM2 weights (one short
generation per job)."""

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
def analysed(tmp_path_factory) -> Path:
    """A session's uploads and results: talk.wav (espeak-ng), prompt.flac (a recorded telephone prompt), both
    speech, and boom.flac (game music), each with its pitch result, and a transcript of talk.wav."""
    from worker.music.options import PitchOptions
    from worker.music.pipeline import run_pitch

    root = tmp_path_factory.mktemp("speech-session")
    uploads, results = root / "uploads", root / "results"
    uploads.mkdir()
    results.mkdir()
    speak(uploads / "talk.wav", " ".join(SENTENCES))
    shutil.copy(DATA / "privacy-prompt-en.flac", uploads / "prompt.flac")
    shutil.copy(DATA / "boom-boom-boom-3s.flac", uploads / "boom.flac")
    for name in ("talk.wav", "prompt.flac", "boom.flac"):
        run_pitch(audio_path=uploads / name, results_dir=results, options=PitchOptions())
    segments = [{"start": 5.0 * i, "end": 5.0 * i + 4.5, "text": text} for i, text in enumerate(SENTENCES)]
    (results / "transcript_talk.json").write_text(json.dumps({"language": "en", "segments": segments,
                                                              "text": " ".join(SENTENCES), "warnings": []}))
    return root


def _pitch(root: Path, stem: str) -> dict:
    return json.loads((root / "results" / f"pitch_{stem}.json").read_text())


def test_the_lyrics_of_speech_are_analysed_as_a_transcript(analysed, manager):
    from worker.audio_llm.speech import speech_share
    from worker.lyrics.options import LyricsOptions
    from worker.lyrics.pipeline import _result, run_lyrics
    from worker.lyrics.prompts import SECTION_ASKS, lyrics_prompt, timed_lines

    pitch = _pitch(analysed, "talk")
    share = speech_share(pitch)
    assert share is not None and share >= 0.5, pitch["warnings"]  # the music analysis heard speech
    lines = timed_lines(json.loads((analysed / "results" / "transcript_talk.json").read_text()))
    prompt, _ = lyrics_prompt(lines, language="en", music_text="", sees_image=False, speech_share=share)
    assert prompt.startswith("The transcript of a spoken recording (") and "Themes: what is talked about." in prompt
    assert "song" not in prompt.lower() and SECTION_ASKS["Themes"] not in prompt  # no song invented
    options = LyricsOptions(model_variant="smollm2-135m", temperature=0, max_new_tokens=24)
    result = run_lyrics(audio_path=analysed / "uploads" / "talk.wav", results_dir=analysed / "results",
                        options=options, manager=manager)
    assert (result["content"], result["speech_share"]) == ("speech", pitch["speech_share"])
    assert (result["speech_source"], result["speech_measured_seconds"]) == ("pitch", None)  # read, not measured
    assert result["grounded_on"] == ["pitch_talk.json", "transcript_talk.json"] and result["lines"] == 2
    assert set(result["analysis"]) == {"themes", "mood", "narrative", "notable_lines"}  # every field kept
    assert result["warnings"][0] == (f"the music analysis measured this recording as speech ({share:.0%} of it a "
                                     "speaking voice): its transcript was analysed as spoken words, not as a song's "
                                     "lyrics"), result["warnings"]
    text = (analysed / "results" / "lyrics_talk.txt").read_text()
    assert text.startswith("Transcript (speech, not a song) of talk.wav")
    # an answer that still calls it a song is named; the same words measured as music are a song's, unwarned
    said = {"response": "Themes: a sad song about ships.", "model": "smollm2-135m", "finish_reason": "stop",
            "tokens_generated": 8, "seconds": 1.0}
    warned = _result(Path("talk.wav"), options, None, {"language": "en"}, "t.json", lines, False, said, [],
                     pitch=pitch)
    assert warned["warnings"][-1].startswith('the answer describes music ("song")'), warned["warnings"]
    song = _result(Path("boom.flac"), options, None, {"language": "en"}, "t.json", lines, False, said, [],
                   pitch=_pitch(analysed, "boom"))
    assert (song["content"], song["warnings"]) == ("music", [])
    unmeasured = _result(Path("x.wav"), options, None, {"language": "en"}, "t.json", lines, False, said, [])
    assert (unmeasured["content"], unmeasured["speech_share"], unmeasured["warnings"]) == (None, None, [])
    assert (unmeasured["speech_source"], unmeasured["speech_measured_seconds"]) == (None, None)


def test_a_comparison_with_speech_says_so(analysed, manager):
    from worker.compare.options import CompareOptions
    from worker.compare.pipeline import _track, _warnings, compare_prompt, run_compare
    from worker.compare.relations import pair_relations

    results = analysed / "results"
    options = CompareOptions(model_variant="smollm2-135m", temperature=0, max_new_tokens=24)
    result = run_compare(audio_paths=[analysed / "uploads" / n for n in ("talk.wav", "boom.flac")],
                         results_dir=results, options=options, manager=manager, output_stem="compare_mixed")
    content = {t["file"]: t["content"] for t in result["tracks"]}
    assert content == {"talk.wav": "speech", "boom.flac": "music"}, result["tracks"]
    assert result["tracks"][0]["speech_share"] >= 0.5 and result["tracks"][1]["speech_share"] < 0.5
    assert [t["speech_source"] for t in result["tracks"]] == ["pitch", "pitch"]  # the pitch results', read
    assert any(w.startswith("talk.wav was measured as speech (") and "compared as a spoken recording" in w
               for w in result["warnings"]), result["warnings"]
    assert not any(w.startswith("boom.flac was measured as speech") for w in result["warnings"])
    assert {"pairs", "comparison", "files_compared", "model"} <= set(result)  # every field kept
    assert "talk.wav: speech (" in (results / "compare_mixed.txt").read_text()
    # the prompt: the speech track as a spoken recording, its pair not "mixable"
    tracks = [_track(analysed / "uploads" / n, results) for n in ("talk.wav", "boom.flac")]
    prompt = compare_prompt(tracks, [pair_relations(tracks[0]["facts"], tracks[1]["facts"])])
    assert "Track 1: talk.wav - a spoken recording (" in prompt
    assert "- talk.wav / boom.flac: talk.wav is speech, not music\n" in prompt
    assert "talk.wav is speech, not music: say so" in prompt
    # both speech (the recorded prompt too): compared as spoken recordings, and a music answer is warned of
    both = [_track(analysed / "uploads" / n, results) for n in ("talk.wav", "prompt.flac")]
    prompt = compare_prompt(both, [pair_relations(both[0]["facts"], both[1]["facts"])])
    assert prompt.startswith("Compare these 2 spoken recordings.") and "mix" not in prompt
    assert "- talk.wav / prompt.flac: both are speech\n" in prompt and "key unknown" not in prompt
    said = _warnings(both, {"finish_reason": "stop", "response": "Both songs share a melody."}, prompt=prompt)
    assert [w.split(" was measured")[0] for w in said if " was measured as speech" in w] == ["talk.wav",
                                                                                           "prompt.flac"]
    assert said[-1].startswith('the answer describes music ("songs", "melody")'), said
