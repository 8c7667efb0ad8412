"""/library/ask's "slow songs", "something fast": the tracks measured slow or fast, said with the tempo range read
(a stranger's had been searched as words, while "the slowest" was read as a tempo). Real SQLite library, index and
search; the results written as the pitch and features jobs write them."""

from __future__ import annotations

import uuid

import pytest

from library.ask import measured_answer
from library.service import Library
from tests.library_results import write_results

TEMPI = {"ballad": 72.0, "groove": 110.0, "punk": 168.0, "edge": 90.0}


@pytest.fixture()
def indexed(tmp_path):
    library = Library({"DATA_DIR": str(tmp_path), "DATABASE_URL": "", "TORCH_NUM_THREADS": 1})
    owner = f"u{uuid.uuid4().hex[:6]}"
    for i, (stem, bpm) in enumerate(TEMPI.items()):
        write_results(tmp_path / "results", stem, tonic="A", mode="minor" if stem != "punk" else "major", tempo=bpm,
                      mfcc_shift=float(i))
        library.index_file(owner=owner, session_id="s1", filename=f"{stem}.wav", results_dir=tmp_path / "results")
    yield library, owner
    library.db.close()


def test_slow_and_fast_select_the_tracks_measured_so(indexed):
    library, owner = indexed
    slow = measured_answer(library, owner=owner, question="slow songs in A minor")
    assert slow is not None and slow["model"] is None
    assert slow["answer"] == ("2 tracks were measured in A minor, at a slow tempo (90 BPM or less): ballad.wav "
                              "(session s1), edge.wav (session s1)."), slow["answer"]
    assert slow["measured_filter"]["tempo_max"] == 90.0 and slow["measured_filter"]["tempo_min"] is None
    fast = measured_answer(library, owner=owner, question="something fast")
    assert fast is not None and fast["answer"] == ("1 track was measured at a fast tempo (130 BPM or more): "
                                                   "punk.wav (session s1)."), fast["answer"]
    none = measured_answer(library, owner=owner, question="anything fast in A minor?")
    assert none is not None and none["answer"] == ("No track in your library was measured in A minor, at a fast "
                                                   "tempo (130 BPM or more)."), none["answer"]
