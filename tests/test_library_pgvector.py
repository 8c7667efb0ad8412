"""pgvector on a private PostgreSQL (tests/pgvector_server.py): the database searches the vectors and agrees
with numpy's exact search; a library filled before the extension gets its columns and index; a short page asks
the index for more rows. The other library tests run over this backend too (tests/test_library_index.py)."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

import numpy as np
import pytest

from library.service import Library
from tests.library_results import forget_libraries, index_river_and_party

# in the test process that runs test_library_index's PostgreSQL tests (scripts/test.sh's --dist loadgroup): the
# pgvector_url server, one per test process, is then started once for both modules
pytestmark = pytest.mark.xdist_group("test_library_index")

TOPICS, DIM, BIG_LIBRARY = 6, 384, 240  # the agreement test's synthetic library
MANY_PASSAGES_TRACKS, PASSAGES_EACH = 16, 30  # and the one whose best passages belong to a few tracks


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
        # several query vectors (/library/ask's question clauses, library/clauses.py): a track at its best cosine
        # to any of them, as numpy's exact search scores it
        every = (topics / np.linalg.norm(topics, axis=1, keepdims=True)).astype(np.float32)
        for who in (owner, small):
            got = semantic_hits(fast.cache, owner=who, query_vector=every, limit=10)
            want = semantic_hits(exact.cache, owner=who, query_vector=every, limit=10)
            assert want and got[0]["track_id"] == want[0]["track_id"], (who, got, want)
            if who == small:  # exact scans: the same ranking
                assert [h["score"] for h in got] == pytest.approx([h["score"] for h in want], abs=1e-3)
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
        forget_libraries()
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
