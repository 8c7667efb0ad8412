"""The library over both databases (SQLite; PostgreSQL at 127.0.0.1:5432 in a database of this test run's own,
dropped after, whose vectors are searched in numpy; and a private PostgreSQL with pgvector, tests/pgvector_server.py,
whose vectors the database searches): migrations, indexing from session result files, lyric/semantic/hybrid search,
filters, similar tracks, removal. Real parts: the database, the MiniLM embedder; the result files are written as
the pipelines write them."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from library.service import Library
from library.store import TrackFilter
from tests.library_results import forget_libraries, write_results
from worker.camelot import compatible

PG_ADMIN_URL = os.environ.get("LIBRARY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "pgvector"])
def settings(request, tmp_path_factory):
    data = tmp_path_factory.mktemp("library-data")
    if request.param == "sqlite":
        yield {"DATA_DIR": str(data), "DATABASE_URL": "", "TORCH_NUM_THREADS": 1}
        return
    if request.param == "pgvector":
        yield {"DATA_DIR": str(data), "DATABASE_URL": request.getfixturevalue("pgvector_url"), "TORCH_NUM_THREADS": 1}
        forget_libraries()
        return
    with scratch_database() as (_, _, url):
        try:
            yield {"DATA_DIR": str(data), "DATABASE_URL": url, "TORCH_NUM_THREADS": 1}
        finally:
            forget_libraries()


@contextmanager
def scratch_database() -> Iterator[tuple[Any, str, str]]:
    """(an admin connection, the name, the URL) of a database of this test's own on the PostgreSQL at
    PG_ADMIN_URL, dropped after; the test is skipped where no server answers."""
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as e:
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {e}")
    name = f"library_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin, name, PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="module")
def library(settings):
    lib = Library(settings)
    assert lib.db.migrate() == []  # the constructor migrated; a second run applies nothing
    yield lib
    lib.db.close()


@pytest.fixture(scope="module")
def indexed(library, settings):
    owner, other = f"u{uuid.uuid4().hex[:6]}", f"o{uuid.uuid4().hex[:6]}"
    results = Path(settings["DATA_DIR"]) / "results"
    write_results(results, "river", tonic="A", mode="minor", tempo=120.0, mfcc_shift=0.0,
                  lines=[(2.0, "Walking down the river road tonight"), (6.0, "The rain keeps falling on my town")],
                  analysis="a lonely night walk beside flowing water")
    write_results(results, "river-copy", tonic="A", mode="minor", tempo=120.5, mfcc_shift=0.02)
    write_results(results, "party", tonic="C", mode="major", tempo=61.0, mfcc_shift=3.0,
                  lines=[(1.0, "Dance all night under neon lights"), (5.0, "Money in my pocket baby")],
                  analysis="celebration, dancing and nightlife")
    write_results(results, "far", tonic="F#", mode="major", tempo=150.0, mfcc_shift=6.0)
    ids = {}
    for stem in ("river", "river-copy", "party", "far"):
        out = library.index_file(owner=owner, session_id="s1", filename=f"{stem}.wav", results_dir=results)
        assert out["indexed"]
        ids[stem] = out["track_id"]
    again = library.index_file(owner=owner, session_id="s1", filename="river.wav", results_dir=results)
    assert again["embedded"] == 0 and again["track_id"] == ids["river"]  # idempotent, vectors reused
    library.index_file(owner=other, session_id="s1", filename="river.wav", results_dir=results)
    return owner, other, ids


def test_lyrics_phrase_and_fuzzy(library, indexed):
    owner, other, ids = indexed
    hits = library.search(owner=owner, query="river road", mode="lyrics", limit=10)
    assert [h["track_id"] for h in hits] == [ids["river"]]
    assert hits[0]["line"]["match"] == "phrase" and hits[0]["line"]["start_seconds"] == 2.0
    fuzzy = library.search(owner=owner, query="raine keep faling", mode="lyrics", limit=10)
    assert fuzzy and fuzzy[0]["track_id"] == ids["river"] and fuzzy[0]["line"]["match"] == "fuzzy"
    assert fuzzy[0]["line"]["text"] == "The rain keeps falling on my town"
    assert library.search(owner=owner, query="submarine", mode="lyrics", limit=10) == []


def test_semantic_and_hybrid(library, indexed):
    owner, _, ids = indexed
    hits = library.search(owner=owner, query="strolling along a stream in the evening", mode="semantic", limit=5)
    assert hits[0]["track_id"] == ids["river"] and hits[0]["passage"]["text"]
    hits = library.search(owner=owner, query="a song for a night out at the club", mode="semantic", limit=5)
    assert hits[0]["track_id"] == ids["party"]
    hybrid = library.search(owner=owner, query="falling rain", mode="hybrid", limit=5)
    assert hybrid[0]["track_id"] == ids["river"] and hybrid[0]["line"]["text"].startswith("The rain")


def test_owner_scope(library, indexed):
    owner, other, ids = indexed
    assert library.store.get(owner=other, track_id=ids["river"]) is None
    theirs = library.search(owner=other, query="river road", mode="lyrics", limit=10)
    assert len(theirs) == 1 and theirs[0]["track_id"] != ids["river"]


def test_filters(library, indexed):
    owner, _, ids = indexed

    def listed(**kw) -> set[str]:
        return {t["track_id"] for t in library.list_tracks(owner=owner, where=TrackFilter(**kw), after=None,
                                                          limit=50)}

    assert listed(camelot=("8A",)) == {ids["river"], ids["river-copy"]}
    assert listed(camelot=tuple(compatible("8A"))) == {ids["river"], ids["river-copy"], ids["party"]}  # 8B
    rows = library.list_tracks(owner=owner, where=TrackFilter(tempo_min=115, tempo_max=125), after=None, limit=50)
    assert {t["track_id"]: t["tempo_match"] for t in rows} == {ids["river"]: "exact", ids["river-copy"]: "exact",
                                                               ids["party"]: "double"}
    assert listed(tempo_min=115, tempo_max=125, tempo_multiples=False) == {ids["river"], ids["river-copy"]}
    assert listed(has_vocals=True) == {ids["river"], ids["party"]}
    assert listed(metre="3/4") == set()
    assert listed(loudness_max=-14.5) == {ids["party"], ids["far"]}
    page = library.list_tracks(owner=owner, where=TrackFilter(), after=None, limit=2)
    rest = library.list_tracks(owner=owner, where=TrackFilter(), after=(page[-1]["session_id"],
                                                                        page[-1]["filename"]), limit=10)
    assert len(page) == 2 and len(rest) == 2 and not {t["track_id"] for t in page} & {t["track_id"] for t in rest}
    # a file a library question names, in any case, on every backend (/library/ask "what key is River.WAV in?")
    assert listed(filenames=("River.WAV", "far.wav")) == {ids["river"], ids["far"]}


def test_text_counts_say_how_many_tracks_have_words_to_search(library, indexed):
    owner, other, _ = indexed  # river and party have a transcript and an analysis; river-copy and far none
    assert library.text_counts(owner=owner) == (4, 2)
    assert library.text_counts(owner=other) == (1, 1)
    assert library.text_counts(owner=f"n{uuid.uuid4().hex[:6]}") == (0, 0)


def test_similar_and_mix(library, indexed):
    owner, _, ids = indexed
    result = library.similar(owner=owner, track_id=ids["river"], limit=3, mix=False)
    assert [s["track"]["track_id"] for s in result["similar"]][0] == ids["river-copy"]
    mix = library.similar(owner=owner, track_id=ids["river"], limit=5, mix=True)
    assert {s["track"]["track_id"]: s["tempo_match"] for s in mix["similar"]} == {
        ids["river-copy"]: "exact", ids["party"]: "double"}


def test_a_track_with_a_transcript_alone_is_nobodys_neighbour(library, indexed, settings):
    """A track only transcribed has no audio descriptor: filled with the mean it would sit near every track and
    come before a re-encoded copy (a stranger's two speech clips ranked first); it is left out."""
    owner, _, ids = indexed
    results = Path(settings["DATA_DIR"]) / "results-speech"
    results.mkdir(parents=True, exist_ok=True)
    segments = [{"id": 1, "start": 0.0, "end": 3.0, "text": "The quick brown fox", "words": []}]
    (results / "transcript_talk.json").write_text(json.dumps({"language": "en", "segments": segments,
                                                             "text": "The quick brown fox"}))
    talk = library.index_file(owner=owner, session_id="s2", filename="talk.wav", results_dir=results)["track_id"]
    try:
        similar = library.similar(owner=owner, track_id=ids["river"], limit=10, mix=False)["similar"]
        assert similar[0]["track"]["track_id"] == ids["river-copy"]
        assert talk not in {s["track"]["track_id"] for s in similar} and len(similar) == 3
    finally:
        library.remove_session(owner=owner, session_id="s2")


def test_a_track_that_measured_less_is_not_nearer_than_a_copy(library, settings):
    """A seed in the middle of its library, its re-encoded copy 2 % off on every figure, and a track with a pitch
    result alone at the seed's tempo: the mean had filled that track's unknown timbre, harmony and energy, which
    put it at the seed (a stranger's lossy copy ranked second under a track only run through pitch); an unknown
    value now costs what an average track's does, so the copy comes first, and the pitch-only track comes after
    every track compared in full."""
    owner = f"m{uuid.uuid4().hex[:6]}"
    results = Path(settings["DATA_DIR"]) / f"results-{owner}"
    for stem, shift in (("seed", 0.0), ("copy", 0.0), ("up", 3.0), ("down", -3.0), ("beat", 0.0)):
        write_results(results, stem, tonic="A", mode="minor", tempo=120.0 + 20 * shift, mfcc_shift=shift)
    seed = json.loads((results / "features_seed.json").read_text())
    for stem, factor in (("copy", 1.02), ("up", 1.3), ("down", 0.7)):
        # the seed's chroma, scaled: the copy 2 % off, the two others symmetrically far on each side of the seed
        features = json.loads((results / f"features_{stem}.json").read_text())
        features["audio_features"]["chroma_distribution"] = [
            v * factor for v in seed["audio_features"]["chroma_distribution"]]
        (results / f"features_{stem}.json").write_text(json.dumps(features))
    copy = json.loads((results / "features_copy.json").read_text())
    for name in ("rms_dbfs", "crest_factor_db", "loudness_lufs", "spectral_centroid_hz", "spectral_rolloff_hz"):
        copy["audio_features"][name] *= 1.02
    copy["audio_features"]["mfcc"]["mean"] = [v * 1.02 + 0.02 for v in copy["audio_features"]["mfcc"]["mean"]]
    (results / "features_copy.json").write_text(json.dumps(copy))
    (results / "features_beat.json").unlink()
    ids = {stem: library.index_file(owner=owner, session_id="s", filename=f"{stem}.wav",
                                    results_dir=results)["track_id"] for stem in ("seed", "copy", "up", "down", "beat")}
    try:
        similar = library.similar(owner=owner, track_id=ids["seed"], limit=10, mix=False)["similar"]
        order = [s["track"]["track_id"] for s in similar]
        assert order[0] == ids["copy"] and set(order[1:3]) == {ids["up"], ids["down"]} and order[3] == ids["beat"]
        # the pitch-only track's distance is at least what its unknown figures cost: the weights of those that
        # vary over this library (all but bandwidth, zero-crossing rate, crest factor and silence); and it comes
        # after every track compared in full, whatever its distance (a stranger's speech clip run through pitch
        # alone had come first for a song among songs), saying how much of the seed it was compared on
        assert similar[3]["distance"] ** 2 >= 0.45 * 28 / 30 + 0.30 + 0.10 * 2 / 4 - 1e-3
        assert [s["compared_share"] for s in similar] == [1.0, 1.0, 1.0, 0.15]
    finally:
        library.remove_session(owner=owner, session_id="s")


def test_tracks_that_measured_none_of_the_same_descriptors_are_not_neighbours(library, settings):
    """A track with a pitch result alone and one with features alone share no descriptor: each sat at the mean
    of what the other measured, and a small library called them identical (distance 0.0). Two pitch-only tracks
    still compare by tempo and metre."""
    owner = f"u{uuid.uuid4().hex[:6]}"
    results = Path(settings["DATA_DIR"]) / f"results-{owner}"
    for stem, tempo in (("slow", 70.0), ("fast", 140.0), ("timbre", 100.0)):
        write_results(results, stem, tonic="C", mode="major", tempo=tempo, mfcc_shift=1.0)
    (results / "features_slow.json").unlink()
    (results / "features_fast.json").unlink()
    (results / "pitch_timbre.json").unlink()
    ids = {stem: library.index_file(owner=owner, session_id="s", filename=f"{stem}.wav",
                                    results_dir=results)["track_id"] for stem in ("slow", "fast", "timbre")}
    try:
        similar = library.similar(owner=owner, track_id=ids["slow"], limit=10, mix=False)["similar"]
        assert [(s["track"]["track_id"], s["distance"] > 0) for s in similar] == [(ids["fast"], True)]
        assert library.similar(owner=owner, track_id=ids["timbre"], limit=10, mix=False)["similar"] == []
    finally:
        library.remove_session(owner=owner, session_id="s")


def test_a_copy_in_another_session_takes_the_stored_vectors_and_nothing_new_is_embedded_unasked(library, settings):
    """A cached job's results are a copy of a track indexed before, in another session: indexed where no
    embedding model may be loaded (the request's process), its passages take the vectors the owner's library
    holds for the same texts; a new text is left out and counted until a worker indexes it again."""
    owner = f"c{uuid.uuid4().hex[:6]}"
    results = Path(settings["DATA_DIR"]) / "results-c"
    write_results(results, "walk", tonic="A", mode="minor", tempo=120.0, mfcc_shift=0.0,
                  lines=[(2.0, "Walking down the river road tonight")], analysis="a night walk by the water")
    first = library.index_file(owner=owner, session_id="s1", filename="walk.wav", results_dir=results)
    assert first["embedded"] > 0
    copy = library.index_file(owner=owner, session_id="s2", filename="walk.wav", results_dir=results,
                              embed_new=False)
    assert copy["track_id"] != first["track_id"] and copy["passages"] == first["passages"]
    assert copy["embedded"] == 0 and copy["unembedded"] == 0
    hits = library.search(owner=owner, query="strolling along a stream in the evening", mode="semantic", limit=5)
    assert {h["track_id"] for h in hits} == {first["track_id"], copy["track_id"]}
    # another owner's vectors are not theirs to take; a text nobody embedded is left for a worker
    stranger = library.index_file(owner=f"x{owner}", session_id="s1", filename="walk.wav", results_dir=results,
                                  embed_new=False)
    assert stranger["passages"] == 0 and stranger["unembedded"] == first["passages"]
    later = library.index_file(owner=f"x{owner}", session_id="s1", filename="walk.wav", results_dir=results)
    assert later["passages"] == first["passages"] and later["embedded"] == first["passages"]


def test_remove_session(library, settings):
    owner = f"r{uuid.uuid4().hex[:6]}"
    results = Path(settings["DATA_DIR"]) / "results-r"
    write_results(results, "gone", tonic="D", mode="major", tempo=100.0, mfcc_shift=1.0, lines=[(0.0, "so long")])
    library.index_file(owner=owner, session_id="doomed", filename="gone.wav", results_dir=results)
    assert library.remove_session(owner=owner, session_id="doomed") == 1
    assert library.list_tracks(owner=owner, where=TrackFilter(), after=None, limit=10) == []
    assert library.search(owner=owner, query="so long", mode="lyrics", limit=5) == []


def test_speech_is_recorded_shown_and_filtered_on(library, settings):
    """The library kept no word of what the music analysis decides (an audiobook listed among the songs, nothing to
    tell them apart); its speech_share is kept, shown as `content` and filtered on, on every backend."""
    owner = f"p{uuid.uuid4().hex[:6]}"
    results = Path(settings["DATA_DIR"]) / "results-speech"
    for stem, share in (("talk", 0.97), ("song", 0.0), ("borderline", 0.5), ("old", None)):
        write_results(results, stem, tonic="D", mode="major", tempo=100.0, mfcc_shift=1.0)
        if share is not None:  # "old": a pitch result from before the analysis measured speech
            pitch = json.loads((results / f"pitch_{stem}.json").read_text())
            (results / f"pitch_{stem}.json").write_text(json.dumps({**pitch, "speech_share": share}))
        library.index_file(owner=owner, session_id="s1", filename=f"{stem}.wav", results_dir=results)

    def listed(content: str | None) -> dict[str, tuple]:
        rows = library.list_tracks(owner=owner, where=TrackFilter(content=content), after=None, limit=10)
        return {t["filename"]: (t["content"], t["speech_share"]) for t in rows}

    assert listed(None) == {"talk.wav": ("speech", 0.97), "song.wav": ("music", 0.0),
                            "borderline.wav": ("speech", 0.5), "old.wav": (None, None)}
    assert set(listed("speech")) == {"talk.wav", "borderline.wav"} and set(listed("music")) == {"song.wav"}


def test_writes_at_once_keep_every_track_whole_and_a_leftover_row_is_healed(library, settings):
    """A stranger's four reindexes at once lost tracks on PostgreSQL (UniqueViolation) and left lines without their
    track, after which that track could never be indexed again: writers now queue, and an index of a track clears
    every row of its id first."""
    import threading

    owner = f"w{uuid.uuid4().hex[:6]}"
    results = Path(settings["DATA_DIR"]) / "results-w"
    for stem, tonic in (("first", "E"), ("second", "B")):
        write_results(results, stem, tonic=tonic, mode="minor", tempo=90.0, mfcc_shift=0.5,
                      lines=[(0.0, f"{stem} line one"), (2.0, f"{stem} line two")])
    errors: list[BaseException] = []

    def churn() -> None:
        try:
            for _ in range(8):
                for stem in ("first", "second"):
                    library.index_file(owner=owner, session_id="busy", filename=f"{stem}.wav", results_dir=results)
                library.remove_session(owner=owner, session_id="busy")
        except BaseException as e:  # noqa: BLE001 - reported below, with the thread's others
            errors.append(e)

    threads = [threading.Thread(target=churn) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert errors == [] and not any(t.is_alive() for t in threads)
    for stem in ("first", "second"):
        library.index_file(owner=owner, session_id="busy", filename=f"{stem}.wav", results_dir=results)
    tracks = library.list_tracks(owner=owner, where=TrackFilter(), after=None, limit=10)
    assert sorted(t["filename"] for t in tracks) == ["first.wav", "second.wav"]
    db = library.store.db
    for t in tracks:
        assert db.query("SELECT count(*) FROM lines WHERE track_id = ?", (t["track_id"],)) == [(2,)]
    # lines whose track row is gone (what the race left): the next index of that track clears them
    gone = tracks[0]["track_id"]
    with db.transaction() as tx:
        tx.execute("DELETE FROM tracks WHERE track_id = ?", (gone,))
    library.index_file(owner=owner, session_id="busy", filename=tracks[0]["filename"], results_dir=results)
    assert db.query("SELECT count(*) FROM lines WHERE track_id = ?", (gone,)) == [(2,)]
    assert len(library.list_tracks(owner=owner, where=TrackFilter(), after=None, limit=10)) == 2


def test_every_spelling_of_a_key_names_its_place_on_the_wheel():
    """A stranger's `key=E# minor` got 400 where `Cb major` was read: the sharps of white keys are keys too."""
    from worker.camelot import parse_key

    known = {"A minor": "8A", "Am": "8A", "8a": "8A", "C major": "8B", "C": "8B", "F minor": "4A", "E# minor": "4A",
             "E#m": "4A", "B# minor": "5A", "C minor": "5A", "Cb major": "1B", "B major": "1B", "Bbm": "3A",
             "F♯ minor": "11A", "Gb major": "2B", "Fb major": "12B", "E major": "12B"}
    assert {text: parse_key(text) for text in known} == known
    assert [parse_key(text) for text in ("H minor", "13A", "E## minor", "")] == [None] * 4


def test_a_postgresql_restart_and_a_database_made_again_are_caught_up_with(tmp_path):
    """A stranger terminated the library's connections (what a PostgreSQL restart does): the first request of every
    API thread answered 500. Then they dropped the database and made it again: every library route answered 500
    ("relation tracks does not exist") until the service was restarted. Both now heal on the next call."""
    from library.db import PG_PING_IDLE_SECONDS

    with scratch_database() as (admin, name, url):
        lib = Library({"DATA_DIR": str(tmp_path), "DATABASE_URL": url, "TORCH_NUM_THREADS": 1})
        try:
            made_again(lib, admin, name, tmp_path, PG_PING_IDLE_SECONDS)
        finally:
            lib.db.close()
            forget_libraries()


def made_again(lib: Library, admin: Any, name: str, tmp_path: Path, idle_seconds: float) -> None:
    """Index a track, kill the connections, then drop and make the database again: each read after heals."""
    owner = f"u{uuid.uuid4().hex[:6]}"
    write_results(tmp_path / "results", "river", tonic="A", mode="minor", tempo=120.0, mfcc_shift=0.0)
    assert lib.index_file(owner=owner, session_id="s1", filename="river.wav", results_dir=tmp_path / "results")
    admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
    # idle past the connection check's threshold, as between two requests (not a wait for anything to happen)
    threading.Event().wait(idle_seconds)
    assert [t["filename"] for t in tracks(lib, owner)] == ["river.wav"]
    admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{name}"')
    threading.Event().wait(idle_seconds)
    assert tracks(lib, owner) == []  # the tables made again, empty, not an error
    assert lib.index_file(owner=owner, session_id="s1", filename="river.wav", results_dir=tmp_path / "results")


def tracks(lib: Library, owner: str) -> list[dict]:
    return lib.list_tracks(owner=owner, where=TrackFilter(), after=None, limit=100)
