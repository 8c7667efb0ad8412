"""library/language.py's rule for "does not look like English", on known answers: the search reads English only,
and a question in another language that nothing matches is told so (library/ask.py NOT_ENGLISH_NOTE)."""

from __future__ import annotations

import pytest

from library.ask import NOT_ENGLISH_NOTE, NOTHING_FOUND, YOURS, nothing_found
from library.language import looks_english

FOREIGN = [
    "Quelle chanson parle de la pluie ?",  # French
    "Qu'est-ce que c'est, cette musique ?",
    "Welches Lied handelt von der Liebe?",  # German
    "Gibt es ein Lied über Regen?",
    "¿Qué canción habla del amor?",  # Spanish
    "Hay alguna canción lenta en mi biblioteca",
    "Quale canzone parla di amore?",  # Italian
    "Qual música fala sobre a chuva?",  # Portuguese
    "Welk nummer gaat over de regen?",  # Dutch
    "Ich will ein Lied, das ich hier hören kann",  # German with "will", also an English word
    "愛についての歌はどれですか",  # Japanese
    "雨",
    "Какая песня о любви?",  # Russian
    "Дождь",
]
ENGLISH = [
    "which song has fast drums?",
    "Which song did Beyoncé sing about rain?",  # a name with an accent
    "Is there anything by Björk in my library?",
    "Beyoncé?",
    "Beyoncé songs",  # short: not judged by its words
    "sad songs",
    "chansons tristes",  # too short to tell: taken for English
    "songs about the moon",
    "What's the slowest track?",
    "fast drum and bass",
    "120 BPM",
    "",
]


@pytest.mark.parametrize("question", FOREIGN)
def test_questions_in_other_languages_do_not_look_english(question):
    assert not looks_english(question)


@pytest.mark.parametrize("question", ENGLISH)
def test_english_questions_look_english(question):
    assert looks_english(question)


def test_the_nothing_found_answer_adds_the_note_for_other_languages_only():
    assert nothing_found("which song has fast drums?", YOURS) == NOTHING_FOUND  # the fixed sentence, unchanged
    assert nothing_found("Quelle chanson parle de la pluie ?", YOURS) == f"{NOTHING_FOUND} {NOT_ENGLISH_NOTE}"
