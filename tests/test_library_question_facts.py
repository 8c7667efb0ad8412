"""Known answers of library/question_facts.py: the key, tempo and metre a library question names, and the
questions that name none (the ask route then retrieves by text as before)."""

from __future__ import annotations

import pytest

from library.question_facts import question_facts


@pytest.mark.parametrize("question, expected", [
    ("Which tracks are in D major?", {"key": "D major", "camelot": "10B"}),
    ("anything in F# minor?", {"key": "F# minor", "camelot": "11A"}),
    ("a waltz in B flat minor", {"key": "B flat minor", "camelot": "3A"}),
    ("songs in Am", {"key": "A minor", "camelot": "8A"}),
    ("what mixes with 8A?", {"camelot": "8A"}),
    ("Which song is in A minor and mentions rain?", {"key": "A minor", "camelot": "8A"}),
    ("tracks at 120 BPM", {"tempo_min": 116.4, "tempo_max": 123.6}),
    ("tracks at 60 bpm", {"tempo_min": 58.0, "tempo_max": 62.0}),
    ("between 90 and 110 bpm", {"tempo_min": 90.0, "tempo_max": 110.0}),
    ("something 110-90 BPM", {"tempo_min": 90.0, "tempo_max": 110.0}),
    ("faster than 140 bpm in 3/4", {"tempo_min": 140.0, "metre": "3/4"}),
    ("slower than 80 beats per minute", {"tempo_max": 80.0}),
    ("anything in 6/8 in E minor at 100 BPM", {"key": "E minor", "camelot": "9A", "tempo_min": 97.0,
                                               "tempo_max": 103.0, "metre": "6/8"}),
])
def test_facts_named(question, expected):
    facts = question_facts(question)
    assert facts
    got = {k: v for k, v in facts.as_dict().items() if v is not None}
    assert got == expected


@pytest.mark.parametrize("question", [
    "Which song mentions a river road?",
    "A minor change: which song is sad?",  # "A minor" opening a sentence is the article
    "What is the fastest song?",
    "songs from 2019/2020",
    "the song with 120 words",
])
def test_no_facts(question):
    facts = question_facts(question)
    assert not facts and facts.as_dict() == dict.fromkeys(["key", "camelot", "tempo_min", "tempo_max", "metre"])


def test_the_filter_selects_what_the_question_names():
    facts = question_facts("songs in D major between 90 and 110 bpm in 3/4")
    where = facts.track_filter()
    assert where.camelot == ("10B",) and (where.tempo_min, where.tempo_max) == (90.0, 110.0)
    assert where.metre == "3/4" and where.tempo_multiples is False  # the question names the tempo it means
    assert facts.described() == "in D major, at 90-110 BPM, in 3/4"
    assert question_facts("over 150 BPM").described() == "above 150 BPM"
