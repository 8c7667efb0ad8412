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
