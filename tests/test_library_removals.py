"""A session or an upload deleted while the library database is down leaves the library when the database
answers again, with no reindex: a deleted session's tracks had stayed listed, searched and cited until someone
ran POST /library/reindex; and a library route asked while the database was down answered 500. A real API over
HTTP, a real PostgreSQL database of the test's own made unreachable and reachable again (ALLOW_CONNECTIONS, its
connections terminated), real Redis."""

from __future__ import annotations

import threading

import requests

from tests.audio_synth import sine, write
from tests.library_results import forget_libraries, write_results
from tests.test_library_index import scratch_database


def test_tracks_deleted_while_the_database_was_down_are_gone_when_it_answers(settings, redis_url, tmp_path):
    from app import create_app
    from jobs.services import services
    from library.db import PG_PING_IDLE_SECONDS
    from library.service import library_for
    from tests.conftest import PASSWORD, USER, serving

    with scratch_database() as (admin, name, url):
        app = create_app({**settings, "REDIS_URL": redis_url, "DATA_DIR": str(tmp_path / "data"),
                          "DATABASE_URL": url})
        try:
            with serving(app) as base:
                http = requests.Session()
                http.auth = (USER, PASSWORD)
                sessions = [http.post(base + "/sessions").json()["session_id"] for _ in range(2)]
                for n, session_id in enumerate(sessions):
                    with open(write(tmp_path / f"song{n}.wav", sine(440, 1.0)), "rb") as fh:
                        assert http.post(f"{base}/sessions/{session_id}/files", files={"file": fh}).ok
                    with app.app_context():  # what a finished analysis job indexes
                        results = services().sessions.of(USER).results_dir(session_id)
                        write_results(results, f"song{n}", tonic="A", mode="minor", tempo=120.0, mfcc_shift=n)
                        library_for(app.config).index_file(owner=USER, session_id=session_id,
                                                           filename=f"song{n}.wav", results_dir=results)
                assert len(http.get(base + "/library/tracks").json()["tracks"]) == 2

                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')  # the database goes away
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
                threading.Event().wait(PG_PING_IDLE_SECONDS)  # idle, as between requests: connections are checked
                down = http.get(base + "/library/tracks")  # it had answered 500 internal_error
                assert down.status_code == 503 and down.json()["error"]["code"] == "library_unavailable", down.text
                assert http.delete(f"{base}/sessions/{sessions[0]}").status_code == 200  # deleted all the same
                r = http.delete(f"{base}/sessions/{sessions[1]}/files/song1.wav")
                assert r.status_code == 200, r.text
                assert http.get(base + "/library/tracks").status_code == 503

                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')  # and comes back
                threading.Event().wait(PG_PING_IDLE_SECONDS)
                listed = http.get(base + "/library/tracks")
                assert listed.status_code == 200 and listed.json()["tracks"] == [], listed.text
                found = http.get(base + "/library/search", params={"q": "song", "mode": "lyrics"})
                assert found.status_code == 200 and found.json()["results"] == [], found.text
        finally:
            forget_libraries()
