"""The analysis MIDI (worker/music/midi.py): its tempo map follows the tracked beats, its bars fall on the
downbeats through pickups, lead-ins, compound metres and tempo changes, as a DAW reads them (pretty_midi, mido)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("beats_per_bar,compound,signature", [(2, True, (6, 8)), (3, True, (9, 8)), (4, False, (4, 4))])
def test_midi_bars_fall_on_the_analysed_downbeats_in_simple_and_compound_metres(tmp_path, beats_per_bar, compound,
                                                                                 signature):
    """A jig at 120 dotted-quarter beats per minute is written as 6/8 at 180 quarter notes per minute, so a
    reader of the file (pretty_midi here, as a DAW) puts its bars and beats where the analysis did; a 4/4 piece
    keeps its tempo as the quarter-note tempo."""
    import pretty_midi

    from worker.music.midi import write_analysis_midi
    from worker.music.pipeline import time_signature

    beats = 0.5 * np.arange(24)  # 120 BPM
    downbeats = beats[::beats_per_bar]
    path = tmp_path / "a.mid"
    write_analysis_midi(path, notes=[{"onset": 0.0, "offset": 0.4, "midi": 69}], beat_times=list(beats),
                        downbeat_times=list(downbeats), tempo_bpm=120.0,
                        time_signature=time_signature(beats_per_bar, compound=compound))
    pm = pretty_midi.PrettyMIDI(str(path))
    ts = pm.time_signature_changes[0]
    assert (ts.numerator, ts.denominator) == signature
    np.testing.assert_allclose(pm.get_downbeats()[: len(downbeats)], downbeats, atol=1e-3)
    np.testing.assert_allclose(pm.get_beats()[: len(beats)], beats, atol=1e-3)


def test_midi_bars_fall_on_downbeats_after_a_pickup_and_through_tempo_changes(tmp_path):
    """A stranger's tracks: the MIDI's single tempo from time 0 put the analysed downbeats mid-bar (the first one
    at 0.33 s, 0.65 of a beat into bar 1) and let its grid drift up to two beats from them on rubato music. The
    tempo map follows the beats, and the first downbeat starts a bar."""
    import pretty_midi

    from worker.music.midi import write_analysis_midi

    gaps = np.concatenate([np.full(12, 0.5), np.linspace(0.5, 0.7, 20), np.full(12, 0.7)])  # 120 -> 86 BPM
    beats = 0.33 + np.concatenate([[0.0], np.cumsum(gaps)])
    downbeats = beats[1::4]  # a one-beat pickup
    path = tmp_path / "b.mid"
    write_analysis_midi(path, notes=[{"onset": 1.0, "offset": 1.4, "midi": 69}], beat_times=list(beats),
                        downbeat_times=list(downbeats), tempo_bpm=100.0, time_signature="4/4")
    pm = pretty_midi.PrettyMIDI(str(path))
    bars, grid = pm.get_downbeats(), pm.get_beats()
    for t in downbeats:  # every analysed downbeat is a bar line, every beat a beat of the grid
        assert np.min(np.abs(bars - t)) < 2e-3, t
    for t in beats:
        assert np.min(np.abs(grid - t)) < 2e-3, t
    assert pm.instruments[0].notes[0].start == pytest.approx(1.0, abs=2e-3)  # notes stay where they sound


@pytest.mark.parametrize("signature, beats_per_bar, pickup_signature", [("4/4", 4, (1, 4)), ("6/8", 2, (3, 8))])
def test_midi_of_music_whose_first_beat_is_at_0_s_and_not_a_downbeat(tmp_path, signature, beats_per_bar,
                                                                       pickup_signature):
    """A stranger's reversed track failed its pitch job (internal_error): its first beat at 0.0 s and its first
    downbeat the next beat asked for whole beats in no time before 0 s, and pretty_midi divided by zero. The
    first bar is short instead (a pickup): every analysed downbeat is still a bar line."""
    import pretty_midi

    from worker.music.midi import write_analysis_midi

    beats = 0.5 * np.arange(17)
    downbeats = beats[1::beats_per_bar]
    path = tmp_path / "c.mid"
    write_analysis_midi(path, notes=[{"onset": 0.1, "offset": 0.4, "midi": 60}], beat_times=list(beats),
                        downbeat_times=list(downbeats), tempo_bpm=120.0, time_signature=signature)
    pm = pretty_midi.PrettyMIDI(str(path))
    assert [(ts.numerator, ts.denominator, round(ts.time, 3)) for ts in pm.time_signature_changes] == [
        (*pickup_signature, 0.0), (*(int(x) for x in signature.split("/")), 0.5)]
    bars, grid = pm.get_downbeats(), pm.get_beats()
    for t in downbeats:
        assert np.min(np.abs(bars - t)) < 2e-3, t
    for t in beats:
        assert np.min(np.abs(grid - t)) < 2e-3, t


def test_midi_of_music_that_starts_on_its_beat_opens_on_a_bar_at_its_tempo(tmp_path):
    """Music that starts on its beat has its first beat 10-33 ms in (the analysis' latency and frames), never at 0 s:
    the MIDI had opened on a 1/4 bar of those 22 ms at 2727 BPM (14 of a stranger's 50 Debian game tracks, up to
    6000 BPM for 10 ms), so a DAW counted the music from bar 2 and clamped the tempo, moving what follows. A drum loop
    from 0 s through the pipeline: its MIDI is 4/4 from 0 s, its tempi near the music's, its bars on the downbeats."""
    import mido
    import pretty_midi
    import soundfile as sf

    from tests.test_music_end_of_audio import _drum_loop
    from worker.music.chroma import SR
    from worker.music.options import PitchOptions
    from worker.music.pipeline import run_pitch

    sf.write(tmp_path / "loop.wav", _drum_loop(8, tail_seconds=0.5), SR)
    result = run_pitch(audio_path=tmp_path / "loop.wav", results_dir=tmp_path, options=PitchOptions())
    beats, downbeats = result["beat_times"], result["downbeat_times"]
    assert 0.0 < beats[0] < 0.035 and downbeats[0] == beats[0], (beats[:2], downbeats[:2])
    assert result["time_signature"] == "4/4" and result["tempo_bpm"] == pytest.approx(120.0, rel=0.02)
    tempi = [mido.tempo2bpm(m.tempo) for m in mido.MidiFile(tmp_path / "pitch_loop.mid").tracks[0]
             if m.type == "set_tempo"]
    assert max(tempi) < 1.5 * result["tempo_bpm"], tempi[:3]
    pm = pretty_midi.PrettyMIDI(str(tmp_path / "pitch_loop.mid"))
    assert [(ts.numerator, ts.denominator, ts.time) for ts in pm.time_signature_changes] == [(4, 4, 0.0)]
    bars = pm.get_downbeats()
    assert bars[0] == 0.0 and len(bars) == len(downbeats), (bars[:3], downbeats[:3])  # the first: 22 ms early
    np.testing.assert_allclose(bars[1:], downbeats[1:], atol=2e-3)


@pytest.mark.parametrize("first", [0.010, 0.022, 0.033])
def test_a_first_beat_on_the_analysis_first_frames_is_the_midi_grid_at_0_s(tmp_path, first):
    """The first beats the analysis gives music starting on its beat (its first three activation frames, plus its
    latency): the MIDI's first bar is a whole 4/4 bar from 0 s and no tempo is a whole beat squeezed into them."""
    import mido
    import pretty_midi

    from worker.music.midi import write_analysis_midi

    beats = first + 0.5 * np.arange(16)
    path = tmp_path / "d.mid"
    write_analysis_midi(path, notes=[{"onset": 0.1, "offset": 0.4, "midi": 60}], beat_times=list(beats),
                        downbeat_times=list(beats[::4]), tempo_bpm=120.0, time_signature="4/4")
    tempi = [mido.tempo2bpm(m.tempo) for m in mido.MidiFile(path).tracks[0] if m.type == "set_tempo"]
    assert max(tempi) < 130.0, tempi[:3]
    pm = pretty_midi.PrettyMIDI(str(path))
    assert [(ts.numerator, ts.denominator, ts.time) for ts in pm.time_signature_changes] == [(4, 4, 0.0)]
    np.testing.assert_allclose(pm.get_downbeats()[1:4], beats[4:16:4], atol=2e-3)


@pytest.mark.parametrize("first, signature, down", [(0.070, "4/4", 0), (0.100, "4/4", 1), (0.160, "4/4", 0),
                                                    (0.045, "4/4", 2), (0.120, "6/8", 1), (0.200, "3/4", 0)])
def test_a_first_beat_under_half_a_beat_in_opens_on_a_short_lead_in_bar(tmp_path, first, signature, down):
    """A first beat 70-160 ms in got a whole lead beat in that span: the MIDI opened at 5-10 times the music's tempo
    (882, 789, 583 BPM), past what DAWs take (999 BPM or less, clamped: everything after moves). The lead-in is a bar
    of one short note at about the music's tempo: no tempo over twice the music's, every beat on the grid and every
    downbeat on a bar line after it, the notes where they sound."""
    import mido
    import pretty_midi

    from worker.music.midi import write_analysis_midi

    compound = signature.endswith("/8")
    beats_per_bar = int(signature.split("/")[0]) // (3 if compound else 1)
    beats = first + 0.5 * np.arange(4 * beats_per_bar + down)  # 120 beats per minute
    downbeats = beats[down::beats_per_bar]
    notes = [{"onset": 0.06, "offset": 0.3, "midi": 60}, {"onset": 1.234, "offset": 1.5, "midi": 64}]
    path = tmp_path / "e.mid"
    write_analysis_midi(path, notes=notes, beat_times=list(beats), downbeat_times=list(downbeats), tempo_bpm=120.0,
                        time_signature=signature)
    quarter_bpm = 120.0 * (1.5 if compound else 1.0)
    tempi = [mido.tempo2bpm(m.tempo) for m in mido.MidiFile(path).tracks[0] if m.type == "set_tempo"]
    assert max(tempi) <= 2.0 * quarter_bpm, tempi[:3]
    pm = pretty_midi.PrettyMIDI(str(path))
    signatures = [(ts.numerator, ts.denominator) for ts in pm.time_signature_changes]
    assert signatures[0][0] == 1 and signatures[0][1] in (8, 16, 32, 64), signatures  # the lead-in bar
    assert signatures[-1] == tuple(int(x) for x in signature.split("/")), signatures
    bars, grid = pm.get_downbeats(), pm.get_beats()
    assert np.min(np.abs(bars - downbeats[0])) < 2e-3, (bars[:4], downbeats[0])
    for t in downbeats:
        assert np.min(np.abs(bars - t)) < 2e-3, t
    for t in beats:
        assert np.min(np.abs(grid - t)) < 2e-3, t
    starts = sorted(n.start for n in pm.instruments[0].notes)
    np.testing.assert_allclose(starts, [0.06, 1.234], atol=2e-3)
