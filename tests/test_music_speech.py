"""Speech is not music: the pitch analysis finds stretches of speech and gives them no chords or beats,
and music (a sung line over chords, a cappella, drums) is never called speech."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.music_signals import SR, cadence, drum_loop, dying_booms, staccato_run, sung_line, synth_drum_line
from worker.audio_io import load_audio
from worker.music.onsets import FPS as ONSET_FPS
from worker.music.options import PitchOptions
from worker.music.pipeline import analyze_music, run_pitch
from worker.music.speech import SpeechScan, sounds_like_notes
from worker.music.speech_results import blank_chords

PROSE = ("Chapter one. It was a bright cold day in April, and the clocks were striking thirteen. He slipped quickly "
         "through the glass doors of the old building and climbed the stairs.")
TUNE = [60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72, 71, 67, 65, 64]
RHYTHM_AND_CHORDS = PitchOptions(include=("chords", "tempo", "beats"))
DATA = Path(__file__).parent / "data"


def _espeak(path: Path, text: str = PROSE) -> np.ndarray:
    # espeak-ng holds the pitch of some syllables level for 200 ms and more, like a sung note, and the finder leaves
    # such stretches to music (bench/speech_check.py: about half of its prose is found); this text has none
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(path), text], check=True)
    y, _ = load_audio(str(path), sr=SR, mono=True)
    return y


def _sung_over_chords(seconds: float) -> np.ndarray:
    chords, _ = cadence(0, bars=int(seconds / 2) + 1)
    voice = sung_line(TUNE * 4, note_seconds=0.5)
    n = int(seconds * SR)
    return (0.5 * chords[:n] + 0.6 * voice[:n]).astype(np.float32)


@pytest.mark.needs_espeak
def test_prose_is_speech_with_no_chords_tempo_or_beats(tmp_path: Path):
    """espeak-ng reading prose (had been given "D#:7, A#:maj, A:maj ..." and beats): one speech stretch over most
    of it, every chord N, no tempo, beats or metre, and a warning that says why, in the JSON and the .txt."""
    wav = tmp_path / "prose.wav"
    _espeak(wav)
    res = run_pitch(audio_path=wav, results_dir=tmp_path, options=RHYTHM_AND_CHORDS)
    covered = sum(b - a for a, b in res["speech_segments"])
    assert covered >= 0.7 * res["duration_seconds"], res["speech_segments"]
    assert res["speech_share"] >= 0.7
    assert {c["label"] for c in res["chords"]} == {"N"}, res["chords"]
    assert res["tempo_bpm"] is None and res["tempo_confidence"] == 0.0
    assert res["beat_times"] == [] and res["downbeat_times"] == [] and res["time_signature"] is None
    warning = res["warnings"][0]
    assert warning.startswith("speech, not music: no chords or beats are given for "), res["warnings"]
    assert "no steady beat found" not in res["warnings"]
    saved = json.loads((tmp_path / "pitch_prose.json").read_text())
    assert saved["speech_segments"] == res["speech_segments"]
    text = (tmp_path / "pitch_prose.txt").read_text()
    assert f"Warning: {warning}" in text
    assert f"Speech: {100 * res['speech_share']:.0f}% of the audio, at {res['speech_segments'][0][0]:.1f}-" in text


@pytest.mark.needs_espeak
def test_speech_has_no_tuning(tmp_path: Path):
    """A speaking voice keeps to no scale: 8 minutes of voicemail prompts had read "tuning +24 cents from A440"
    beside "speech, not music"; now 0 with a note, as silence and noise are told, in the JSON and the .txt."""
    wav = tmp_path / "prose.wav"
    _espeak(wav)
    res = run_pitch(audio_path=wav, results_dir=tmp_path, options=PitchOptions())
    assert res["speech_share"] >= 0.7 and res["key"]["label"] == "no key", res["key"]
    assert res["tuning_cents"] == 0.0 and res["tuning_note"].startswith("speech: "), res
    assert f"Tuning: none ({res['tuning_note']})" in (tmp_path / "pitch_prose.txt").read_text()


@pytest.mark.needs_espeak
def test_speech_then_music_ends_the_speech_near_the_boundary(tmp_path: Path):
    """Prose, then a sung line over chords: the speech stretch stops within 2.5 s of where the music starts (the
    finder reads 2 s windows and smooths over 2.5 s; here a stretch of speech with few gaps ends it 2.1 s early),
    the music keeps its chords, and only the chords are withheld (most of the track is not speech)."""
    speech = _espeak(tmp_path / "prose.wav")
    music = _sung_over_chords(16.0)
    boundary = len(speech) / SR
    res = analyze_music(np.concatenate([speech, music]), SR, options=RHYTHM_AND_CHORDS)
    assert len(res["speech_segments"]) == 1, res["speech_segments"]
    start, end = res["speech_segments"][0]
    assert start <= 2.0 and abs(end - boundary) <= 2.5, (res["speech_segments"], boundary)
    assert all(c["label"] == "N" for c in res["chords"] if c["end"] <= end), res["chords"]
    after = [c["label"] for c in res["chords"] if c["start"] >= boundary + 1.0]
    assert after and after.count("N") <= 1, after
    assert res["warnings"][0].startswith("speech, not music: no chords are given for "), res["warnings"]
    assert f"({start:.1f}-{end:.1f} s)" in res["warnings"][0]


@pytest.mark.parametrize("name", ["sung over chords", "a cappella", "a cappella, wide vibrato", "drums"])
def test_music_is_not_speech(tmp_path: Path, name: str):
    """Sung lines (vibrato within +-40-50 cents, consonants, breaths), with and without chords, and a drum
    loop, decoded from a file: no speech, and no speech warning."""
    y = {"sung over chords": lambda: _sung_over_chords(12.0),
         "a cappella": lambda: sung_line(TUNE, note_seconds=0.6, seed=1),
         "a cappella, wide vibrato": lambda: sung_line([m - 12 for m in TUNE] * 2, note_seconds=0.45,
                                                       vibrato_cents=50.0, seed=3),
         "drums": lambda: drum_loop(100, 10.0)}[name]()
    path = tmp_path / "music.flac"
    sf.write(path, y, SR)
    audio, _ = load_audio(str(path), sr=SR, mono=True)
    res = analyze_music(audio, SR, options=RHYTHM_AND_CHORDS)
    assert res["speech_segments"] == [] and res["speech_share"] == 0.0
    assert not any(w.startswith("speech") for w in res["warnings"]), res["warnings"]


def test_electronic_music_with_gliding_synth_drums_is_music_by_its_steady_beat(tmp_path: Path):
    """808-style kicks and sliding staccato synth notes, nothing unpitched (a stranger's frozen-bubble track had
    14 s of such music called speech, its chords blanked): every window test of the finder says speech, the
    steady beat says music, so the whole track keeps its tempo, beats and chords."""
    y = synth_drum_line(120.0, 20.0)
    scan = SpeechScan()
    scan.push(y)
    assert scan.finish().seconds > 15.0  # the window tests alone: speech
    res = analyze_music(y, SR, options=RHYTHM_AND_CHORDS)
    assert res["speech_segments"] == [] and res["speech_share"] == 0.0, res["speech_segments"]
    assert not any(w.startswith("speech") for w in res["warnings"]), res["warnings"]
    assert res["tempo_bpm"] is not None and len(res["beat_times"]) >= 20, res["tempo_bpm"]


@pytest.mark.parametrize("name", ["staccato run", "dying booms"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_music_without_a_steady_beat_is_not_speech_by_its_pitches(name: str, seed: int):
    """Fast staccato notes on a scale, and a bass drum gliding at 60-70 Hz, both at uneven times: every window test
    says speech and no steady beat says music (a stranger's game tracks had 4-5 s of such music called speech,
    their chords blanked); notes on a scale, and pitch under a voice's, do."""
    y = (staccato_run if name == "staccato run" else dying_booms)(seed=seed)
    res = analyze_music(y, SR, options=RHYTHM_AND_CHORDS)
    assert res["speech_segments"] == [] and res["speech_share"] == 0.0, res["speech_segments"]
    assert not any(w.startswith("speech") for w in res["warnings"]), res["warnings"]


