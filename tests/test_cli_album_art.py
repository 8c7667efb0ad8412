"""`analyze *` in an album's folder takes its cover.jpg: the image is album art, uploaded and kept in the session,
and no analysis is started on it. Each job on it had been refused 415 "is an image; this job analyses audio
(images go in `image`)", an option the command line has not got, and the run exited 1 for the cover of an album
whose every track had succeeded."""

from __future__ import annotations

import json

from PIL import Image

from tests.test_cli import cli_env, ma, song


def test_an_image_among_the_files_is_kept_as_album_art_without_jobs(server, celery_worker, client, tmp_path):
    env = cli_env(server, tmp_path)
    song(tmp_path / "t.wav", bars=1)
    Image.new("RGB", (64, 64), (200, 30, 30)).save(tmp_path / "cover.png")
    done = ma(env, "--json", "analyze", "t.wav", "cover.png", "--features", "--wait", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    files = {f["file"]: f for f in answer["files"]}
    assert files["cover.png"]["error"] is None and files["cover.png"]["jobs"] == [], files["cover.png"]
    assert files["cover.png"]["upload"]["kind"] == "image"
    assert [j["state"] for j in files["t.wav"]["jobs"]] == ["succeeded"], files["t.wav"]
    session = client.get(f"/sessions/{answer['session_id']}").json()
    assert {f["name"] for f in session["files"]} == {"t.wav", "cover.png"}
