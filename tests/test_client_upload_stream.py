"""The client streams an upload from the file: memory one chunk, not the whole body (requests' `files=` had built
it in memory: 734 MB resident for a stranger's 357 MB WAV)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.conftest import PASSWORD, USER

CLIENT = str(Path(__file__).resolve().parents[1] / "client")
# one upload through the Python client with tracemalloc on: its answer and the peak of Python's allocations
UPLOAD = """
import json, sys, tracemalloc
from music_analyzer_client import MusicAnalyzer
url, user, password, session, path, name = sys.argv[1:]
ma = MusicAnalyzer(url, user, password)
tracemalloc.start()
answer = ma.upload(session, path, name=name)
print(json.dumps({"answer": answer, "peak": tracemalloc.get_traced_memory()[1]}))
"""


def _upload(server: str, session: str, path: Path, name: str) -> dict:
    done = subprocess.run([sys.executable, "-c", UPLOAD, server, USER, PASSWORD, session, str(path), name],
                          capture_output=True, text=True, timeout=120, env={"PYTHONPATH": CLIENT, "PATH": "/usr/bin"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_an_upload_is_streamed_from_the_file_and_arrives_whole(server, tmp_path):
    """A 7 MB WAV (under the test server's 8 MiB body limit): the client's allocations peak under 3 MB while
    uploading it (they had held the whole multipart body, over 7 MB), and the server stores the same bytes under the
    name it gave the file before: the body is the one requests wrote, a quoted, accented name included."""
    rng = np.random.default_rng(7)
    path = tmp_path / "noise.wav"
    sf.write(path, (0.1 * rng.standard_normal((40 * 44100, 2))).astype(np.float32), 44100, subtype="PCM_16")
    size = path.stat().st_size
    assert 7_000_000 < size < 8 * 1024 * 1024 - 4096
    session = f"stream-{uuid.uuid4().hex[:8]}"
    got = _upload(server, session, path, 'Café "live".wav')
    answer = got["answer"]
    assert answer["bytes"] == size and answer["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), answer
    assert answer["name"] == "Cafe_live_.wav" and answer["duration_seconds"] == 40.0, answer
    assert got["peak"] < 3_000_000, got["peak"]
