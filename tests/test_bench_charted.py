"""bench/charted_songs.py reads a Frets on Fire chart's tempo map as the beat grid and checks the chart's notes
against a stem's onsets: known answers on a chart written here."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest

from bench.charted_songs import chart_grid, chart_notes, either_phase_f, label_check


def write_chart(path, bpm: float, note_times: list[float]) -> None:
    midi = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    guitar = pretty_midi.Instrument(program=30)
    guitar.notes = [pretty_midi.Note(velocity=100, pitch=96, start=t, end=t + 0.1) for t in note_times]
    midi.instruments.append(guitar)
    midi.write(str(path))


def test_the_grid_is_the_charts_quarters_carried_on_to_the_end_of_the_audio(tmp_path):
    write_chart(tmp_path / "notes.mid", 150.0, [0.0, 0.4, 1.0, 2.2])  # the chart's last note at 2.3 s
    tempo, grid = chart_grid(tmp_path / "notes.mid", duration=9.9)
    assert tempo == pytest.approx(150.0)
    np.testing.assert_allclose(grid, np.arange(25) * 0.4, atol=1e-6)  # up to the audio's 9.9 s, not the notes'
    np.testing.assert_allclose(chart_notes(tmp_path / "notes.mid"), [0.0, 0.4, 1.0, 2.2])


def test_the_label_check_measures_how_late_the_stems_onsets_follow_the_notes():
    notes = np.array([1.0, 2.0, 3.0, 4.0])
    lag, share = label_check(notes, np.array([1.03, 2.03, 3.02, 4.03, 5.5]))  # 5.5: no note near it
    assert lag == pytest.approx(0.03) and share == pytest.approx(0.8)
    assert label_check(notes, np.array([1.5, 2.5]))[1] == 0.0


def test_either_phase_takes_the_grid_half_a_beat_later_when_the_beats_sit_there():
    grid = np.arange(40) * 0.5
    off = grid[:-1] + 0.25
    assert either_phase_f(grid, off) == pytest.approx(1.0) and either_phase_f(grid, grid) == pytest.approx(1.0)
