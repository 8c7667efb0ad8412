"""A looping answer that varies its words is still named a loop (worker/llm/repetition.py).

A stranger's SmolLM2 `--llm analyze` answer was 512 tokens of "The production of the production of the ..." and got
only "cut at max_new_tokens ... ask for more tokens": SmolLM2 may not repeat a whole 6-word n-gram
(answer_no_repeat_ngram), so it loops with a word changed here and there, and no single word reached 30 %.
"""

from __future__ import annotations

from worker.audio_llm.options import Gemma3NOptions
from worker.audio_llm.passes import Generated, Prepared, answer_warnings
from worker.llm.repetition import loop_warning, looping_phrase, looping_word

# the shape of that answer: one phrase over and over, its nouns and verbs changing, no 6-gram twice
LOOP = ("The production of the production of the song is clear, and the production of the vocals is warm. "
        "The production of the production of the guitar is bright, while the production of the drums is tight. "
        "The production of the mix gives the production of the bass its weight, and the production of the piano "
        "is soft. The production of the production of the recording is balanced, so the production of the "
        "strings feels wide. The production of the chorus lifts the production of the verse, and the production "
        "of the bridge is calm. The production of the production of the track is polished, and the production "
        "of the intro is sparse. The production of the outro fades, and the production of the keys is muted.")
# an answer of the same length that does not loop (SmolLM2's analysis of a triad and a tone)
PROSE = ("The recording opens with a sustained A major triad held for about twenty seconds, played evenly and "
         "without rhythm, so there is no clear tempo or metre to follow. Its brightness is moderate and the "
         "loudness stays steady. After the chord fades, a quieter high tone around 880 Hz takes over for the "
         "second half: a single pitch, an octave above the chord's root, with nothing moving underneath it. "
         "The mood is calm and a little clinical, closer to a test signal than to a song; there are no vocals, "
         "drums or bass, and the production is dry, with no reverb to speak of.")


def test_a_loop_with_variations_is_named():
    assert looping_word(LOOP) is None  # what the old check looked at alone: no word at 30 %
    phrase, count, share = looping_phrase(LOOP)
    assert phrase == "the production of" and count >= 20 and share >= 0.3
    [warning] = loop_warning(LOOP)
    assert warning.startswith("the answer repeats itself ('the production of' comes") and "stuck in a loop" in warning


def test_prose_is_not_a_loop():
    assert looping_phrase(PROSE) is None and loop_warning(PROSE) == []
    assert looping_phrase("the production of " * 5) is None  # too short to call a loop


def test_a_looping_answer_cut_at_the_limit_is_not_told_to_ask_for_more():
    prepared = Prepared(filename="clip.mp3", options=Gemma3NOptions(task="analyze", model_variant="smollm2-135m"),
                        duration_seconds=30.0, sample_rate=44100, channels=2, features={}, features_text="",
                        audio_input=False, spans=[], span_features=[], calls=[])
    warnings = answer_warnings(prepared, Generated(summary=LOOP, finish_reason="length"))
    assert warnings[0] == "the answer was cut at max_new_tokens (finish_reason: length)"
    assert warnings[1].startswith("the answer repeats itself") and len(warnings) == 2
    plain = answer_warnings(prepared, Generated(summary=PROSE, finish_reason="length"))
    assert plain == ["the answer was cut at max_new_tokens (finish_reason: length); ask for more tokens"]


# a stranger's looping comparison: a wrong tempo before the loop (the prompt measured 93.0 BPM)
WRONG_TEMPO_LOOP = "Track 1 has a tempo of 19.2 BPM. " + LOOP
MEASURED = "Track 1: a.ogg, key D minor, tempo 93.0 BPM. Track 2: b.ogg, key B minor, tempo 120.0 BPM."


def test_a_looping_answer_still_has_its_claims_checked():
    """The loop warning had replaced the claim checks: the wrong tempo went without a word (compare, the LLM
    analysis and /library/ask alike)."""
    from library.ask import answer_warnings as ask_warnings
    from worker.compare.pipeline import _warnings as compare_warnings

    tracks = [{"music": True, "has_features": True, "facts": {"file": f}} for f in ("a.ogg", "b.ogg")]
    compared = compare_warnings(tracks, {"finish_reason": "stop", "response": WRONG_TEMPO_LOOP}, prompt=MEASURED)
    prepared = Prepared(filename="a.ogg", options=Gemma3NOptions(task="analyze", model_variant="smollm2-135m"),
                        duration_seconds=30.0, sample_rate=44100, channels=2, features={}, features_text="",
                        audio_input=False, spans=[], span_features=[], calls=[], music_text=MEASURED)
    analysed = answer_warnings(prepared, Generated(summary=WRONG_TEMPO_LOOP, finish_reason="stop"))
    asked = ask_warnings(WRONG_TEMPO_LOOP, prompt=MEASURED, numbers=set(),
                         candidates=[{"filename": "a.ogg", "track_id": 1}])
    for warnings in (compared, analysed, asked):
        assert warnings[0].startswith("the answer repeats itself"), warnings
        assert any(w.startswith("the answer gives 19.2 BPM, which the measurements do not") for w in warnings), warnings
    # and the measured tempo is not flagged
    assert not any("93.0" in w for w in compared + analysed + asked)


