"""Known answers for the check of a model's answer against its prompt (worker/llm/claims.py)."""

from __future__ import annotations

import pytest

from worker.llm.claims import supported_keys, supported_tempi, unknown_files, unsupported_claims

PROMPT = ("Track 1: song one.wav - key C# major (3B), tempo 90 BPM\n- chords by share of the time: C#:maj 40%, "
          "A#:min 30%, F#:7 30%\nTrack 2: b.ogg - key E minor (9A), tempo 174 BPM")


@pytest.mark.parametrize("answer", [
    "Track 1 is in Db major and track 2 in E minor.",  # enharmonic spelling of the measured key
    "The B-flat minor chord colours track 1.",  # not a chord symbol the regex reads: no claim at all
    "Track 1 leans on its relative, Bb minor; track 2 on G major, its relative major.",
    "An F# major chord closes track 1.",  # F#:7 is a chord of the prompt
    "A minor detail: track 2 is busier.",  # the article, not the key of A minor
    "Track 2 at 174 BPM feels like 87 BPM; it is 84 BPM faster than track 1 (90 BPM), double-time 180 BPM.",
    "Play song one.wav before b.ogg.",
])
def test_what_the_prompt_supports_is_not_flagged(answer):
    assert unsupported_claims(answer, prompt=PROMPT, tracks=["song one.wav", "b.ogg"]) == []


def test_what_it_does_not_support_is_named_once_each():
    answer = ("song one.wav is in C# minor (the parallel key: a mode named wrong), b.ogg in G minor and then "
              "in A minor; both near 120 BPM, 120 BPM again, and 60 bpm. Also try intro.FLAC and (drums.wav).")
    warnings = unsupported_claims(answer, prompt=PROMPT, tracks=["song one.wav", "b.ogg"])
    assert warnings == [
        "the answer names C# minor, G minor, A minor, which the measurements do not: check it against the measured "
        "keys",
        "the answer gives 120 BPM, 60 BPM, which the measurements do not (nor their double, half or difference): "
        "check it against the measured tempi",
        "the answer names intro.FLAC, drums.wav, which is none of the tracks it was given"]


def test_the_supported_sets():
    assert supported_keys("key D major; chords G:maj B:min") == {(2, "major"), (11, "minor"), (7, "major")}
    assert sorted(supported_tempi("at 100 BPM and 120 bpm")) == [20.0, 50.0, 60.0, 100.0, 120.0, 200.0, 240.0]
    assert unknown_files("my song.mp3 and other.wav", ["my song.mp3"]) == ["other.wav"]
    assert unknown_files("no files here, just a .wav mention", []) == [".wav"]


def test_an_answer_citing_excerpts_it_was_not_given_says_so():
    from library.ask import answer_warnings

    candidates = [{"filename": "a.wav"}, {"filename": "b.wav"}]
    assert answer_warnings("The rain line is in a.wav [1].", prompt="[1] a.wav [2] b.wav", candidates=candidates,
                           numbers={1}) == []
    warned = answer_warnings("See [1], [7] and [9].", prompt="", candidates=candidates, numbers={1, 7, 9})
    assert warned == ["the answer cites [7], [9], but only 2 excerpts were given: those citations were left out"]


def test_an_answer_without_citations_cites_the_tracks_it_names():
    """A stranger's answer named song_mix.wav and cited nothing: the top candidate, speech.wav, was cited for it."""
    from library.ask import named_candidates

    candidates = [{"n": 1, "track_id": "s", "filename": "speech.wav"},
                  {"n": 2, "track_id": "m", "filename": "song_mix.wav"},
                  {"n": 3, "track_id": "m", "filename": "song_mix.wav"}]
    assert named_candidates('The song "Song_Mix.wav" mentions a river.', candidates) == [candidates[1]]
    assert named_candidates("A song mentions a river.", candidates) == [candidates[0]]  # none named: the top one


