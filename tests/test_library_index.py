"""The library over both databases (SQLite; PostgreSQL at 127.0.0.1:5432 in a database of this test run's own,
dropped after, whose vectors are searched in numpy; and a private PostgreSQL with pgvector, tests/pgvector_server.py,
whose vectors the database searches): migrations, indexing from session result files, lyric/semantic/hybrid search,
filters, similar tracks, removal. Real parts: the database, the MiniLM embedder; the result files are written as
the pipelines write them."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from library.camelot import compatible
from library.service import Library
from library.store import TrackFilter

TOPICS, DIM, BIG_LIBRARY = 6, 384, 240  # the pgvector agreement test's synthetic library
MANY_PASSAGES_TRACKS, PASSAGES_EACH = 16, 30  # and the one whose best passages belong to a few tracks
PG_ADMIN_URL = os.environ.get("LIBRARY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="module")
def pgvector_url() -> Iterator[str]:
    pytest.importorskip("pgserver")
    from tests.pgvector_server import pgvector_server

    with pgvector_server() as url:
        yield url


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "pgvector"])
def settings(request, tmp_path_factory):
    data = tmp_path_factory.mktemp("library-data")
    if request.param == "sqlite":
        yield {"DATA_DIR": str(data), "DATABASE_URL": "", "TORCH_NUM_THREADS": 1}
        return
    if request.param == "pgvector":
        yield {"DATA_DIR": str(data), "DATABASE_URL": request.getfixturevalue("pgvector_url"), "TORCH_NUM_THREADS": 1}
        _forget_libraries()
        return
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as e:
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {e}")
    name = f"library_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {"DATA_DIR": str(data), "DATABASE_URL": PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name,
               "TORCH_NUM_THREADS": 1}
    finally:
        _forget_libraries()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _forget_libraries() -> None:
    """Close this process' connections to a database about to be dropped or stopped."""
    from library import service

    for lib in list(service._libraries.values()):
        lib.db.close()
    service._libraries.clear()


@pytest.fixture(scope="module")
def library(settings):
    lib = Library(settings)
    assert lib.db.migrate() == []  # the constructor migrated; a second run applies nothing
    yield lib
    lib.db.close()