# a stranger's SmolLM2-135M comparison (POST /process/compare, two cadences measured at 120 BPM; temperature 0,
# max_new_tokens 700), as it came: facts, then 55 lines of "- genre: ..." and a tail of "the same tempo ... the same
# genre". No word at 30 % of it (genre 19 %), 22 % of its 3-word phrases repeated: it had no loop warning
COMPARISON_LOOP = (
    'The two tracks are not identical, but they differ in terms of their tempo, mood, structure, and'
    ' style.\n\nTrack 1:\n- Key: C major (confidence 1.00)\n- tempo: 120 BPM (confidence 0.98)\n- mood: b'
    'right, energetic, lighthearted\n- structure: 120 beats per minute (BPM)\n- style: 120-BPM\n- title'
    ': Camelot\n- content:\n- title: Camellot\n- genre: 120\n- genre: 2018\n- genre: 3\n- genre: 4\n- genre'
    ': 5\n- genre: 6\n- genre: 7\n- genre: 8\n- genre: E\n- genre: 9\n- genre: 0\n- genre: E2\n- genre: \n- g'
    'enre:  E\n- genre: E3\n- genre: E4\n- genre: E5\n- genre: E6\n- genre: E7\n- genre: E8\n- genre:\n- gen'
    're:  F\n- genre:  G\n- genre:  H\n- genre:  I\n- genre:  J\n- genre:  K\n- genre:  L\n- genre:  M\n- ge'
    'nre:  N\n- genre:  O\n- genre:  P\n- genre:  Q\n- genre:  R\n- genre:  S\n- genre:  T\n- genre:  U\n- g'
    'enre:  V\n- genre:  W\n- genre:  X\n- genre:  Y\n- genre:  Z\n- genre:  A\n- genre:  B\n- genre:  C\n- '
    'genre:  D\n- genre:  Epsilon\n- genre:   Epsilon\n- genres: \n- 120\n\nTrack 2:\n- Key: G major (confi'
    'dence 1:00)\n- speed: 120BPM (confidence 0:98)\n- style: lighthearted, lighthearted\n- title: Came'
    'ls\n- content:\n\nThe two tracks differ in terms of tempo, mood, structure and style.\n\nThe two tra'
    'cks are not the same tempo, mood, structure or style.\n\nThe one with the title Camellot is not t'
    'he same tempo, genre, style, genre, genre, genre, or genre.\n\nThe one that is the same tempo, ge'
    'nre and style is the one with the title Camels.\n\nThe one is different is the one with the genre'
    '.\n\nThe two are not the same tempo is not the same genre is not the same genre.\n\nThe only differ'
    'ence is that the one with the genre is different to the one with the genre, and the one with ge'
    'nre is different to the genre with the genre.\nThe two are not identical, but the one with genre'
    ' is not the same tempo as the one with tempo.\n\nThe one has the genre is not the same style as t'
    'he one with style.\n\nThe only thing that is the same is the one with genre is the same tempo as '
    'the other one with genre.\n\nThe 2 are')
# the shape of the stranger's report: a sensible start, then "the same tempo" with a word changed here and there
# to max_new_tokens (no 6-word n-gram twice, as answer_no_repeat_ngram forbids)
SAME_TEMPO_LOOP = (
    "Track 1 (c_major.wav) is in C major and Track 2 (g_major.wav) in G major; both were measured at 120 BPM in 4/4, "
    "and their keys are neighbours on the Camelot wheel (8B and 9B), so a DJ could mix one into the other without a "
    "clash. Track 1 is a little brighter, and both keep their chords simple, one to a bar, with a click on each "
    "beat. The two tracks have the same tempo, the same tempo and the same tempo, the same key and the same tempo, "
    "the same metre and the same tempo, the same energy and the same tempo, the tempo is the same tempo and the "
    "same mood, the same tempo and the same structure, so the same tempo.")
