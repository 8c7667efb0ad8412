"""One user's uploads do not take every API thread: a real gunicorn of the API's worker class (gthread, 4 threads)
checks at most UPLOADS_PER_USER (2) of one user's uploads at once, within the half of its threads that long requests
may hold; one past that is refused before its body is read, 429 `too_many_uploads` with Retry-After, nothing stored,
and another user is answered meanwhile. The Python client sends a refused upload again after its Retry-After.

A reliability trial (2 API processes x 8 threads behind nginx): one user's 16 uploads at once of a 40 MB, 59-minute
Ogg (each ~6.5 s of decoding alone) held every thread for ~80 s; another user's GET /sessions waited 60 s and more,
and 4 of the 16 uploads got nginx's 504 after 61 s. Each file here is an IMA ADPCM CAF, the dearest audio to decode
(~19 ms a second of it on the development machine), so its check holds a thread for seconds.
"""

from __future__ import annotations

import subprocess
import threading

import requests
from music_analyzer_client import MusicAnalyzer

from tests.conftest import OTHER, OTHER_PASSWORD, PASSWORD, USER
from tests.test_api_thread_share import THREADS, gunicorn_api

SECONDS = 60  # a check of ~2.5 s here, ~10 times a GET's answer (scrypt and all) under the same load; 110 s (~4.6 s
# each, twice a check in the client's part) had added ~6 s to the test and 4 checks' CPU


def slow_to_check(path) -> bytes:
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"sine=f=330:d={SECONDS}:sample_rate=44100",
                    "-c:a", "adpcm_ima_qt", str(path)], check=True)
    return path.read_bytes()


def test_one_users_uploads_hold_at_most_their_share_of_the_api_threads(settings, tmp_path):
    data = slow_to_check(tmp_path / "slow.caf")
    answered: list[tuple[int, requests.Response]] = []
    turn = threading.Condition()

    def upload(i: int) -> None:
        r = requests.post(f"{base}/sessions/shared/files", auth=(USER, PASSWORD),
                          files={"file": (f"s{i}.caf", data)}, timeout=600)
        with turn:
            answered.append((i, r))
            turn.notify_all()

    with gunicorn_api(settings, tmp_path) as base:
        sends = [threading.Thread(target=upload, args=(i,)) for i in range(THREADS)]
        for t in sends:
            t.start()
        try:
            with turn:  # the first answers: those past the share, at once (all 4 had been checked, 201 each)
                assert turn.wait_for(lambda: len(answered) >= THREADS // 2, timeout=300)
                first = list(answered)
            assert [r.status_code for _, r in first] == [429] * (THREADS // 2), [r.text for _, r in first]
            assert all(r.json()["error"]["code"] == "too_many_uploads" and r.headers["Retry-After"] == "5"
                       for _, r in first)
            # another user is answered while the two uploads within the share are still being checked
            r = requests.get(f"{base}/sessions", auth=(OTHER, OTHER_PASSWORD), timeout=60)
            assert r.status_code == 200, r.text
            with turn:
                assert len(answered) == THREADS // 2, "an upload's check ended before the other user's answer"
        finally:
            for t in sends:
                t.join(timeout=600)
        assert sorted(r.status_code for _, r in answered) == [201] * (THREADS // 2) + [429] * (THREADS // 2)
        refused = {f"s{i}.caf" for i, r in answered if r.status_code == 429}
        session = requests.get(f"{base}/sessions/shared", auth=(USER, PASSWORD), timeout=60).json()
        assert not refused & {f["name"] for f in session["files"]}  # nothing of a refused upload was kept

        # the client sends a refused upload again after Retry-After: four at once are all stored
        ma = MusicAnalyzer(base, USER, PASSWORD)
        names: list[str] = []
        clients = [threading.Thread(target=lambda i=i: names.append(
            ma.upload("shared-client", tmp_path / "slow.caf", name=f"c{i}.caf")["name"])) for i in range(THREADS)]
        for t in clients:
            t.start()
        for t in clients:
            t.join(timeout=600)
        assert sorted(names) == [f"c{i}.caf" for i in range(THREADS)]