def test_notes_on_a_scale_or_under_a_voice_are_music():
    """Known answers of the pitch tests: pitches at whole semitones from one tuning (+17 cents), with +-15 cents of
    scatter, are a scale; a speaking voice's glides, spread evenly over the semitone, are not; nor is a voice
    that dips under 75 Hz now and then; a bass that sits there is music."""
    rng = np.random.default_rng(0)
    on_scale = 100.0 * rng.integers(-24, 12, 200) + 17.0 + rng.normal(0, 15, 200)
    glides = rng.uniform(-1700, -500, 200)  # 165-330 Hz, anywhere between the semitones
    deep = 1200 * np.log2(np.concatenate([rng.uniform(85, 140, 180), rng.uniform(60, 74, 20)]) / 440)
    bass = 1200 * np.log2(np.concatenate([rng.uniform(58, 74, 120), rng.uniform(85, 140, 80)]) / 440)
    assert sounds_like_notes(on_scale) and sounds_like_notes(bass)
    assert not sounds_like_notes(glides) and not sounds_like_notes(deep) and not sounds_like_notes(np.zeros(0))


@pytest.mark.parametrize("name", ["privacy-prompt-fr.flac", "privacy-prompt-en.flac"])
def test_a_lone_short_prompt_is_speech_with_no_chords_or_tuning(tmp_path: Path, name: str):
    """Asterisk's French privacy-prompt (4.6 s, 8 kHz: a stranger's trial had "D#:min C#:maj F#:maj F:maj" and
    tuning -6 cents) and the English one (3.5 s: under MIN_SPEECH_SECONDS, never speech before): a single prompt
    read without pauses is judged as a whole, speech from end to end, so no chords and no tuning."""
    res = run_pitch(audio_path=DATA / name, results_dir=tmp_path, options=PitchOptions())
    duration = res["duration_seconds"]
    assert res["speech_segments"] == [[0.0, duration]] and res["speech_share"] == 1.0, res["speech_segments"]
    assert {c["label"] for c in res["chords"]} == {"N"}, res["chords"]
    assert res["tuning_cents"] == 0.0 and res["tuning_note"].startswith("speech: "), res["tuning_cents"]
    assert res["warnings"][0] == \
        f"speech, not music: no chords, beats or melody notes are given for {duration:.1f} s of speech"
    # a voice's pitch glides: no notes are read from it, but its contour is kept
    assert res["melody"]["notes"] == [] and any(res["melody"]["f0"]["voiced"]), res["melody"]["notes"]