def write_results(folder: Path, stem: str, *, tonic: str, mode: str, tempo: float, mfcc_shift: float,
                  lines: list[tuple[float, str]] | None = None, analysis: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(abs(hash(stem)) % 2**32)
    chroma = rng.dirichlet(np.ones(12)).tolist()
    features = {"filename": f"{stem}.wav", "duration_seconds": 30.0, "audio_features": {
        "rms_dbfs": -14.0 + mfcc_shift, "crest_factor_db": 12.0, "loudness_lufs": -12.0 - mfcc_shift,
        "spectral_centroid_hz": 1500.0 + 300 * mfcc_shift, "spectral_bandwidth_hz": 1800.0,
        "spectral_rolloff_hz": 3000.0 + 200 * mfcc_shift, "zero_crossing_rate": 0.05, "silence_fraction": 0.0,
        "mfcc": {"mean": (np.arange(13) * 0.5 + mfcc_shift).tolist(), "std": [1.0 + mfcc_shift] * 13},
        "chroma_distribution": chroma}}
    (folder / f"features_{stem}.json").write_text(json.dumps(features))
    pitch = {"key": {"tonic": tonic, "mode": mode, "label": f"{tonic} {mode}", "confidence": 0.8},
             "tempo_bpm": tempo, "time_signature": "4/4", "beats_per_bar": 4,
             "chords": [{"start": 0, "end": 10, "label": f"{tonic}:{'maj' if mode == 'major' else 'min'}"}]}
    (folder / f"pitch_{stem}.json").write_text(json.dumps(pitch))
    if lines is not None:
        segments = [{"id": i, "start": t, "end": t + 3, "text": text,
                     "words": [{"word": w, "start": t, "end": t + 0.4} for w in text.split()]}
                    for i, (t, text) in enumerate(lines)]
        (folder / f"transcript_{stem}.json").write_text(json.dumps(
            {"language": "en", "segments": segments, "text": " ".join(s["text"] for s in segments)}))
    if analysis is not None:
        (folder / f"lyrics_{stem}.json").write_text(json.dumps({"analysis": {"themes": analysis}}))


def index_river_and_party(library, results) -> tuple[str, dict[str, str]]:
    """A new owner's two tracks (a night walk in A minor, a club song in C major), indexed; (owner, ids)."""
    owner = f"u{uuid.uuid4().hex[:6]}"
    write_results(results, "river", tonic="A", mode="minor", tempo=120.0, mfcc_shift=0.0,
                  lines=[(2.0, "Walking down the river road tonight")], analysis="a night walk by the water")
    write_results(results, "party", tonic="C", mode="major", tempo=100.0, mfcc_shift=3.0,
                  lines=[(1.0, "Dance all night under neon lights")], analysis="dancing in a club")
    return owner, {stem: library.index_file(owner=owner, session_id="s1", filename=f"{stem}.wav",
                                            results_dir=results)["track_id"] for stem in ("river", "party")}


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


def test_similar_and_mix(library, indexed):
    owner, _, ids = indexed
    result = library.similar(owner=owner, track_id=ids["river"], limit=3, mix=False)
    assert [s["track"]["track_id"] for s in result["similar"]][0] == ids["river-copy"]
    mix = library.similar(owner=owner, track_id=ids["river"], limit=5, mix=True)
    assert {s["track"]["track_id"]: s["tempo_match"] for s in mix["similar"]} == {
        ids["river-copy"]: "exact", ids["party"]: "double"}


def test_remove_session(library, settings):
    owner = f"r{uuid.uuid4().hex[:6]}"
    results = Path(settings["DATA_DIR"]) / "results-r"
    write_results(results, "gone", tonic="D", mode="major", tempo=100.0, mfcc_shift=1.0, lines=[(0.0, "so long")])
    library.index_file(owner=owner, session_id="doomed", filename="gone.wav", results_dir=results)
    assert library.remove_session(owner=owner, session_id="doomed") == 1
    assert library.list_tracks(owner=owner, where=TrackFilter(), after=None, limit=10) == []
    assert library.search(owner=owner, query="so long", mode="lyrics", limit=5) == []


def test_a_registered_llms_own_embeddings_serve_semantic_search(tmp_path, smollm2_folder):
    """LIBRARY_EMBEDDING_MODEL=model:<model_type>: SmolLM2's own hidden states, pooled, as the vectors."""
    from config import load_settings
    from library.embedding import embedder, model_name

    settings = load_settings({"DATA_DIR": str(tmp_path), "DATABASE_URL": "", "TORCH_NUM_THREADS": "1",
                              "SMOLLM2_MODEL_PATH": str(smollm2_folder),
                              "LIBRARY_EMBEDDING_MODEL": "model:smollm2-135m"}, dotenv=False)
    embed = embedder(settings)
    vectors = embed(["Walking down the river road tonight", "Dance all night under neon lights"])
    assert vectors.shape == (2, 576) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert model_name(settings) == "model:smollm2-135m"  # stored with each vector: never mixed with MiniLM's
    library = Library(settings)
    owner, ids = index_river_and_party(library, tmp_path / "results")
    for query, stem in (("Walking down the river road tonight", "river"), ("Dance all night under neon lights",
                                                                            "party")):
        assert library.search(owner=owner, query=query, mode="semantic", limit=2)[0]["track_id"] == ids[stem]


def test_an_unusable_embedding_model_is_named_in_the_error(tmp_path):
    from library.embedding import EmbeddingUnavailableError, model_dir

    with pytest.raises(EmbeddingUnavailableError, match="unknown model_type 'gpt-17'"):
        model_dir({"LIBRARY_EMBEDDING_MODEL": "model:gpt-17", "MODELS_DIR": str(tmp_path)})
    with pytest.raises(EmbeddingUnavailableError, match="gemma-3n-E2B"):
        model_dir({"LIBRARY_EMBEDDING_MODEL": "model:gemma-3n-E2B", "MODELS_DIR": str(tmp_path), "MODEL_PATHS": {}})


def test_pgvector_searches_in_the_database_and_agrees_with_exact_search(pgvector_url):
    """With pgvector the database answers (HNSW index over the model's passages, exact weighted distances for
    similar tracks) and agrees with numpy's exact search over the same rows: top hit always, top 10 nearly."""
    import flask
    import psycopg

    from api.health import library_status
    from bench.library import synthetic
    from library import pgvector
    from library.search import semantic_hits

    name = f"library_pgvector_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pgvector_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = pgvector_url.replace("/postgres?", f"/{name}?")
    data = Path(tempfile.mkdtemp(prefix="library-pgvector-data-"))
    fast = Library({"DATA_DIR": str(data), "DATABASE_URL": url})
    exact = Library({"DATA_DIR": str(data), "DATABASE_URL": url, "LIBRARY_VECTOR_SEARCH": "exact"})
    try:
        with flask.Flask(__name__).app_context() as context:  # what the authenticated GET /health shows
            context.app.config.update({"DATA_DIR": str(data), "DATABASE_URL": url})
            health = library_status()
        assert health["ok"] and health["vectors"] == "pgvector (hnsw)" and health["pgvector"]
        assert exact.describe()["vectors"] == "exact (numpy)" and exact.describe()["pgvector_available"]
        rng = np.random.default_rng(7)
        topics = rng.normal(size=(TOPICS, DIM))
        owner, small = f"u{uuid.uuid4().hex[:6]}", f"s{uuid.uuid4().hex[:6]}"
        for i in range(BIG_LIBRARY):
            who = small if i % 15 == 0 else owner  # a small library among a big one's rows

            def embed(texts: list[str], topic: int = i % TOPICS) -> np.ndarray:
                v = topics[topic] + 0.9 * rng.normal(size=(len(texts), DIM))
                return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)

            fast.store.upsert(synthetic(i, rng, who), embed=embed, model=fast.model)
        late = synthetic(BIG_LIBRARY, rng, owner)  # written by a process set to exact search: columns filled too
        exact.store.upsert(late, embed=embed, model=exact.model)
        assert exact.db.query("SELECT count(*) FROM passages WHERE track_id = ? AND embedding IS NOT NULL",
                              (late.track_id,)) == [(len(late.passages),)]
        index = pgvector.index_name(model=fast.model, dim=DIM)
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", (index,)).fetchall()
            conn.execute("ANALYZE passages")
            with conn.transaction():
                # a library this small is cheaper to scan by its owner's rows than by the index: the planner's
                # choice; here only that the index can serve the query (its expression and predicate match)
                conn.execute("SET LOCAL enable_seqscan = off")
                conn.execute("SET LOCAL enable_bitmapscan = off")
                q = pgvector.as_vector(topics[0] / np.linalg.norm(topics[0]))
                plan = conn.execute("EXPLAIN " + fast.db.sql(pgvector.nearest_passages_sql(model=fast.model, dim=DIM)),
                                    (q, owner, q, 10)).fetchall()
            assert index in " ".join(row[0] for row in plan)
        for who, k in ((owner, 10), (small, 10)):
            for topic in range(TOPICS):
                v = topics[topic] + 0.5 * rng.normal(size=DIM)
                v = (v / np.linalg.norm(v)).astype(np.float32)
                got = semantic_hits(fast.cache, owner=who, query_vector=v, limit=k)
                want = semantic_hits(exact.cache, owner=who, query_vector=v, limit=k)
                if not want:  # the small library has tracks of two topics only
                    assert got == []
                    continue
                assert got and got[0]["track_id"] == want[0]["track_id"], (who, topic, got, want)
                assert got[0]["score"] == pytest.approx(want[0]["score"], abs=1e-3)
                overlap = len({h["track_id"] for h in got} & {h["track_id"] for h in want})
                assert overlap >= 0.8 * len(want), (who, topic, got, want)
                if who == small:  # answered by the exact scan of the owner's passages: the same ranking
                    assert [h["track_id"] for h in got] == [h["track_id"] for h in want]
        ids = [t for t, _, _ in fast.store.session_tracks(owner=owner)]
        for seed in ids[:5]:
            for mix in (False, True):
                got = fast.similar(owner=owner, track_id=seed, limit=5, mix=mix)["similar"]
                want = exact.similar(owner=owner, track_id=seed, limit=5, mix=mix)["similar"]
                assert [s["track"]["track_id"] for s in got] == [s["track"]["track_id"] for s in want]
                assert [s["distance"] for s in got] == pytest.approx([s["distance"] for s in want], abs=2e-3)
    finally:
        fast.db.close()
        exact.db.close()
        _forget_libraries()
        with psycopg.connect(pgvector_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(data, ignore_errors=True)


def test_a_library_indexed_before_pgvector_gets_its_vector_columns_and_index(pgvector_url, tmp_path):
    """The extension arriving on a filled library: the next start fills the vector columns from the stored
    bytes and indexes them, and the database's answers are the exact ones."""
    import psycopg

    from library import pgvector

    name = f"library_backfill_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pgvector_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = pgvector_url.replace("/postgres?", f"/{name}?")
    before = Library({"DATA_DIR": str(tmp_path), "DATABASE_URL": url, "LIBRARY_VECTOR_SEARCH": "exact"})
    after = None
    try:
        owner, ids = index_river_and_party(before, tmp_path / "results")
        assert not before.db.query("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
        after = Library({"DATA_DIR": str(tmp_path), "DATABASE_URL": url})
        assert after.db.uses_pgvector
        assert after.db.query("SELECT count(*) FROM passages WHERE embedding IS NULL") == [(0,)]
        assert after.db.query("SELECT count(*) FROM tracks WHERE descriptor_values IS NULL") == [(0,)]
        assert after.db.query("SELECT 1 FROM pg_indexes WHERE indexname = ?",
                              (pgvector.index_name(model=after.model, dim=384),))
        query = "strolling along a stream in the evening"
        assert ([h["track_id"] for h in after.search(owner=owner, query=query, mode="semantic", limit=2)]
                == [h["track_id"] for h in before.search(owner=owner, query=query, mode="semantic", limit=2)])
        assert after.similar(owner=owner, track_id=ids["river"], limit=1, mix=False)["similar"][0]["track"][
            "track_id"] == ids["party"]
    finally:
        before.db.close()
        if after is not None:
            after.db.close()
        with psycopg.connect(pgvector_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_pgvector_looks_further_when_few_tracks_hold_the_best_passages(pgvector_url, tmp_path, monkeypatch):
    """Tracks of many passages: the first rows the index gives are all good matches of a few tracks, so it is
    asked for more (not the exact scan), and the page is the exact search's."""
    import psycopg

    from bench.library import synthetic
    from library import pgvector
    from library.extract import Passage
    from library.search import semantic_hits

    name = f"library_further_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pgvector_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = pgvector_url.replace("/postgres?", f"/{name}?")
    fast = Library({"DATA_DIR": str(tmp_path), "DATABASE_URL": url})
    exact = Library({"DATA_DIR": str(tmp_path), "DATABASE_URL": url, "LIBRARY_VECTOR_SEARCH": "exact"})
    try:
        rng = np.random.default_rng(3)
        query = rng.normal(size=DIM)
        query /= np.linalg.norm(query)
        owner = f"u{uuid.uuid4().hex[:6]}"
        for t in range(MANY_PASSAGES_TRACKS):  # track t's passages sit ever further from the query
            noise = rng.normal(size=DIM)
            centre = query + (0.3 + 0.05 * t) * noise / np.linalg.norm(noise)
            doc = synthetic(t, rng, owner)
            doc.passages = [Passage("transcript", "t.json", f"track {t} passage {k}") for k in range(PASSAGES_EACH)]

            def embed(texts: list[str], centre: np.ndarray = centre) -> np.ndarray:
                v = centre + 0.01 * rng.normal(size=(len(texts), DIM)) / np.sqrt(DIM)
                return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)

            fast.store.upsert(doc, embed=embed, model=fast.model)
        exact_scans: list[str] = []
        run_query = fast.db.query

        def counting_query(text: str, params: tuple = ()) -> list[tuple]:
            if "DISTINCT ON" in text:  # pgvector.semantic_hits' exact scan of the owner's passages
                exact_scans.append(text)
            return run_query(text, params)

        monkeypatch.setattr(fast.db, "query", counting_query)
        limit = 10  # the first 80 rows are the passages of the 3 nearest tracks
        got = semantic_hits(fast.cache, owner=owner, query_vector=query.astype(np.float32), limit=limit)
        want = semantic_hits(exact.cache, owner=owner, query_vector=query.astype(np.float32), limit=limit)
        assert [h["track_id"] for h in got] == [h["track_id"] for h in want] and len(got) == limit
        assert exact_scans == []  # the index answered, asked for 4 × 80 rows
        assert limit * 8 // PASSAGES_EACH < limit <= limit * 8 * pgvector.HEAD_GROWTH // PASSAGES_EACH
    finally:
        fast.db.close()
        exact.db.close()
        with psycopg.connect(pgvector_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
