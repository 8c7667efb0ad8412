"""Audio too short for Whisper's word alignment, with the real tiny.en model.

A stranger's 10 ms sine failed every whisper job `internal_error` (faster-whisper's find_alignment: IndexError).
Whisper decodes a last stretch of one 10 ms mel frame (the whole of that file, or what is left after a 30 s chunk of
longer audio) and CTranslate2's `align` finds no encoder frame to align its words in: such a stretch now gets no word
times.
"""
from __future__ import annotations

import numpy as np
import pytest

from worker.transcription.alignment import words_missing_warning
from worker.transcription.pipeline import SAMPLE_RATE
from worker.transcription.weights import load_whisper


def _sine(samples: int, sr: int) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / sr)).astype(np.float32)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_whisper("tiny.en", models_dir=tmp_path_factory.mktemp("no_models"), device="cpu", cpu_threads=1)[0]


def test_a_stretch_too_short_to_align_gets_no_word_times(model):
    """The cause: CTranslate2's align reads num_frames // 2 encoder frames, none for one mel frame, and
    faster-whisper's find_alignment indexes the empty path. The model load_whisper gives aligns no words there."""
    from faster_whisper.tokenizer import Tokenizer

    tokenizer = Tokenizer(model.hf_tokenizer, False, task="transcribe", language="en")
    encoded = model.encode(model.feature_extractor(_sine(SAMPLE_RATE, SAMPLE_RATE)))
    text = tokenizer.encode(" Hello world")
    assert [len(model.model.align(encoded, tokenizer.sot_sequence, [text], frames)[0].alignments)
            for frames in (1, 2)] == [0, len(text) + 1]  # the empty path of one mel frame
    assert model.find_alignment(tokenizer, [text], encoded, 1) == [[]]
    assert [w["word"] for w in model.find_alignment(tokenizer, [text], encoded, 2)[0]] == [" Hello", " world"]
    # Whisper's own decoding of the stranger's 10 ms: text, which had failed with IndexError
    segments, _ = model.transcribe(_sine(160, SAMPLE_RATE), word_timestamps=True, language="en",
                                   condition_on_previous_text=False)
    out = [{"text": s.text.strip(), "words": list(s.words or [])} for s in segments]
    assert any(s["text"] for s in out), "Whisper wrote nothing: the case no longer shows what it checks"
    assert all(s["words"] == [] for s in out)
    # the result says so where a segment's words went untimed (Whisper's "." here has none to time)
    heard = [{"text": "Hello", "words": []}, {"text": "world.", "words": [{"word": " world."}]}, *out]
    assert words_missing_warning(heard) == ["1 of 2 segments have no word times: Whisper decoded them from a "
                                            "stretch too short to align words in (under 20 ms)"]
