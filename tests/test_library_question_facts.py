"""Known answers of library/question_facts.py: the keys, tempo and metre a library question names, whether it asks
for the list alone, and the questions that name none (the ask route then retrieves by text as before)."""

from __future__ import annotations

import pytest

from library.question_facts import question_facts


@pytest.mark.parametrize("question, expected", [
    ("Which tracks are in D major?", {"key": "D major", "camelot": ["10B"]}),
    # any case (a stranger's "d major", "D Major", "F MAJOR", "c# minor", "f#m", "Fmaj" and "in D?" had been
    # answered "Nothing in your library matches")
    ("which tracks are in d major", {"key": "d major", "camelot": ["10B"]}),
    ("which tracks are in D Major?", {"key": "D Major", "camelot": ["10B"]}),
    ("WHICH TRACKS ARE IN F MAJOR?", {"key": "F MAJOR", "camelot": ["7B"]}),
    ("anything in c# minor?", {"key": "c# minor", "camelot": ["12A"]}),
    ("songs in f#m", {"key": "f#m", "camelot": ["11A"]}),
    ("which tracks are in Fmaj?", {"key": "Fmaj", "camelot": ["7B"]}),
    ("which tracks are in D?", {"key": "D", "camelot": ["10B"]}),
    ("a waltz in B flat minor", {"key": "B flat minor", "camelot": ["3A"]}),
    ("songs in Am", {"key": "Am", "camelot": ["8A"]}),
    ("in Bbm please", {"key": "Bbm", "camelot": ["3A"]}),
    ("what mixes with 8A?", {"key": "8A", "camelot": ["8A"]}),
    ("anything in 12a", {"key": "12A", "camelot": ["12A"]}),
    # every key named (the stranger's second key had been dropped without a word)
    ("what is in E major or E minor?", {"key": "E major or E minor", "camelot": ["12B", "9A"]}),
    ("songs in Em or Am?", {"key": "Em or Am", "camelot": ["9A", "8A"]}),
    ("Which song is in A minor and mentions rain?", {"key": "A minor", "camelot": ["8A"]}),
    ("tracks at 120 BPM", {"tempo_min": 116.4, "tempo_max": 123.6}),
    ("tracks at 60 bpm", {"tempo_min": 58.0, "tempo_max": 62.0}),
    ("between 90 and 110 bpm", {"tempo_min": 90.0, "tempo_max": 110.0}),
    ("something 110-90 BPM", {"tempo_min": 90.0, "tempo_max": 110.0}),
    ("faster than 140 bpm in 3/4", {"tempo_min": 140.0, "metre": "3/4"}),
    ("slower than 80 beats per minute", {"tempo_max": 80.0}),
    ("anything in 6/8 in E minor at 100 BPM", {"key": "E minor", "camelot": ["9A"], "tempo_min": 97.0,
                                               "tempo_max": 103.0, "metre": "6/8"}),
    # "slow" and "fast" are tempo conditions (a stranger's "slow songs in A minor" and "something fast" had been
    # searched as words, while "the slowest" was read as a tempo)
    ("slow songs in A minor", {"key": "A minor", "camelot": ["8A"], "tempo_max": 90.0}),
    ("something fast", {"tempo_min": 130.0}),
    ("any Quick tunes in 3/4?", {"tempo_min": 130.0, "metre": "3/4"}),
    ("anything up-tempo?", {"tempo_min": 130.0}),
    ("slow songs under 100 bpm", {"tempo_max": 100.0}),  # the tempo named in BPM is the one read
])
def test_facts_named(question, expected):
    facts = question_facts(question)
    assert facts
    got = {k: v for k, v in facts.as_dict().items() if v not in (None, [])}
    assert got == expected


@pytest.mark.parametrize("question", [
    "Which song mentions a river road?",
    "A minor change: which song is sad?",  # "A minor" opening a sentence is the article
    "is there a minor key song?",
    "I am happy and am sad",  # "am" is the verb unless after "in"
    "see you in a moment",
    "in D please",  # a tonic alone only where the phrase ends ("in D?")
    "songs from 2019/2020",
    "the song with 120 words",
    "breakfast songs",  # "fast" is a word of its own
    "which song has fast drums?",  # "fast" of something else than the tracks
    "which song is about running fast?",
    "which song says to slowly breathe?",
])
def test_no_facts(question):
    facts = question_facts(question)
    assert not facts and facts.as_dict() == {"key": None, "camelot": [], "tempo_min": None, "tempo_max": None,
                                             "metre": None, "ranked": None, "files": []}


