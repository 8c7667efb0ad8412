"""The prompt `/library/ask` gives the model for a question that names a superlative and asks more ("which
slowest song mentions the night?"): its candidates had come in search order, with nothing said of the ranking, so
the model could only guess which track was the slowest. Real SQLite library, real index, real search."""

from __future__ import annotations

import pytest

from library.ask import ask_prompt, excerpt, measured_hits, ranked_hits
from library.question_facts import question_facts
from library.service import Library
from tests.library_results import index_river_and_party


@pytest.fixture()
def indexed(tmp_path):
    library = Library({"DATA_DIR": str(tmp_path), "DATABASE_URL": "", "TORCH_NUM_THREADS": 1})
    owner, _ = index_river_and_party(library, tmp_path / "results")  # river 120 BPM, party 100 BPM; both "night"
    yield library, owner
    library.db.close()


def prompt_for(library: Library, owner: str, question: str) -> str:
    facts = question_facts(question)
    hits = ranked_hits(measured_hits(library, owner=owner, question=question, facts=facts, limit=8), facts.ranked)
    return ask_prompt(question, facts, candidates=[excerpt(i, h) for i, h in enumerate(hits, 1)], hits=hits)


@pytest.mark.parametrize(("question", "first", "second"), [
    ("Which slowest song mentions the night?", "party.wav", "river.wav"),
    ("Which is the fastest song about the night?", "river.wav", "party.wav"),
])
def test_candidates_come_in_the_superlatives_order_and_the_model_is_told(indexed, question, first, second):
    prompt = prompt_for(*indexed, question)
    lines = prompt.splitlines()
    assert lines[1].startswith(f'[1] "{first}"') and lines[2].startswith(f'[2] "{second}"'), prompt
    ranked = question_facts(question).ranked
    assert f"(The excerpts are ordered {ranked} first, by the tempo measured.)" in prompt
    assert "100.0 BPM" in prompt and "120.0 BPM" in prompt


def test_a_ranking_by_loudness_shows_the_loudness(indexed):
    prompt = prompt_for(*indexed, "Which loudest song mentions the night?")
    # party: loudness -15.0 LUFS, river -12.0: the river song is the louder
    assert prompt.splitlines()[1].startswith('[1] "river.wav"') and "loudness -12.0 LUFS" in prompt, prompt
    assert "ordered loudest first, by the loudness measured" in prompt


def test_without_a_superlative_the_search_order_stands(indexed):
    library, owner = indexed
    question = "Which song mentions the river road?"
    hits = library.search(owner=owner, query=question, mode="hybrid", limit=8)
    prompt = ask_prompt(question, question_facts(question), candidates=[excerpt(i, h) for i, h in
                                                                        enumerate(hits, 1)], hits=hits)
    assert prompt.splitlines()[1].startswith('[1] "river.wav"') and "ordered" not in prompt, prompt
