"""Speech with long pauses between its words (a spoken alphabet) is speech, and music with rests between its notes
is not (worker/music/speech_pauses.py: the sounding parts joined, each word's own glide)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.music_signals import SR, music_with_rests
from worker.audio_io import load_audio
from worker.music.options import PitchOptions
from worker.music.pipeline import analyze_music
from worker.music.speech import ACTIVE_DB, DIP_DB, FPS, SpeechScan
from worker.music.speech_pauses import gliding_words, joined_frames

RHYTHM_AND_CHORDS = PitchOptions(include=("chords", "tempo", "beats"))
LETTERS = "a b c d e f g h i j k l m n o p q r s t"


def _spoken_letters(tmp_path: Path, voice: str, pause: float, hum_db: float | None = None) -> np.ndarray:
    """Each letter's name rendered alone by espeak-ng, `pause` s of silence after each (as KLettres' alphabets:
    one letter every second or so); with `hum_db`, a 100 Hz mains hum that many dB under the voice's peak
    throughout (the French alphabet's recording has one)."""
    parts = []
    for i, letter in enumerate(LETTERS.split()):
        wav = tmp_path / f"{i}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), letter], check=True)
        y, _ = load_audio(str(wav), sr=SR, mono=True)
        parts += [y / np.abs(y).max(), np.zeros(int(pause * SR), dtype=np.float32)]
    y = np.concatenate(parts)
    if hum_db is not None:
        t = np.arange(len(y)) / SR
        y = y + 10 ** (hum_db / 20) * (np.sin(2 * np.pi * 100 * t) + 0.5 * np.sin(2 * np.pi * 200 * t))
    return (0.7 * y / np.abs(y).max()).astype(np.float32)


@pytest.mark.needs_espeak
@pytest.mark.parametrize("voice,pause", [("en-us", 0.8), ("fr", 0.8), ("de", 1.2)])
def test_letters_named_with_long_pauses_are_speech(tmp_path: Path, voice: str, pause: float):
    """20 letter names with 0.8-1.2 s of silence after each: every window held more gap than MAX_DIPS allows, so
    none was speech and a stranger's spoken alphabets got chords (KLettres' French one "G major" and 30 chords).
    Judged with the pauses cut short: speech over most of the track, no chords, tempo or beats."""
    y = _spoken_letters(tmp_path, voice, pause)
    res = analyze_music(y, SR, options=RHYTHM_AND_CHORDS)
    assert res["speech_share"] >= 0.6, res["speech_segments"]
    assert {c["label"] for c in res["chords"]} == {"N"}, res["chords"]
    assert res["tempo_bpm"] is None and res["beat_times"] == [], res["tempo_bpm"]
    assert res["warnings"][0].startswith("speech, not music: no chords or beats are given for "), res["warnings"]


@pytest.mark.needs_espeak
def test_hum_in_the_pauses_is_not_a_scale(tmp_path: Path):
    """The same letters over a 100 Hz hum 45 dB under the voice: the hum alone sounds in the pauses, one held pitch
    that had read as notes on a scale (the French alphabet's Rayleigh statistic 43 against a bar of 11); a pitch in
    a pause is not the voice's, so the letters are still speech."""
    y = _spoken_letters(tmp_path, "en-us", 0.8, hum_db=-45.0)
    scan = SpeechScan()
    scan.push(y)
    assert scan.finish().share(len(y) / SR) >= 0.6


MUSIC_WITH_RESTS = ["notes", "staccato notes", "sung notes", "motifs", "a kick every second", "kicks at uneven times"]


@pytest.mark.parametrize("name", MUSIC_WITH_RESTS)
@pytest.mark.parametrize("seed", [0, 1])
def test_music_with_rests_is_not_speech(name: str, seed: int):
    """Notes, staccato notes, sung notes and motifs of a scale, and a gliding kick drum, each with 0.4-1.4 s of
    rest between: their rests are pauses the finder cuts short (so they are judged as sparse speech would be), and
    they stay music: held notes, notes on a scale, pitch under a voice's. No speech, and no speech warning."""
    y = music_with_rests(seed)[name]
    scan = SpeechScan()
    scan.push(y)
    power = np.concatenate([f[0] for f in scan._frames])
    assert joined_frames(10 * np.log10(power + 1e-12), fps=FPS, dip_db=DIP_DB, quiet_db=ACTIVE_DB) is not None
    res = analyze_music(y, SR, options=RHYTHM_AND_CHORDS)
    assert res["speech_segments"] == [] and res["speech_share"] == 0.0, res["speech_segments"]
    assert not any(w.startswith("speech") for w in res["warnings"]), res["warnings"]


def test_a_word_glides_where_a_note_wavers():
    """Known answers of gliding_words: a 0.4 s word falling 4 semitones glides; a note with +-50 cents of vibrato,
    a run of 1.5 s (a phrase, not a word) and a word with under WORD_MIN_VOICED pitched frames do not."""
    n = int(0.4 * FPS)
    fall = np.linspace(0.0, -400.0, n)
    vibrato = 50.0 * np.sin(2 * np.pi * 5.5 * np.arange(n) / FPS)
    long_fall = np.linspace(0.0, -400.0, int(1.5 * FPS))
    pause = np.ones(5, dtype=bool)
    for cents, glides in [(fall, True), (vibrato, False), (long_fall, False)]:
        frames = np.concatenate([np.zeros(5), cents, np.zeros(5)])
        gaps = np.concatenate([pause, np.zeros(len(cents), dtype=bool), pause])
        out = gliding_words(gaps, frames, ~gaps, fps=FPS)
        assert out.any() == glides and not out[gaps].any()
    few = np.zeros(n, dtype=bool)
    few[:3] = True
    assert not gliding_words(np.zeros(n, dtype=bool), fall, few, fps=FPS).any()


@pytest.mark.needs_espeak
@pytest.mark.parametrize("voice", ["en-us", "fr"])
def test_a_speech_track_has_no_key_or_tuning(tmp_path: Path, voice: str):
    """A track that is speech over most of it reads no key from the voice, as a spoken clip does: the English
    letters had read "G minor" and a tuning of +50 cents beside "speech, not music", the French ones "nothing
    pitched sounds (percussion or noise)" (KLettres' French alphabet, 73 % speech: "G major")."""
    y = _spoken_letters(tmp_path, voice, 0.8)
    res = analyze_music(y, SR, options=PitchOptions())
    assert res["speech_share"] >= 0.6, res["speech_segments"]
    assert res["key"]["label"] == "no key" and res["key"]["note"].startswith("speech: "), res["key"]
    assert res["tuning_cents"] == 0.0 and res["tuning_note"].startswith("speech: "), res.get("tuning_note")
