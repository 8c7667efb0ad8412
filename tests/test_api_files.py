"""DELETE /sessions/<id>/files/<name> over real HTTP: one upload or result, never one a queued job reads (a
stranger on a full disk could delete only whole sessions)."""

from __future__ import annotations

import uuid

from tests.audio_synth import sine, write
from tests.conftest import USER, queued_record
from tests.test_api_sessions import upload


def test_delete_one_upload_or_result(app, client, other_client, session_id, audio_dir, settings):
    pitch = 300 + uuid.uuid4().int % 500  # audio no other test sends: a cached result would not run the job
    assert upload(client, session_id, write(audio_dir / "a.wav", sine(pitch, 1.0)),
                  write(audio_dir / "b.wav", sine(pitch + 5, 1.0))).status_code == 201
    done = client.post(f"/process/features/{session_id}", json={"file": "a.wav"}, headers={"Prefer": "wait=60"})
    assert done.json()["state"] == "succeeded", done.text
    results = done.json()["files"]
    reader = queued_record(app, owner=USER, job_type="features", session_id=session_id, queue=settings["CPU_QUEUE"],
                           task="music_analyzer.features", params={"files": ["b.wav"], "batch": False, "options": {}})

    busy = client.delete(f"/sessions/{session_id}/files/b.wav")
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "file_in_use", busy.text
    assert busy.json()["error"]["details"]["jobs"] == [reader["job_id"]]
    assert other_client.delete(f"/sessions/{session_id}/files/a.wav").status_code == 404  # not theirs to see
    for bad, status in (("nosuch.wav", 404), ("..%2Fsecrets", 404), (".a.wav.json", 404)):
        assert client.delete(f"/sessions/{session_id}/files/{bad}").status_code == status, bad
    assert client.delete(f"/sessions/{session_id}/files/a.wav", params={"area": "elsewhere"}).status_code == 400

    def tracks() -> list[str]:
        listed = client.get("/library/tracks", params={"session_id": session_id}).json()["tracks"]
        return [t["filename"] for t in listed]

    assert tracks() == ["a.wav"]  # indexed once its features job succeeded
    gone = client.delete(f"/sessions/{session_id}/files/a.wav")
    assert gone.status_code == 200 and gone.json() == {"session_id": session_id, "name": "a.wav", "area": "uploads",
                                                       "deleted": True}
    session = client.get(f"/sessions/{session_id}").json()
    assert [f["name"] for f in session["files"]] == ["b.wav"]
    assert sorted(f["name"] for f in session["results"]) == sorted(results)  # made from it: they stay
    assert client.get(f"/sessions/{session_id}/files/a.wav").status_code == 404
    assert tracks() == []  # and out of the library
    again = upload(client, session_id, write(audio_dir / "a.wav", sine(pitch, 1.0))).json()["files"][0]
    assert again["name"] == "a-1.wav"  # not a second owner of features_a.*

    json_result = next(name for name in results if name.endswith(".json"))
    dropped = client.delete(f"/sessions/{session_id}/files/{json_result}", params={"area": "results"})
    assert dropped.status_code == 200 and dropped.json()["area"] == "results"
    assert client.get(f"/sessions/{session_id}/files/{json_result}").status_code == 404

    # a result that is a library source: the track is read again without it (it kept its values until a reindex)
    done = client.post(f"/process/features/{session_id}", json={"file": "b.wav"}, headers={"Prefer": "wait=60"})
    assert done.status_code == 200 and tracks() == ["b.wav"], done.text
    [track] = client.get("/library/tracks", params={"session_id": session_id}).json()["tracks"]
    assert track["loudness_lufs"] is not None
    client.delete(f"/sessions/{session_id}/files/features_b.json")
    assert tracks() == []  # its one source gone: nothing left to list it by
    app.extensions["music_analyzer"].jobs.request_cancel(reader["job_id"])
    assert client.delete(f"/sessions/{session_id}/files/b.wav").status_code == 200


def test_long_upload_names_that_differ_late_keep_their_results_apart(client, session_id, audio_dir):
    """A stranger's two uploads whose 115-character names differed only in their last characters: each one's
    stems were named `harmonic_<the first 100 characters>.wav`, so the second's separation replaced the first's.
    A result's name holds its upload's whole stem (at most 180 characters), and downloads by it."""
    common = "L" * 108
    names = [f"{common}_one.wav", f"{common}_two.wav"]
    pitch = 300 + uuid.uuid4().int % 500  # audio no other test sends: a cached result would not run the job
    files = [write(audio_dir / n, sine(pitch + 7 * i, 1.0)) for i, n in enumerate(names)]
    r = upload(client, session_id, *files)
    assert r.status_code == 201 and [f["name"] for f in r.json()["files"]] == names, r.text
    made = []
    for name in names:
        done = client.post(f"/process/demucs/{session_id}", json={"file": name, "model": "hpss"},
                           headers={"Prefer": "wait=60"})
        assert done.json()["state"] == "succeeded", done.text
        made.append(done.json()["result"]["files"])
    assert not set(made[0]) & set(made[1]), made  # no file of the first run was written again by the second
    assert all(any(n.startswith(f"harmonic_{common}_{which}") for n in run) for which, run in zip(("one", "two"), made,
                                                                                             strict=True))
    listed = {f["name"] for f in client.get(f"/sessions/{session_id}").json()["results"]}
    assert set(made[0]) | set(made[1]) <= listed
    got = client.get(f"/sessions/{session_id}/files/{made[0][0]}", params={"area": "results"})
    assert got.status_code == 200 and got.content[:4] == b"RIFF", got.text[:200]


