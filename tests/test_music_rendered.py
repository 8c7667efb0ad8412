"""Accuracy floors on a few songs rendered by fluidsynth (FluidR3 GM): a regression fails here.

The songs come from bench/pitch_testset.py's generator (known key, tempo, beats, chords and
lead melody) with seeds the bench does not use. The floors sit well under the bench targets
(key 0.93, tempo Acc1 0.9, beat F 0.9, chord root 0.8, melody RPA 0.93, onset F1 0.75):
four songs are too few to measure accuracy, enough to catch a broken stage.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench import music_scores as acc
from bench import pitch_testset as testset
from worker.music.options import PitchOptions
from worker.music.pipeline import analyze_music

SONGS = [(5, 9005), (18, 9018), (31, 9031), (44, 9044)]  # (index -> key, rng seed)

pytestmark = [pytest.mark.needs_fluidsynth, pytest.mark.slow]


@pytest.fixture(scope="session")
def rendered_songs():
    songs = []
    for index, seed in SONGS:
        pm, lead_pm, truth = testset.make_pattern(index, np.random.default_rng(seed))
        mix = testset.render(pm, None)
        solo = testset.render(lead_pm, None)
        songs.append((truth, mix, solo))
    return songs


@pytest.fixture(scope="session")
def analysed(rendered_songs):
    rows = []
    for truth, mix, solo in rendered_songs:
        sr = 44100
        res = analyze_music(mix, sr)
        mel = analyze_music(solo, sr, options=PitchOptions(include=("melody",)))["melody"]
        times = np.arange(len(mel["f0"]["hz"])) * mel["f0"]["hop_seconds"]
        rpa, onset_f, _ = acc.melody_scores(truth, times, np.array(mel["f0"]["hz"]), np.array(mel["f0"]["voiced"]),
                                            mel["notes"], len(solo) / sr)
        root, _ = acc.chord_scores(truth["chords"], res["chords"], len(mix) / sr)
        rows.append({
            "key": acc.key_score(truth["key"], res["key"]["label"]),
            "acc2": acc.tempo_scores(truth["tempo_bpm"], res["tempo_bpm"])[1],
            "beat_f": acc.beat_f(truth["beats"], res["beat_times"]),
            "root": root, "rpa": rpa, "onset_f1": onset_f,
        })
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


@pytest.mark.parametrize("metric,floor", [("key", 0.6), ("acc2", 0.75), ("beat_f", 0.7), ("root", 0.6),
                                          ("rpa", 0.8), ("onset_f1", 0.55)])
def test_accuracy_floor(analysed, metric, floor):
    assert analysed[metric] >= floor, analysed



def test_slow_string_chorale_beats_sit_on_the_notes():
    """String Ensemble 2 reaches its level ~0.2 s after each note: the flux peaks of a legato
    chorale lag the notes by up to half a beat, and the DP alone tracks them (beat F 0.00 on this
    piece when measured); the first-attack anchor puts the beats back on the notes."""
    from music21 import corpus

    pm, truth = testset.make_chorale(corpus.getWork("bwv315"), 0, np.random.default_rng(0), max_seconds=20.0)
    for inst in pm.instruments:
        inst.program = 49  # String Ensemble 2
    res = analyze_music(testset.render(pm, None), 44100, options=PitchOptions(include=("tempo", "beats")))
    assert abs(res["tempo_bpm"] - truth["tempo_bpm"]) <= 0.04 * truth["tempo_bpm"], res["tempo_bpm"]
    f = acc.beat_f(truth["beats"], res["beat_times"])
    assert f >= 0.9, f


# (family generator, index, seed): seeds the bench never uses; a 12/8 shuffle, a 3/4 waltz and a 4/4 funk groove
# far from funk's usual tempo, each rendered with FluidR3 and its own drum kit
GROOVES = [("shuffle", 10, 9101), ("waltz", 11, 9102), ("funk", 3, 9107)]


@pytest.fixture(scope="session")
def grooves():
    from bench.music_families import groove_song

    out = []
    for style, index, seed in GROOVES:
        pm, truth = groove_song(index, np.random.default_rng(seed), [style])
        res = analyze_music(testset.render(pm, None), 44100, options=PitchOptions(include=("tempo", "beats")))
        out.append((truth, res))
    return out


@pytest.mark.parametrize("which", range(len(GROOVES)))
def test_grooves_get_tempo_beats_bars_and_metre(grooves, which):
    truth, res = grooves[which]
    assert acc.tempo_scores(truth["tempo_bpm"], res["tempo_bpm"])[0] == 1.0, (truth["tempo_bpm"], res["tempo_bpm"])
    assert acc.beat_f(truth["beats"], res["beat_times"]) >= 0.9
    assert acc.metre_class(res["time_signature"]) == acc.metre_class(truth["time_signature"]), res["time_signature"]
    if truth["time_signature"].endswith("/8"):
        # a shuffle whose drums repeat every half bar may be read as 6/8 instead of 12/8 (a known limit):
        # then every true downbeat is still found, with one extra per bar
        found = [np.min(np.abs(np.array(res["downbeat_times"]) - t)) <= 0.07 for t in truth["downbeats"]]
        assert np.mean(found) >= 0.9
    else:
        assert acc.beat_f(truth["downbeats"], res["downbeat_times"]) >= 0.8


def test_pop_loop_that_starts_on_the_sixth_degree_gets_its_key():
    """vi-IV-I-V in E major (C#m A E B): the loop opens on C# minor, the key is still E major."""
    from bench.music_families import make_song
    from bench.music_styles import MAJOR_SCALE, POP_MAJOR_LOOPS

    chords = [((4 + iv) % 12, q) for iv, q in POP_MAJOR_LOOPS[1]]
    pm, truth = make_song(family="poploop", style_name="pop16", tonic=4, mode="major", chords=chords,
                          scale=MAJOR_SCALE, rng=np.random.default_rng(9201), lead=True, settle_on_tonic=True)
    res = analyze_music(testset.render(pm, None), 44100, options=PitchOptions(include=("key",)))
    assert res["key"]["label"] == "E major", res["key"]


def test_waltz_that_slows_by_a_quarter_halfway_keeps_its_beats_and_bars():
    """A 3/4 waltz whose tempo steps down by 25 % at the middle bar (bench/music_families.py's
    tempo family, a seed the bench does not use): at one fixed period the tracker drifted off the
    second half (beat F 0.53, downbeat F 0.40 when measured); the local period follows the step."""
    from bench.music_families import tempo_change_song

    pm, truth = tempo_change_song(0, np.random.default_rng(9305), ["waltz"])
    assert truth["tempo_profile"] == "step" and truth["tempo_factor"] == 0.75
    res = analyze_music(testset.render(pm, None), 44100, options=PitchOptions(include=("tempo", "beats")))
    assert acc.beat_f(truth["beats"], res["beat_times"]) >= 0.9
    assert res["time_signature"] == "3/4", res["time_signature"]
    assert acc.beat_f(truth["downbeats"], res["downbeat_times"]) >= 0.85
    assert any(w.startswith("tempo changes") for w in res["warnings"]), res["warnings"]


def test_funk_groove_that_slows_by_a_fifth_keeps_its_bar_lines_after_the_step():
    """A 4/4 funk groove stepping down to 0.8 x its tempo (the tempo family's generator, a seed no bench
    uses): with 12-beat windows the local period slid across the step, the tracker's beats there drifted
    and the bars after it were off (beat F 0.71, downbeat F 0.71 when measured); 6-beat windows follow it."""
    from bench.music_families import tempo_change_song
    from bench.music_styles import STYLES

    styles = [s for s in STYLES if s not in ("bossa", "dnb", "punk", "jazzwaltz")]
    pm, truth = tempo_change_song(0, np.random.default_rng(9617), styles)
    assert truth["tempo_profile"] == "step" and truth["style"] == "funk" and truth["tempo_factor"] == 0.8
    res = analyze_music(testset.render(pm, None), 44100, options=PitchOptions(include=("tempo", "beats")))
    assert acc.beat_f(truth["beats"], res["beat_times"]) >= 0.95
    assert res["time_signature"] == "4/4", res["time_signature"]
    assert acc.beat_f(truth["downbeats"], res["downbeat_times"]) >= 0.95


@pytest.mark.parametrize(("name", "target", "seed", "key"), [("bwv125.6", 17, 9517, "F minor"),
                                                          ("bwv149.7", 7, 9531, "G major")])
def test_chorale_that_cadences_on_its_dominant_keeps_its_tonic(name, target, seed, key):
    """Two chorales neither the test set nor the training corpus holds (bench/chorale_check.py's renders, 36 s):
    the linear key model before the hidden layer read both a fifth up, in their dominant key (C minor, D major:
    its chroma and chord shares lean there); the opening chord and the falling-fifth landings name the tonic."""
    from music21 import corpus

    path = next(p for p in corpus.getComposer("bach") if p.stem == name)
    pm, truth = testset.make_chorale(path, target, np.random.default_rng(seed), max_seconds=36.0)
    assert truth["key"] == key and truth["key_agrees"]
    res = analyze_music(testset.render(pm, None), 44100, options=PitchOptions(include=("key",)))
    assert res["key"]["label"] == key, res["key"]


def test_chorale_with_a_one_beat_upbeat_gets_its_bars():
    """BWV 112.5 opens with a one-beat pickup (a chorale the test set does not hold). Its downbeat
    activation favours beats 2 and 4 after the pickup, i.e. the wrong half of every bar (downbeat F
    0.00 when measured before the start prior); the start prior puts the first bar after the upbeat."""
    from music21 import corpus

    path = next(p for p in corpus.getComposer("bach") if p.name == "bwv112.5.mxl")
    pm, truth = testset.make_chorale(path, 3, np.random.default_rng(9401), max_seconds=20.0)
    assert truth["time_signature"] == 4 and truth["downbeats"][0] == truth["beats"][1]  # the upbeat
    res = analyze_music(testset.render(pm, None), 44100, options=PitchOptions(include=("tempo", "beats")))
    assert acc.beat_f(truth["beats"], res["beat_times"]) >= 0.9
    assert res["time_signature"] == "4/4", res["time_signature"]
    assert abs(res["downbeat_times"][0] - truth["downbeats"][0]) <= 0.07, res["downbeat_times"][:2]
    assert acc.beat_f(truth["downbeats"], res["downbeat_times"]) >= 0.9


def test_chorale_whose_downbeat_activation_prefers_beat_three_gets_its_bars_from_the_half_bar():
    """BWV 227.1 (a chorale neither the test set nor the training corpus holds), 20 s from bar one: the
    downbeat activation alone put every bar line on beat 3 (downbeat F 0.00 when measured before the
    half-bar parity); chord changes and the activation on beats 1 and 3 together against 2 and 4 say
    which half of the bar is strong, and the start prior then puts the first bar at the first beat."""
    from music21 import corpus

    path = next(p for p in corpus.getComposer("bach") if p.name == "bwv227.1.mxl")
    pm, truth = testset.make_chorale(path, 14, np.random.default_rng(9562), max_seconds=20.0)
    assert truth["time_signature"] == 4 and truth["downbeats"][0] == truth["beats"][0]
    res = analyze_music(testset.render(pm, None), 44100, options=PitchOptions(include=("tempo", "beats")))
    assert res["time_signature"] == "4/4", res["time_signature"]
    assert acc.beat_f(truth["downbeats"], res["downbeat_times"]) >= 0.9


def test_chorale_labels_put_a_downbeat_on_every_bar_start_of_the_score():
    """BWV 155.5 splits bar 4 at a repeat (3 beats, then 1) and ends on a 3-beat bar: both are bar starts
    the first labelling rule (full-length measures only) dropped."""
    from music21 import corpus

    from bench.chorale_family import bar_starts

    path = next(p for p in corpus.getComposer("bach") if p.name == "bwv155.5.mxl")
    starts = bar_starts(corpus.parse(str(path)))
    assert starts[:5] == [1.0, 5.0, 9.0, 13.0, 17.0] and starts[-1] == 37.0, starts
    assert 0.0 not in starts and 16.0 not in starts  # the pickup and the split bar's second half
