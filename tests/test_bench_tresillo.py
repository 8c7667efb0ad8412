"""bench/tresillo_check.py's grooves put their 3 + 3 + 2 accents where the labels say: its figures are the held-out
check of the 3:2 rule, so a label off by a dotted quarter (or a bass that lost its pattern) would score the rule on
the wrong answer. MIDI only, nothing rendered."""

from __future__ import annotations

import numpy as np
import pytest

from bench.music_styles import BASS_PROGRAMS, KICK
from bench.tresillo_check import BASS_STEPS, SEED, STYLES, tresillo_song

# where the tresillo accents fall, in labelled beats from each bar's downbeat
TRESILLO = (0.0, 1.5, 3.0)
HABANERA = (0.0, 1.5, 2.0, 3.0)
EXPECTED = {  # (kick, bass) positions
    "dembow": ((0.0, 1.0, 2.0, 3.0), HABANERA),
    "pop332": (TRESILLO, TRESILLO),
    "bare332": (TRESILLO, TRESILLO),
    "habanera": (HABANERA, HABANERA),
    "afro": (TRESILLO, TRESILLO),
    "clave": ((0.0, 2.0), TRESILLO),
}


def _positions(onsets: list[float], beats: np.ndarray, downbeats: list[float]) -> set[float]:
    """The onsets' places in their bars, in beats after the bar's labelled downbeat (the labels' own grid) rounded
    to a sixteenth; the last bar is left out (no downbeat closes it)."""
    beat_index = np.interp(onsets, beats, np.arange(len(beats)))
    bar_start = np.interp(downbeats, beats, np.arange(len(beats)))
    assert np.allclose(np.diff(bar_start), 4.0)
    sixteenths = np.round(beat_index[beat_index < bar_start[-1]] * 4) / 4  # interpolation leaves 11.9999 for 12
    return {float(b - bar_start[int(b // 4)]) for b in sixteenths}


@pytest.mark.parametrize("index", range(len(STYLES)))
def test_the_styles_accents_land_where_labelled(index):
    pm, truth = tresillo_song(index, np.random.default_rng(SEED + index))
    style = truth["style"]
    beats = np.asarray(truth["beats"])
    assert truth["time_signature"] == "4/4" and truth["downbeats"] == truth["beats"][::4]
    assert 60.0 / np.median(np.diff(beats)) == pytest.approx(truth["tempo_bpm"], rel=1e-3)
    drums = next(i for i in pm.instruments if i.is_drum)
    bass = next(i for i in pm.instruments if not i.is_drum and i.program in BASS_PROGRAMS)
    kicks = [n.start for n in drums.notes if n.pitch == KICK]
    kick_at, bass_at = EXPECTED[style]
    assert _positions(kicks, beats, truth["downbeats"]) == set(kick_at), style
    assert _positions([n.start for n in bass.notes], beats, truth["downbeats"]) == set(bass_at), style
    assert set(EXPECTED) == set(STYLES) and set(BASS_STEPS) <= set(STYLES)