def test_an_upload_never_hides_a_result_of_its_name(client, session_id, audio_dir):
    """A stranger's album art named `features_x.png` was served by GET (and removed by DELETE) .../files/features_x.png
    without `?area=`, in place of the result of that name: uploads are looked up first. Such an upload is now 409
    `name_is_a_result`; a result made after an upload of its name is still behind it (the contract: the upload
    first), and `X-File-Area` says which area a download came from."""
    from tests.test_album_art import cover

    pitch = 300 + uuid.uuid4().int % 500  # audio no other test sends: a cached result would not run the job
    assert upload(client, session_id, write(audio_dir / "x.wav", sine(pitch, 1.0))).status_code == 201
    done = client.post(f"/process/features/{session_id}", json={"file": "x.wav"}, headers={"Prefer": "wait=60"})
    assert done.json()["state"] == "succeeded" and "features_x.png" in done.json()["files"], done.text
    result = client.get(f"/sessions/{session_id}/files/features_x.png", params={"area": "results"})
    assert result.status_code == 200 and result.headers["X-File-Area"] == "results"

    art = cover(audio_dir / "features_x.png")
    refused = upload(client, session_id, write(audio_dir / "y.wav", sine(pitch + 9, 1.0)), art)
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "name_is_a_result" and error["details"] == {"name": "features_x.png"}
    assert str(audio_dir) not in error["message"] and "/" not in error["message"]  # no internal path
    assert [f["name"] for f in client.get(f"/sessions/{session_id}").json()["files"]] == ["x.wav"]  # none kept
    served = client.get(f"/sessions/{session_id}/files/features_x.png")
    assert served.content == result.content and served.headers["X-File-Area"] == "results"

    # the other order: the art first, then the result of its name; ?area= picks, the header tells
    assert upload(client, session_id, cover(audio_dir / "features_z.png")).status_code == 201
    assert upload(client, session_id, write(audio_dir / "z.wav", sine(pitch + 17, 1.0))).status_code == 201
    done = client.post(f"/process/features/{session_id}", json={"file": "z.wav"}, headers={"Prefer": "wait=60"})
    assert done.json()["state"] == "succeeded", done.text
    plain = client.get(f"/sessions/{session_id}/files/features_z.png")
    assert plain.headers["X-File-Area"] == "uploads" and plain.content == (audio_dir / "features_z.png").read_bytes()
    made = client.get(f"/sessions/{session_id}/files/features_z.png", params={"area": "results"})
    assert made.headers["X-File-Area"] == "results" and made.content != plain.content


def test_album_art_a_queued_analysis_reads_is_not_deleted(app, client, session_id, audio_dir, settings):
    """An LLM analysis given album art (`image`) reads it when it runs: the image deleted under its queued job had
    been missing then (the job failed `file_not_found`). It is refused as an audio upload a job reads is."""
    from tests.test_album_art import cover

    assert upload(client, session_id, write(audio_dir / "sung.wav", sine(440, 0.5)),
                  cover(audio_dir / "sleeve.png")).status_code == 201
    reader = queued_record(app, owner=USER, job_type="lyrics", session_id=session_id, queue=settings["GPU_QUEUE"],
                           task="music_analyzer.lyrics",
                           params={"files": ["sung.wav"], "batch": False, "options": {"image": "sleeve.png"}})
    busy = client.delete(f"/sessions/{session_id}/files/sleeve.png", params={"area": "uploads"})
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "file_in_use", busy.text
    assert busy.json()["error"]["message"] == "'sleeve.png' is read by 1 queued or running job(s); cancel them first"
    assert busy.json()["error"]["details"]["jobs"] == [reader["job_id"]]
    app.extensions["music_analyzer"].jobs.request_cancel(reader["job_id"])
    gone = client.delete(f"/sessions/{session_id}/files/sleeve.png", params={"area": "uploads"})
    assert gone.status_code == 200 and gone.json()["area"] == "uploads", gone.text
    assert [f["name"] for f in client.get(f"/sessions/{session_id}").json()["files"]] == ["sung.wav"]
