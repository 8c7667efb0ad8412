"""The lyrics answer's sections: an answer that only repeats the prompt's instructions is recognised as none."""

from __future__ import annotations

from worker.llm.repetition import looping_word
from worker.lyrics.prompts import (
    SECTION_ASKS,
    echoed_sections,
    lyrics_prompt,
    read_answer,
    split_sections,
)


def test_a_copied_back_format_is_no_answer_and_a_real_one_is_kept():
    lines = [{"start": 3.0, "end": 5.0, "text": "I walked the line"}]
    prompt, cut = lyrics_prompt(lines, language="en", music_text="", sees_image=False)
    assert not cut and "[0:03] I walked the line" in prompt
    for name, ask in SECTION_ASKS.items():
        assert f"{name}: {ask}" in prompt
    # SmolLM2-135M's answer to a stranger's speech clip: the format, copied back
    echo = ("Themes: what the song is about.\nMood: the feeling of the words.\n"
            "Narrative: who speaks to whom, and what happens, if anything.\nNotable lines: two or three lines quoted")
    assert echoed_sections(split_sections(echo)) == ["themes", "mood", "narrative", "notable_lines"]
    answer = ("**Themes:** what the song is about is leaving home.\nMood: wistful.\n"
              "Narrative: the singer speaks to a lover.\nNotable lines: [0:03] I walked the line - the title.")
    sections = split_sections(answer)
    assert sections["mood"] == "wistful." and echoed_sections(sections) == []
    assert echoed_sections(split_sections("Mood: the feeling of the words.\nThemes: love")) == ["mood"]
    assert echoed_sections(split_sections("Mood: the.")) == []  # too short to tell from an answer
    # nearly word for word, or another section's instructions (a stranger's notable_lines on a sine)
    near = "Notable lines: two or three lines quoted with their times, and why they stand out."
    assert echoed_sections(split_sections(near)) == ["notable_lines"]
    other = "Notable lines: Themes: what the song is about. Mood: the feeling of the words."
    assert echoed_sections(split_sections(other)) == ["notable_lines"]
    quoted = "Notable lines: [0:03] I walked the line, where the song is about leaving: the title."
    assert echoed_sections(split_sections(quoted)) == []


def test_an_answer_stuck_in_a_loop_is_told_apart_from_prose():
    """SmolLM2 gave a stranger 600 tokens of "lazy lazy lazy..." with no word of warning."""
    assert looping_word("Themes: lazy " + "lazy " * 80) == ("lazy", 81 / 82)
    word, share = looping_word("I love you " * 30)
    assert word in ("i", "love", "you") and abs(share - 1 / 3) < 1e-9
    prose = ("The song is about leaving home at night in the rain, and the road that takes the singer away from "
             "the town where the river runs past the old mill; the mood is quiet and the lines repeat the road.")
    assert looping_word(prose) is None
    assert looping_word("lazy " * 10) is None  # too short to call a loop


def test_what_an_answer_is_warned_of():
    ok = "Themes: leaving home.\nMood: quiet.\nNarrative: a singer walks away.\nNotable lines: [0:03] the rain."
    analysis, warnings = read_answer(ok, heard_words=True)
    assert analysis["mood"] == "quiet." and warnings == []
    analysis, warnings = read_answer("It is a nice song about a road and some rain, I think.", heard_words=True)
    assert not any(analysis.values()) and len(warnings) == 1 and "none of the sections" in warnings[0]
    analysis, warnings = read_answer("lazy " * 60, heard_words=True)  # a stranger's SmolLM2 answer: two warnings
    assert "none of the sections" in warnings[0] and "'lazy' is 100% of its words" in warnings[1]
    assert read_answer("", heard_words=False) == ({k: "" for k in analysis}, [])  # nothing heard, nothing said
    # a stranger's SmolLM2 notable_lines: its own instruction first, then an answer to something else
    began = ("Themes: a test.\nNotable lines: two or three lines quoted with their [m:ss] times, and why they "
             "stand out.\n\nThe song is about a test of the voice.")
    analysis, warnings = read_answer(began, heard_words=True)
    assert analysis["notable_lines"] == "The song is about a test of the voice." and analysis["themes"] == "a test."
    assert warnings == ["the model began notable_lines by repeating the prompt's instructions (removed); what "
                        "follows may not answer what was asked"]
    # every section the instructions copied back: that warning alone, not also "none of the sections" (a stranger
    # read both beside an answer with all four headings)
    echo = ("Themes: what the song is about.\nMood: the feeling of the words.\n"
            "Narrative: who speaks to whom, and what happens, if anything.\nNotable lines: two or three lines quoted")
    analysis, warnings = read_answer(echo, heard_words=True)
    assert not any(analysis.values()) and len(warnings) == 1 and "repeated the prompt's instructions" in warnings[0]
    kept = "Notable lines: what the song is about is leaving home, said at [0:03]."  # an ask's words in an answer
    assert read_answer(kept, heard_words=True)[0]["notable_lines"] == kept.split(": ", 1)[1]