# prose of the same length that says "the same" and "tempo" often, as a comparison does: not a loop
SAME_TEMPO_PROSE = (
    "Both tracks were measured at the same tempo, 120 BPM, and in the same metre, 4/4, so their beats line up "
    "without any stretching. Track 1 is in C major and Track 2 in G major: neighbours on the Camelot wheel (8B and "
    "9B), which is why a DJ could mix one into the other. The tempo is the same, but the energy is not quite: "
    "Track 1's chords sit lower and sound warmer, while Track 2, a fifth higher, is brighter and a little thinner. "
    "Each moves through the same cadence, I-IV-V-I, one chord to a bar, with a click on every beat, so the "
    "structure is the same too; only the key and the brightness set them apart. Played one after the other, the "
    "second would sound like the first lifted, and a set could use it to raise the mood at the same tempo.")


def test_a_loop_after_a_sensible_start_is_named():
    """Checked over the whole answer alone, a loop that follows sense (and runs to max_new_tokens) was diluted below
    both shares: now any 60 words in a row are checked too (worker/llm/repetition.py LOOP_WINDOW)."""
    from worker.llm.repetition import looping_stretch

    for text in (COMPARISON_LOOP, SAME_TEMPO_LOOP):
        assert looping_word(text) is None and looping_phrase(text) is None  # the whole answer's checks: no loop
    assert looping_stretch(COMPARISON_LOOP) == ("genre", 31 / 60, "word")
    [warning] = loop_warning(COMPARISON_LOOP)
    assert warning == ("the answer repeats itself ('genre' is 52% of 60 words in a row): the model is stuck in a "
                       "loop; a larger model may answer")
    phrase, share, kind = looping_stretch(SAME_TEMPO_LOOP)
    assert (phrase, kind) == ("the same tempo", "phrase") and share >= 0.3, (phrase, share, kind)
    [warning] = loop_warning(SAME_TEMPO_LOOP)
    assert warning.startswith("the answer repeats itself ('the same tempo' and more: ") and "in a row" in warning


def test_prose_that_repeats_some_words_is_not_a_loop():
    from worker.llm.repetition import looping_stretch

    assert loop_warning(SAME_TEMPO_PROSE) == [] and looping_stretch(SAME_TEMPO_PROSE) is None
    assert looping_stretch(PROSE + " " + SAME_TEMPO_PROSE) is None  # two paragraphs: no 60 words in a row loop


def test_every_answer_a_user_reads_names_that_loop():
    """The comparison, the lyrics analysis, the audio-LLM analysis, /library/ask and /api/v2/models/generate each
    pass their answer through the same check: the stranger's looping comparison is named in each one's warnings."""
    from jobs.work.llm import with_loop_warning
    from library.ask import answer_warnings as ask_warnings
    from worker.compare.pipeline import _warnings as compare_warnings
    from worker.lyrics.prompts import read_answer

    tracks = [{"music": True, "has_features": True, "facts": {"file": f}} for f in ("c_major.wav", "g_major.wav")]
    prepared = Prepared(filename="c_major.wav", options=Gemma3NOptions(task="analyze", model_variant="smollm2-135m"),
                        duration_seconds=8.0, sample_rate=44100, channels=1, features={}, features_text="",
                        audio_input=False, spans=[], span_features=[], calls=[])
    said = {
        "compare": compare_warnings(tracks, {"finish_reason": "length", "response": COMPARISON_LOOP}, prompt=""),
        "lyrics": read_answer(COMPARISON_LOOP, heard_words=True)[1],
        "analysis": answer_warnings(prepared, Generated(summary=COMPARISON_LOOP, finish_reason="length")),
        "ask": ask_warnings(COMPARISON_LOOP, prompt="", numbers=set(), candidates=[]),
        "generate": with_loop_warning({"response": COMPARISON_LOOP, "warnings": []})["warnings"],
    }
    for where, warnings in said.items():
        assert any(w.startswith("the answer repeats itself ('genre' is 52% of 60 words in a row)") for w in warnings), \
            (where, warnings)


def test_a_part_whose_notes_loop_is_named():
    """A long recording's per-part notes (`chunk_notes`, in the .txt under "Notes per part") were not checked."""
    prepared = Prepared(filename="long.wav", options=Gemma3NOptions(task="analyze", model_variant="smollm2-135m"),
                        duration_seconds=60.0, sample_rate=44100, channels=1, features={}, features_text="",
                        audio_input=True, spans=[], span_features=[], calls=[])
    notes = [{"index": 0, "start_seconds": 0.0, "end_seconds": 30.0, "text": PROSE},
             {"index": 1, "start_seconds": 30.0, "end_seconds": 60.0, "text": COMPARISON_LOOP}]
    warnings = answer_warnings(prepared, Generated(summary=PROSE, finish_reason="stop", notes=notes))
    assert warnings == ["the notes of part 0:30-1:00: the answer repeats itself ('genre' is 52% of 60 words in a "
                        "row): the model is stuck in a loop; a larger model may answer"], warnings