def test_titles_and_names_no_excerpt_holds_are_named():
    """A stranger's "which tracks are in D major?" had been answered by SmolLM2 with titles and artists of its own
    and no warning: the check read keys, tempi and files only."""
    from library.ask import answer_warnings
    from worker.llm.claims import unknown_names

    prompt = ('Question: what does the song called Rain say?\n[1] "rain song.wav" (session s1), at 0:12: '
              '"the river runs to the sea"; measured: key D major')
    invented = ("I found \"Ocean Waves\" by John Doe and 'Summer Nights' by The Midnight Band in D major, "
                "and “Blue” titled as such, written by Sons of the Desert.")
    assert unknown_names(invented, prompt=prompt) == ["Ocean Waves", "Summer Nights", "Blue", "John Doe",
                                                     "The Midnight Band", "Sons of the Desert"]
    held = ("The track \"rain song.wav\", called Rain in the question, sings 'the river  runs to the sea' [1]. "
            "It's in D major; don't worry, it was measured by the analysis. “D major”")
    assert unknown_names(held, prompt=prompt) == []
    warned = answer_warnings(invented, prompt=prompt, candidates=[{"filename": "rain song.wav"}], numbers=set())
    assert warned == ["the answer gives Ocean Waves, Summer Nights, Blue and 3 more, which none of the excerpts "
                      "holds: a title, name or quote the excerpts do not give may be invented"]
    # a line quoted with a slip is the excerpt's (a stranger's was called invented); one of other words is not
    slipped = 'It sings "the river run to the sea" [1], not "a train across the mountains".'
    assert unknown_names(slipped, prompt=prompt) == ["a train across the mountains"]


def test_times_no_excerpt_holds_are_named():
    """A stranger's SmolLM2 answer put a line of a 4-second track "at 0:30" (its excerpt was at 0:00), and nothing
    said so."""
    from library.ask import answer_warnings

    prompt = ('Excerpts:\n[1] "river.wav" (session s1), at 0:00: "I walked along the river road"\n[2] "fire.wav" '
              '(session s2), at 1:05: "The fire burns"\n\nQuestion: what is sung at 2:10?')
    candidates = [{"filename": "river.wav"}, {"filename": "fire.wav"}]
    held = "river.wav sings it at 0:00 [1], fire.wav at 1:05 [2]; nothing is at 2:10, and it is in 4/4."
    assert answer_warnings(held, prompt=prompt, candidates=candidates, numbers={1, 2}) == []
    warned = answer_warnings('[2] "fire.wav", at 0:30: "The fire burns", and again at 3:15 and 0:30 [1].',
                             prompt=prompt, candidates=candidates, numbers={1, 2})
    assert warned == ["the answer gives the times 0:30, 3:15, which none of the excerpts holds: the times of the "
                      "lines are those of the citations"]


def test_a_quote_credited_to_the_wrong_track_is_named():
    """SmolLM2 had credited river.wav's line to fire.wav; the check had only asked whether some excerpt held it."""
    from library.ask import answer_warnings
    from worker.llm.claims import misattributed_quotes

    prompt = ('Excerpts:\n[1] "river.wav" (session s1), at 0:00: "I walked along the river road"\n[2] "fire.wav" '
              '(session s2), at 1:05: "The fire burns all night long"\n\nQuestion: which song is about a river?')
    candidates = [{"filename": "river.wav", "text": "I walked along the river road"},
                  {"filename": "fire.wav", "text": "The fire burns all night long"}]
    excerpts = {c["filename"]: [c["text"]] for c in candidates}
    wrong = 'The song about a river is fire.wav, which sings "I walked along the river road" [2].'
    assert misattributed_quotes(wrong, excerpts) == [("I walked along the river road", "fire.wav", ["river.wav"])]
    assert answer_warnings(wrong, prompt=prompt, candidates=candidates, numbers={2}) == [
        'the answer credits "I walked along the river road" to fire.wav, but river.wav\'s excerpts hold it, '
        "not fire.wav's: check which track says it"]
    # credited right, the nearest name in its sentence (a slip allowed), or near no track name: nothing to say
    for right in ('river.wav sings "I walk along the river road" [1], while fire.wav sings "The fire burns all '
                  'night long" [2].', 'In "The fire burns all night long" (Fire.WAV) and river.wav, fire and water.',
                  'fire.wav is hot. "I walked along the river road" is a river song.',
                  'The line "The fire burns all night long" is in "fire.wav" [2].'):
        assert misattributed_quotes(right, excerpts) == [], right
        assert answer_warnings(right, prompt=prompt, candidates=candidates, numbers={1, 2}) == [], right
