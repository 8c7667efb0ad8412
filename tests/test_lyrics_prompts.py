"""The lyrics answer's sections: an answer that only repeats the prompt's instructions is recognised as none."""

from __future__ import annotations

from worker.lyrics.prompts import SECTION_ASKS, echoed_sections, lyrics_prompt, split_sections


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
