"""Two tracks are mixable by one rule wherever the service says so: compare's `mixable` and the library's
`similar?mix=1` (worker/camelot.py). A pair 5 % apart had been "different tempi" in compare (4 % of the faster
tempo) and an exact match in the library (6 % of the seed's)."""

from __future__ import annotations

import itertools

import pytest

from library.search import _mixable
from worker.camelot import MIX_TEMPO_PERCENT, camelot_code, tempo_match
from worker.compare.relations import mixable, pair_relations

KEYS = [("C", "major"), ("G", "major"), ("A", "minor"), ("E", "minor"), ("F#", "major"), ("D#", "minor")]


def facts(name: str, key: tuple[str, str], bpm: float) -> dict:
    return {"file": name, "camelot": camelot_code(tonic=key[0], mode=key[1]), "tempo_bpm": bpm,
            "loudness_lufs": None, "brightness_hz": None}


def test_the_tempo_match_known_answers():
    """The percent is the change the second track needs to reach the first (a stranger's 119.94 BPM track listed
    for a 114.85 BPM seed read +4.43, the seed's change, where it must slow by 4.24 %)."""
    assert tempo_match(120.0, 120.0) == ("exact", 0.0)
    assert tempo_match(114.85, 119.94) == ("exact", -4.24)
    assert tempo_match(120.0, 126.5) == ("exact", -5.14)
    assert tempo_match(120.0, 128.0) is None  # 6.67 % faster, and neither double nor half
    assert tempo_match(100.0, 51.0) == ("double", -1.96)  # played at double time (102), slowed 1.96 %
    assert tempo_match(100.0, 196.0) == ("half", 2.04)  # played at half time (98), sped up 2.04 %
    assert tempo_match(100.0, 108.0, percent=8.0) == ("exact", -7.41)  # a deck's +-8 % fader
    # a stranger's pair: the faster slowed 5.72 % meets the slower, whichever is named first
    assert tempo_match(134.94, 127.22) == ("exact", 6.07) and tempo_match(127.22, 134.94) == ("exact", -5.72)
    assert MIX_TEMPO_PERCENT == 6.0


@pytest.mark.parametrize("percent", [4.0, MIX_TEMPO_PERCENT])
def test_compare_and_the_library_call_the_same_pairs_mixable(percent):
    tempi = [60.0, 63.0, 65.0, 90.0, 95.0, 100.0, 105.0, 107.0, 120.0, 124.0, 127.22, 128.0, 134.94, 180.0, 190.0,
             200.0, 214.0]
    agreed = 0
    for (ka, ta), (kb, tb) in itertools.product(itertools.product(KEYS, tempi), repeat=2):
        a, b = facts("a", ka, ta), facts("b", kb, tb)
        in_compare = pair_relations(a, b, tempo_percent=percent)["mixable"]
        seed = {"key": {"camelot": a["camelot"]}, "tempo_bpm": ta}
        in_library = _mixable(seed, percent)({"key": {"camelot": b["camelot"]}, "tempo_bpm": tb}) is not None
        assert in_compare == in_library, (ka, ta, kb, tb)
        assert in_compare == pair_relations(b, a, tempo_percent=percent)["mixable"], (ka, ta, kb, tb)  # both ways
        agreed += in_compare
    assert agreed > 100  # not agreement on "never"
    pair = pair_relations(facts("a", KEYS[0], 100.0), facts("b", KEYS[1], 105.0))
    assert pair["tempo"] == {"relation": "same tempo", "percent_apart": 4.8, "change_percent": -4.76}
    assert pair["mixable"]


def test_a_pair_whose_key_or_tempo_is_unmeasured_is_not_called_unmixable():
    """A stranger's compare of two tracks pitch had not run on said `mixable: false`, as if measured."""
    known, keyless, tempoless = facts("a", KEYS[0], 100.0), facts("b", KEYS[0], 100.0), facts("c", KEYS[0], 100.0)
    keyless.update(key=None, camelot=None)
    tempoless["tempo_bpm"] = None
    assert pair_relations(known, keyless)["mixable"] is None
    assert pair_relations(known, tempoless)["mixable"] is None
    assert pair_relations(keyless, tempoless)["mixable"] is None
    far_tempo = facts("d", KEYS[0], 150.0)  # 150 against 100: no tempo match, whatever the keys
    assert pair_relations(far_tempo, keyless)["mixable"] is False
    assert mixable(key="distant keys", tempo="unknown") is False
    assert mixable(key="same key", tempo="same tempo") is True
