"""Search kept to the tracks the music analysis measured as speech or as music (`content`), on each database
test_library_index.py runs on (SQLite; PostgreSQL, its vectors searched in numpy; pgvector, searched by the
database). Split from that module, at its 400-line bound. Real parts: the database, the MiniLM embedder; the result
files are written as the pipelines write them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.library_results import forget_libraries, write_results
from tests.test_library_index import scratch_database
from worker.audio_llm.speech import SILENCE_WARNING

# the same words in a talk, a song and a track measured before pitch measured speech: only what it was measured as
# tells them apart (a search for an audiobook's words had listed the songs that sang them among it)
WORDS = "Walking down the river road tonight"


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "pgvector"])
def library(request, tmp_path_factory):
    from library.service import Library

    data = tmp_path_factory.mktemp("library-content")
    if request.param == "sqlite":
        lib = Library({"DATA_DIR": str(data), "DATABASE_URL": "", "TORCH_NUM_THREADS": 1})
        yield lib
        lib.db.close()
        return
    if request.param == "pgvector":
        lib = Library({"DATA_DIR": str(data), "DATABASE_URL": request.getfixturevalue("pgvector_url"),
                       "TORCH_NUM_THREADS": 1})
        yield lib
        forget_libraries()
        return
    with scratch_database() as (_, _, url):
        try:
            yield Library({"DATA_DIR": str(data), "DATABASE_URL": url, "TORCH_NUM_THREADS": 1})
        finally:
            forget_libraries()


@pytest.fixture(scope="module")
def indexed(library) -> tuple[str, dict[str, str]]:
    """(owner, stem -> track id): a talk and a song of the same words, one measured before speech was, a party, an
    instrumental and a silent file (no words to search)."""
    owner = f"c{uuid.uuid4().hex[:6]}"
    results = library.data_dir / "results-content"
    ids = {}
    for stem, line, share in (("talk", WORDS, 0.93), ("song", f"{WORDS} my love", 0.02),
                              ("old", f"{WORDS} again and again", None),
                              ("party", "Dance all night under neon lights", 0.0), ("hum", None, 0.01),
                              ("hush", None, 0.0)):
        write_results(results, stem, tonic="A", mode="minor", tempo=120.0, mfcc_shift=1.0,
                      lines=[(2.0, line)] if line else None)
        if share is not None:  # "old": a pitch result from before the analysis measured speech
            pitch = json.loads((results / f"pitch_{stem}.json").read_text())
            silent = {"warnings": [SILENCE_WARNING]} if stem == "hush" else {}  # as the pitch job says silence
            (results / f"pitch_{stem}.json").write_text(json.dumps({**pitch, "speech_share": share, **silent}))
        ids[stem] = library.index_file(owner=owner, session_id="s1", filename=f"{stem}.wav",
                                       results_dir=Path(results))["track_id"]
    return owner, ids


@pytest.mark.parametrize("mode", ["lyrics", "semantic", "hybrid"])
def test_a_search_keeps_to_the_content_asked_for(library, indexed, mode):
    owner, ids = indexed

    def found(content: str | None, limit: int = 10) -> list[str]:
        hits = library.search(owner=owner, query=WORDS, mode=mode, limit=limit, content=content)
        return [h["track"]["filename"] for h in hits]

    every = found(None)
    assert {"talk.wav", "song.wav", "old.wav"} <= set(every), every
    assert found("speech") == ["talk.wav"]
    # of the talk and the song, the one ranked behind the other: a page of one of its content is that one, not
    # empty (the kept hits are cut from the ranking, not the ranking's first page filtered)
    behind = max(("talk.wav", "song.wav"), key=every.index)
    assert found("speech" if behind == "talk.wav" else "music", limit=1) == [behind], every
    # the track never measured is in neither
    assert "old.wav" not in found("music") and "talk.wav" not in found("music")
    assert all(h["track"]["content"] == "music" for h in library.search(owner=owner, query=WORDS, mode=mode,
                                                                        limit=10, content="music"))


def test_a_search_kept_to_a_content_counts_the_tracks_of_that_content(library, indexed):
    """What an empty search says it searched (`tracks`, `tracks_with_text`): a search kept to speech had counted
    the whole library's tracks and words, as if it had read the songs too."""
    owner, _ = indexed
    assert library.text_counts(owner=owner) == (6, 4)  # every track; all but the instrumental and silence have words
    assert library.text_counts(owner=owner, content="speech") == (1, 1)  # the talk
    assert library.text_counts(owner=owner, content="music") == (3, 2)  # the song, the party, the instrumental
    assert library.text_counts(owner=owner, content="silence") == (1, 0)  # the silent file (it had counted as music)


def test_a_silent_track_is_silence_not_music(library, indexed):
    """On every database: the silent file's content is "silence", and content=silence lists it alone."""
    from library.store import TrackFilter

    owner, _ = indexed

    def listed(content: str) -> dict[str, str]:
        tracks = library.list_tracks(owner=owner, where=TrackFilter(content=content), after=None, limit=50)
        return {t["filename"]: t["content"] for t in tracks}

    assert listed("silence") == {"hush.wav": "silence"}
    assert "hush.wav" not in listed("music") and set(listed("music")) == {"song.wav", "party.wav", "hum.wav"}
