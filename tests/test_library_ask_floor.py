"""/library/ask gives the model only passages at ASK_SEMANTIC_MIN or nearer: weak matches (cosine 0.2-0.3) had
reached it as excerpts, and SmolLM2 quoted an unrelated transcript. A question that only such passages match is
answered "nothing matches" by the request. Real SQLite library, the shipped MiniLM, a transcript as tiny.en wrote
it for espeak-ng's reading of a river song (bench/semantic_floor.py)."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from library.ask import ASK_SEMANTIC_MIN, NOTHING_FOUND, unmatched_answer
from library.search import SEMANTIC_MIN
from library.service import Library
from tests.library_results import write_results

HEARD = ("Walking down the river road to the height, the water shines under the moon, I follow the stream back "
         "home.")  # tiny.en's transcript of "Walking down the river road tonight. The water shines ..."


@pytest.fixture()
def river(tmp_path):
    library = Library({"DATA_DIR": str(tmp_path), "DATABASE_URL": "", "TORCH_NUM_THREADS": 1})
    owner = f"u{uuid.uuid4().hex[:6]}"
    write_results(tmp_path / "results", "river", tonic="A", mode="minor", tempo=100.0, mfcc_shift=0.0,
                  lines=[(0.5, HEARD)])
    library.index_file(owner=owner, session_id="s1", filename="river.wav", results_dir=tmp_path / "results")
    yield library, owner
    library.db.close()


def _cosine(library: Library, owner: str, question: str) -> float:
    data = library.cache.passages(owner)
    return float((data.matrix @ library.embed_query(question).astype(np.float32)).max())


def test_a_weak_semantic_match_is_no_match_for_a_question(river):
    library, owner = river
    question = "which track is about dancing?"
    weak = _cosine(library, owner, question)
    assert SEMANTIC_MIN <= weak < ASK_SEMANTIC_MIN, weak  # the band that had reached the model (0.239 measured)
    assert library.search(owner=owner, query=question, mode="semantic", limit=5)  # /library/search still lists it
    told = unmatched_answer(library, owner=owner, question=question)
    assert told is not None and told["answer"] == NOTHING_FOUND and told["candidates"] == []


def test_a_relevant_question_still_reaches_the_model(river):
    library, owner = river
    question = "a song about a stroll along the water at night"  # no word of the transcript but "the"
    assert _cosine(library, owner, question) >= ASK_SEMANTIC_MIN
    assert unmatched_answer(library, owner=owner, question=question) is None