@pytest.mark.parametrize("question, listing", [
    ("Which tracks are in D major?", True),
    ("list my songs at 120 bpm", True),
    ("Are there any tracks in 3/4 time?", True),
    ("What's in E major or E minor?", True),
    ("which song in D major mentions rain?", False),  # the model reads the candidates' excerpts
    ("which of my D major songs is the saddest?", False),
])
def test_a_question_that_asks_for_the_list_alone(question, listing):
    assert question_facts(question).listing is listing


@pytest.mark.parametrize("question, ranked, listing, every", [
    ("What is the fastest song?", "fastest", True, False),
    ("which track is the longest?", "longest", True, False),
    ("the quietest one in D major", "quietest", True, False),
    ("which slowest song mentions rain?", "slowest", False, False),  # the model reads the excerpts
    ("list my tracks", None, True, True),
    ("what songs do I have?", None, True, True),
])
def test_superlatives_and_every_track(question, ranked, listing, every):
    """A stranger's "what is the slowest track?", "which track is the longest?" and "list my tracks" had been
    answered "Nothing in your library matches the question"."""
    facts = question_facts(question)
    assert facts and (facts.ranked, facts.listing, facts.every) == (ranked, listing, every)


def test_the_filter_selects_what_the_question_names():
    facts = question_facts("songs in D major between 90 and 110 bpm in 3/4")
    where = facts.track_filter()
    assert where.camelot == ("10B",) and (where.tempo_min, where.tempo_max) == (90.0, 110.0)
    assert where.metre == "3/4" and where.tempo_multiples is False  # the question names the tempo it means
    assert facts.described() == "in D major, at 90-110 BPM, in 3/4"
    assert question_facts("over 150 BPM").described() == "above 150 BPM"
    assert question_facts("anything in 8A or 9A?").track_filter().camelot == ("8A", "9A")


@pytest.mark.parametrize("question, listing, described", [
    ("slow songs in A minor", True, "in A minor, at a slow tempo (90 BPM or less)"),
    ("something fast", True, "at a fast tempo (130 BPM or more)"),
    ("Slow ones?", True, "at a slow tempo (90 BPM or less)"),
    ("which fast song mentions rain?", False, "at a fast tempo (130 BPM or more)"),  # the model reads the excerpts
    ("which slow song mentions rain?", False, "at a slow tempo (90 BPM or less)"),
])
def test_slow_and_fast_are_tempo_conditions_said_as_such(question, listing, described):
    facts = question_facts(question)
    assert facts and facts.listing is listing and facts.described() == described
    assert facts.track_filter().tempo_multiples is False  # what was measured, as for a tempo in BPM


@pytest.mark.parametrize("question, files, listing, expected", [
    # a stranger's "what key is groove_000.wav in?" had named nothing, and been answered "Nothing in your library
    # matches the question"
    ("what key is groove_000.wav in?", ["groove_000.wav"], True, {}),
    ("What is the tempo of MODAL_000.WAV?", ["MODAL_000.WAV"], True, {}),
    ("how fast is song.flac?", ["song.flac"], True, {}),  # a measurement asked for, not "fast" tracks
    ("is emin.wav in D minor?", ["emin.wav"], True, {"key": "D minor", "camelot": ["7A"]}),  # no E minor
    ("what key is 8A.wav in?", ["8A.wav"], True, {}),  # a name, not a Camelot code
    ("what does river.wav say about the moon?", ["river.wav"], False, {}),  # the model reads its excerpts
    ("which is faster, a.wav or A.WAV or b.ogg?", ["a.wav", "b.ogg"], False, {}),
])
def test_a_file_named_selects_its_track(question, files, listing, expected):
    facts = question_facts(question)
    assert facts and list(facts.files) == files and facts.listing is listing
    assert {k: v for k, v in facts.as_dict().items() if v not in (None, []) and k != "files"} == expected
    assert facts.track_filter().filenames == tuple(files)