def test_an_analysis_of_a_transcript_whisper_doubted_passes_the_doubt_on(tmp_path):
    """A stranger's instrumental got "Thank you so much for watching" from Whisper, with a warning; the lyrics job
    spent a minute analysing those words and said nothing of the doubt."""
    from pathlib import Path

    from worker.lyrics.options import LyricsOptions
    from worker.lyrics.pipeline import _result
    from worker.transcription.pipeline import doubt_warnings

    segment = {"text": "Thank you so much for watching.", "start": 0.0, "end": 4.0, "no_speech_prob": 0.9,
               "avg_logprob": -1.2, "speech_share": 0.0}
    doubt = doubt_warnings([segment])
    assert doubt and doubt[0].startswith("the transcript may be made up")
    transcript = {"language": "en", "segments": [segment], "warnings": [*doubt, "another note"]}
    generated = {"response": "Themes: gratitude", "model": "smollm2-135m", "finish_reason": "stop",
                 "tokens_generated": 4, "seconds": 1.0}
    lines = [{"text": segment["text"], "start": 0.0, "end": 4.0}]
    result = _result(Path("sad.ogg"), LyricsOptions(), None, transcript, "transcript_sad.json", lines, False,
                     generated, [])
    assert f"the analysis read a doubtful transcript: {doubt[0]}" in result["warnings"]
    assert not any("another note" in w for w in result["warnings"])
    clean = _result(Path("sad.ogg"), LyricsOptions(), None, {**transcript, "warnings": []}, "t.json", lines, False,
                    generated, [])
    assert not any("doubtful" in w for w in clean["warnings"])
    # no word heard (frozen-bubble's 5-minute instrumental: one segment of no word, Whisper doubting it): no analysis
    # was generated, so none is said to have read the transcript; the doubt is said of the transcript itself
    silent = {"response": "", "model": "smollm2-135m", "finish_reason": "stop", "tokens_generated": 0, "seconds": 0.0}
    none = _result(Path("fb.ogg"), LyricsOptions(), None, transcript, "transcript_fb.json", [], False, silent, [])
    assert none["warnings"][0].startswith("the transcript holds no words") and none["analysis_text"] == ""
    assert f"the transcript is doubtful: {doubt[0]}" in none["warnings"]
    assert not any(w.startswith("the analysis") for w in none["warnings"]), none["warnings"]


def test_a_voice_the_transcript_has_no_words_for_is_passed_on(tmp_path):
    """tiny.en wrote nothing for the French half of a story read in English then French, and the transcript now says
    so; the lyrics analysis of that transcript had dropped the warning (it passes on only the ones that begin as
    Whisper's doubts), so it read the English half as the whole, unsaid."""
    from pathlib import Path

    from worker.lyrics.options import LyricsOptions
    from worker.lyrics.pipeline import _result
    from worker.transcription.unheard import unheard_warning

    lines = [{"text": "Once upon a time there was a fox.", "start": 0.0, "end": 60.0}]
    unheard = unheard_warning([(0.0, 60.0), (62.0, 116.0)], lines, english_only=True, model_name="tiny.en")
    assert unheard and unheard[0].startswith("a voice was heard for 54.0 s"), unheard
    transcript = {"language": "en", "segments": lines, "warnings": unheard}
    generated = {"response": "Themes: a fox", "model": "smollm2-135m", "finish_reason": "stop",
                 "tokens_generated": 4, "seconds": 1.0}
    result = _result(Path("story.ogg"), LyricsOptions(), None, transcript, "transcript_story.json", lines, False,
                     generated, [])
    assert f"the analysis read a doubtful transcript: {unheard[0]}" in result["warnings"], result["warnings"]


def test_a_line_without_a_word_is_no_lyrics():
    """Whisper's "." for an instrumental went to the model as lyrics (it wrote about it), and "the . ." counted as
    three words."""
    from worker.lyrics.prompts import timed_lines, word_count

    texts = (".", "the . .", "don't stop-me now", "日本語 の", "♪ ♪", "42")
    assert [word_count(t) for t in texts] == [0, 1, 3, 2, 0, 1]
    dots = {"segments": [{"text": " .", "start": 0.0, "end": 2.0}, {"text": "♪", "start": 2.0, "end": 3.0}],
            "text": " . ♪"}
    assert timed_lines(dots) == []  # so no model is asked (run_lyrics' "no words" path)
    sung = {"segments": [{"text": " .", "start": 0.0, "end": 2.0}, {"text": " the . .", "start": 2.0, "end": 4.0}]}
    assert timed_lines(sung) == [{"start": 2.0, "end": 4.0, "text": "the . ."}]