@pytest.mark.parametrize("name", ["privacy-prompt-fr.flac", "privacy-prompt-en.flac"])
def test_a_prompt_recorded_with_room_tone_at_its_ends_is_judged_on_its_sounding_part(tmp_path: Path, name: str):
    """The same prompts with 0.6 s of room tone (noise 55 dB under the voice's peak) before and after, as a recorded
    line comes: its first and last windows held too little voice for SHORT_MIN_VOICED, so the French one was music
    (chords, a key) and the English one speech by stretch but not a spoken clip (a key read from it); 11 % of a game's
    Dutch dialogue lines under 8 s had been told speech. Judged on the sounding part: a spoken clip, no key."""
    y, _ = load_audio(str(DATA / name), sr=SR, mono=True)
    y = y / np.abs(y).max()
    tone = (10 ** (-55 / 20) * np.random.default_rng(0).standard_normal(int(0.6 * SR))).astype(np.float32)
    path = tmp_path / "line.flac"
    sf.write(path, np.concatenate([tone, y, tone]), SR)
    res = run_pitch(audio_path=path, results_dir=tmp_path, options=PitchOptions())
    duration = res["duration_seconds"]
    assert res["speech_segments"] == [[0.0, duration]] and res["speech_share"] == 1.0, res["speech_segments"]
    assert res["key"]["label"] == "no key" and res["key"]["note"].startswith("speech: "), res["key"]
    assert {c["label"] for c in res["chords"]} == {"N"}, res["chords"]