def test_quotes_the_transcript_does_not_hold_are_named():
    """Small models write lines of their own in quotation marks as the song's notable lines; a reader cannot tell
    them from the song's. Known answers: slips of form (contractions, "gonna") are the song's line, a line the
    song never sings is named, short emphasis ("oh yeah") is no quote."""
    from worker.lyrics.quotes import heard_share, quotations, unheard_quotes, unheard_warning, words_of

    lines = ["I'm gonna walk down to the river tonight", "And you can't stop me now", "Oh yeah", "日本語 の 歌 を 歌う"]
    answer = ('Notable lines: "I am going to walk down to the river" [0:01]; “you can not stop me now” [0:04]; '
              '"oh yeah"; "I will always love you" [0:09]; «Dancing in the moonlight all night long»; '
              '"日本語 の 歌"; "I will always love you" again.')
    assert quotations(answer)[0] == "I am going to walk down to the river" and "oh yeah" not in quotations(answer)
    assert unheard_quotes(answer, lines) == ["I will always love you", "Dancing in the moonlight all night long"]
    assert words_of("Can't ’Cause WON'T") == ["can", "not", "because", "will", "not"]
    assert heard_share(words_of("walk down the river"), words_of(lines[0])) == 1.0  # one word missed inside
    assert heard_share(words_of("walk up to a lake"), words_of(lines[0])) < 0.75
    # an instrumental's empty transcript holds no quote (it had raised IndexError)
    assert heard_share(words_of("walk down the river"), []) == 0.0
    assert unheard_quotes('It sings "walk down the river road".', []) == ["walk down the river road"]
    warning = unheard_warning(unheard_quotes(answer, lines))
    assert warning is not None and '"I will always love you"; "Dancing in the moonlight' in warning
    assert unheard_warning([]) is None and unheard_quotes("no quotes here", lines) == []
    many = unheard_warning([f"line number {n} made up" for n in range(5)])
    assert many is not None and many.endswith("and 2 more")


def test_the_lyrics_result_names_a_made_up_quote():
    from pathlib import Path

    from worker.lyrics.options import LyricsOptions
    from worker.lyrics.pipeline import _result, _text

    lines = [{"text": "Walking in the rain again", "start": 1.0, "end": 3.0}]
    generated = {"response": 'Notable lines: "Walking in the rain again" [0:01] and "the sun will never shine" [0:02]',
                 "model": "smollm2-135m", "finish_reason": "stop", "tokens_generated": 20, "seconds": 1.0}
    result = _result(Path("rain.ogg"), LyricsOptions(), None, {"language": "en", "segments": []}, "t.json", lines,
                     False, generated, [])
    assert result["unheard_quotes"] == ["the sun will never shine"]
    assert any('"the sun will never shine"' in w for w in result["warnings"])
    assert "Warning: the analysis quotes words the transcript does not hold" in _text({**result, "files": []})


def test_a_transcript_cut_for_the_prompt_says_how_much_was_read():
    """The lyrics analysis of a 30-minute audiobook (357 lines of words) read its first 200, up to 18:08 of 30:17,
    and said only that it read "its beginning"."""
    from pathlib import Path

    from worker.lyrics.options import LyricsOptions
    from worker.lyrics.pipeline import _result
    from worker.lyrics.prompts import MAX_LINES, lyrics_prompt

    lines = [{"start": 5.0 * i, "end": 5.0 * i + 4.5, "text": f"Line {i} of the talk about the harbour."}
             for i in range(359)]
    _, cut = lyrics_prompt(lines, language="en", music_text="", sees_image=False)
    assert cut and MAX_LINES == 200
    generated = {"response": "Themes: a harbour", "model": "smollm2-135m", "finish_reason": "stop",
                 "tokens_generated": 4, "seconds": 1.0}
    result = _result(Path("talk.wav"), LyricsOptions(), None, {"language": "en", "warnings": []}, "t.json", lines,
                     cut, generated, [])
    assert ("the transcript was too long to quote whole; the analysis read its beginning (its first 200 of 359 "
            "lines, up to 16:39 of 29:54)") in result["warnings"], result["warnings"]