def test_short_pieces_of_music_are_not_speech(tmp_path: Path):
    """3 s of supertuxkart's music, each near the short-clip rule: Boom_boom_boom passes every window test of a
    short clip (the finder alone calls it speech) and is kept music by its steady beat; race_summary's sparse melody
    (no notes held, gaps) is 70 % voiced, under SHORT_MIN_VOICED. No speech, chords kept."""
    y, _ = load_audio(str(DATA / "boom-boom-boom-3s.flac"), sr=SR, mono=True)
    scan = SpeechScan()
    scan.push(y)
    assert scan.finish().whole_clip
    for name in ["boom-boom-boom-3s.flac", "race-summary-3s.flac"]:
        res = run_pitch(audio_path=DATA / name, results_dir=tmp_path, options=RHYTHM_AND_CHORDS)
        assert res["speech_segments"] == [] and res["speech_share"] == 0.0, (name, res["speech_segments"])
        assert not any(w.startswith("speech") for w in res["warnings"]), (name, res["warnings"])
        assert any(c["label"] != "N" for c in res["chords"]), (name, res["chords"])


def test_a_one_word_prompt_shorter_than_a_window_is_speech(tmp_path: Path):
    """Asterisk's "tomorrow" (0.93 s, 8 kHz): under one 2 s window no clip could be speech, so a one-word prompt
    or a game's voice line got chords, a key ("A# major", confidence 0.08) and a tuning (+12 cents); it is now one
    window spanning the clip, judged as a whole, and a clip that is speech from end to end gets none of them."""
    res = run_pitch(audio_path=DATA / "tomorrow-en.flac", results_dir=tmp_path, options=PitchOptions())
    duration = res["duration_seconds"]
    assert duration < 1.0
    assert res["speech_segments"] == [[0.0, duration]] and res["speech_share"] == 1.0, res["speech_segments"]
    assert {c["label"] for c in res["chords"]} == {"N"}, res["chords"]
    assert res["key"]["label"] == "no key" and res["key"]["note"].startswith("speech: "), res["key"]
    assert res["tuning_cents"] == 0.0 and res["tuning_note"].startswith("speech: "), res["tuning_cents"]
    assert "Key: none detected (confidence 0.00) - speech: " in (tmp_path / "pitch_tomorrow-en.txt").read_text()
    assert res["warnings"][0] == \
        f"speech, not music: no chords, beats or melody notes are given for {duration:.1f} s of speech"
    # a voice's pitch glides: no notes are read from it, but its contour is kept
    assert res["melody"]["notes"] == [] and any(res["melody"]["f0"]["voiced"]), res["melody"]["notes"]


def test_a_spoken_word_the_finder_misses_is_not_called_unpitched(tmp_path: Path):
    """A word the speech finder leaves to music (a second of the French prompt: "issue", from 2.0 s) shows no tonal
    centre, and had been told "no clear tonal centre (percussion, noise or silence)" and "Tuning: none (nothing
    pitched sounds (percussion or noise))", as 22 of a stranger's 40 one-word clips were: a voice is pitched. Under
    4 s the note says the clip is too short to tell, and the tuning stays none; longer noise keeps its notes."""
    y, rate = sf.read(DATA / "pbx-parkingfailed-fr.flac", dtype="float32")
    sf.write(tmp_path / "mot.flac", y[2 * rate: 3 * rate], rate)
    res = run_pitch(audio_path=tmp_path / "mot.flac", results_dir=tmp_path, options=PitchOptions())
    assert res["speech_share"] == 0.0 and res["key"]["label"] == "no key", (res["speech_share"], res["key"])
    assert res["key"]["note"] == "1.0 s is too short to tell percussion or noise from a spoken word", res["key"]
    assert "no clear key: 1.0 s is too short to tell percussion or noise from a spoken word" in res["warnings"]
    assert res["tuning_cents"] == 0.0 and res["tuning_note"] == f"{res['key']['note']}: no tuning to read"
    text = (tmp_path / "pitch_mot.txt").read_text()
    assert "nothing pitched" not in text and "percussion, noise or silence" not in text, text
    # a silent clip as short is silence, not a clip too short to tell
    quiet = analyze_music(np.zeros(SR, dtype=np.float32), SR)
    assert "too short" not in json.dumps(quiet), quiet


def test_a_piece_of_music_shorter_than_a_window_is_not_speech(tmp_path: Path):
    """1.5 s of supertuxkart's Boom_boom_boom, near the rule for a clip under one window: no speech, chords kept."""
    res = run_pitch(audio_path=DATA / "boom-boom-boom-1.5s.flac", results_dir=tmp_path, options=RHYTHM_AND_CHORDS)
    assert res["speech_segments"] == [] and res["speech_share"] == 0.0, res["speech_segments"]
    assert not any(w.startswith("speech") for w in res["warnings"]), res["warnings"]
    assert any(c["label"] != "N" for c in res["chords"]), res["chords"]


def test_short_music_is_kept_out_by_its_few_gaps(monkeypatch: pytest.MonkeyPatch):
    """That piece passes every test of a 2-8 s clip (11 % of it in gaps, over SHORT_MIN_DIPS): with the gap share
    of those, the finder alone would call it speech; SUB_WINDOW_MIN_DIPS, chosen so that no 0.5-2 s piece of the
    fit music is speech, keeps it music."""
    from worker.music import speech

    y, _ = load_audio(str(DATA / "boom-boom-boom-1.5s.flac"), sr=SR, mono=True)
    scan = SpeechScan()
    scan.push(y)
    assert scan.finish().seconds == 0.0
    monkeypatch.setattr(speech, "SUB_WINDOW_MIN_DIPS", speech.SHORT_MIN_DIPS)
    scan = SpeechScan()
    scan.push(y)
    assert scan.finish().whole_clip


def test_beat_periodicity_is_high_for_a_pulse_train_and_low_for_noise():
    from worker.music.speech import beat_periodicity

    n = int(20 * ONSET_FPS)
    pulses = np.zeros(n)
    pulses[:: int(0.5 * ONSET_FPS)] = 1.0
    noise = np.random.default_rng(0).random(n)
    assert beat_periodicity(pulses, fps=ONSET_FPS) > 0.9
    assert beat_periodicity(noise, fps=ONSET_FPS) < 0.1
    assert beat_periodicity(np.ones(n), fps=ONSET_FPS) == 0.0  # flat: nothing repeats
    assert beat_periodicity(pulses[:10], fps=ONSET_FPS) == 0.0  # shorter than the shortest beat period twice


def test_speech_is_looked_for_only_with_chords_or_beats():
    """The key and melody alone give speech no chords or beats to lose: no speech fields then."""
    y = _sung_over_chords(6.0)
    assert "speech_segments" not in analyze_music(y, SR, options=PitchOptions(include=("key", "tuning")))
    assert "speech_share" in analyze_music(y, SR, options=PitchOptions(include=("tempo",)))
    silence = analyze_music(np.zeros(SR * 3, dtype=np.float32), SR, options=RHYTHM_AND_CHORDS)
    assert silence["speech_segments"] == [] and silence["speech_share"] == 0.0


def test_blank_chords_cuts_chords_at_the_speech_edges():
    chords = [{"start": 0.0, "end": 2.0, "label": "C:maj"}, {"start": 2.0, "end": 5.0, "label": "G:maj"},
              {"start": 5.0, "end": 6.0, "label": "N"}, {"start": 6.0, "end": 9.0, "label": "A:min"}]
    assert blank_chords(chords, [(1.0, 3.0), (4.5, 7.0)]) == [
        {"start": 0.0, "end": 1.0, "label": "C:maj"}, {"start": 1.0, "end": 3.0, "label": "N"},
        {"start": 3.0, "end": 4.5, "label": "G:maj"}, {"start": 4.5, "end": 7.0, "label": "N"},
        {"start": 7.0, "end": 9.0, "label": "A:min"}]
    assert blank_chords(chords, [(0.0, 9.0)]) == [{"start": 0.0, "end": 9.0, "label": "N"}]
    assert blank_chords(chords, []) == chords
    # speech to the unrounded end of the audio (0.92775 s) that the last chord's rounded end (0.928) passes
    assert blank_chords([{"start": 0.0, "end": 0.5, "label": "G#:maj"}, {"start": 0.5, "end": 0.928, "label": "C:maj"}],
                        [(0.0, 0.92775)]) == [{"start": 0.0, "end": 0.928, "label": "N"}]
