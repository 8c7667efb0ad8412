"""Results cached by the audio's content and the options: the same file again, in another session of the same
owner, is answered at once from the earlier result, marked cached; another owner or other options run."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from tests.audio_synth import sine, write
from tests.test_api_sessions import upload


def test_the_same_audio_with_the_same_options_is_answered_from_cache(client, other_client, audio_dir):
    wav = write(audio_dir / "cached.wav", sine(440, 2.0))
    first_session = client.post("/sessions").json()["session_id"]
    upload(client, first_session, wav)
    first = client.post(f"/process/features/{first_session}", json={"file": "cached.wav"},
                        headers={"Prefer": "wait=60"}).json()
    assert first["state"] == "succeeded" and not first["result"].get("cached")

    second_session = client.post("/sessions").json()["session_id"]
    copy = write(audio_dir / "take2.wav", sine(440, 2.0))  # the same bytes under another name
    upload(client, second_session, copy)
    started = time.perf_counter()
    r = client.post(f"/process/features/{second_session}", json={"file": "take2.wav"})
    elapsed = time.perf_counter() - started
    assert r.status_code == 202 and r.json()["state"] == "succeeded", r.text  # finished before it was answered
    job = client.get(f"/jobs/{r.json()['job_id']}").json()
    result = job["result"]
    assert result["cached"] is True and result["filename"] == "take2.wav" and elapsed < 1.0
    assert result["audio_features"] == first["result"]["audio_features"]
    assert sorted(job["files"]) == ["features_take2.json", "features_take2.png", "features_take2.txt"]
    written = client.get(f"/sessions/{second_session}/files/features_take2.json").json()
    assert written["filename"] == "take2.wav" and written["cached"] is True
    assert client.get(f"/sessions/{second_session}/files/features_take2.png").content[:4] == b"\x89PNG"
    report = client.get(f"/sessions/{second_session}/files/features_take2.txt").text
    assert "take2.wav" in report and "cached.wav" not in report  # a stranger's copy named the first upload

    other_options = client.post(f"/process/features/{second_session}", json={"file": "take2.wav",
                                                                             "picture": False}).json()
    assert other_options["state"] == "queued"  # another options digest: it runs
    assert client.wait_job(other_options["job_id"])["result"].get("cached") is None

    theirs = other_client.post("/sessions").json()["session_id"]
    upload(other_client, theirs, wav)
    r = other_client.post(f"/process/features/{theirs}", json={"file": "cached.wav"})
    assert r.json()["state"] == "queued"  # another owner's cache is never used
    other_client.wait_job(r.json()["job_id"])


def test_a_result_overwritten_by_a_run_with_other_options_is_never_served_from_cache(client, audio_dir):
    """The same upload analysed again with other options writes the same file names (a run with `include` merges
    into them): the first run's cache entry no longer describes those files, so a new session's request runs
    instead of copying a changed set. A cached copy of a result's JSON is that file's own content."""
    wav = write(audio_dir / "rerun.wav", sine(523.25, 3.0))
    session = client.post("/sessions").json()["session_id"]
    upload(client, session, wav)
    full = client.post(f"/process/pitch/{session}", json={"file": "rerun.wav"}, headers={"Prefer": "wait=60"}).json()
    assert full["state"] == "succeeded" and "tempo_bpm" in full["result"], full
    full_json = client.get(f"/sessions/{session}/files/pitch_rerun.json").json()
    # the MIDI file is served as MIDI (not Debian's audio/sp-midi); an unknown area is a 400, not a silent "both"
    midi = client.get(f"/sessions/{session}/files/pitch_rerun.mid")
    assert midi.headers["Content-Type"] == "audio/midi" and midi.content[:4] == b"MThd"
    r = client.get(f"/sessions/{session}/files/pitch_rerun.mid", params={"area": "result"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_area", r.text
    r = client.get(f"/jobs/{full['job_id']}", params={"wait": 7200})
    assert r.status_code == 400 and "JOB_WAIT_MAX_SECONDS" in r.json()["error"]["message"]

    again = write(audio_dir / "again.wav", sine(523.25, 3.0))  # the same bytes
    cached_session = client.post("/sessions").json()["session_id"]
    upload(client, cached_session, again)
    r = client.post(f"/process/pitch/{cached_session}", json={"file": "again.wav"})
    assert r.json()["state"] == "succeeded", r.text  # a hit while the files are the first run's
    copied = client.get(f"/sessions/{cached_session}/files/pitch_again.json").json()
    assert copied["cached"] is True and copied["filename"] == "again.wav"
    assert copied["files"] == [f.replace("rerun", "again") for f in full_json["files"]]
    assert {k: v for k, v in copied.items() if k not in ("cached", "filename", "files")} == {
        k: v for k, v in full_json.items() if k not in ("filename", "files")}

    key_only = client.post(f"/process/pitch/{session}", json={"file": "rerun.wav", "include": "key"},
                           headers={"Prefer": "wait=60"}).json()
    assert key_only["state"] == "succeeded" and "tempo_bpm" not in key_only["result"], key_only
    listed = {f["name"] for f in client.get(f"/sessions/{session}").json()["results"]}
    # merged into the full run's result (worker/music/merged.py): its MIDI is written again from the merged set
    assert {"pitch_rerun.mid", "pitch_rerun.json"} <= listed and key_only["result"]["merged_with"]["stages"]
    third = client.post("/sessions").json()["session_id"]
    upload(client, third, again)
    r = client.post(f"/process/pitch/{third}", json={"file": "again.wav"})
    assert r.json()["state"] == "queued", r.text  # the first run's files were overwritten: a miss, it runs
    job = client.wait_job(r.json()["job_id"])
    assert job["state"] == "succeeded" and "tempo_bpm" in job["result"] and not job["result"].get("cached")
    assert "tempo_bpm" in client.get(f"/sessions/{third}/files/pitch_again.json").json()

    # that full run's session now asks for the key only: it runs and merges into the full result (a cached key-only
    # set copied over it had dropped its tempo, beats, chords and melody), whose files all stay
    r = client.post(f"/process/pitch/{third}", json={"file": "again.wav", "include": "key"})
    assert r.json()["state"] == "queued", r.text
    job = client.wait_job(r.json()["job_id"])
    assert job["state"] == "succeeded" and not job["result"].get("cached"), job
    listed = {f["name"] for f in client.get(f"/sessions/{third}").json()["results"]}
    assert listed == {"pitch_again.json", "pitch_again.png", "pitch_again.txt", "pitch_again.mid"}, listed
    assert "tempo_bpm" in client.get(f"/sessions/{third}/files/pitch_again.json").json()


def test_a_result_of_other_analysis_code_is_not_served(client, settings, audio_dir, tmp_path):
    """After an upgrade the cache had served the results of the code before it for their 30 days: a stranger's 5.1
    file measured -17.2 LUFS again from the cache after the loudness fix that reads it -16.5. An entry names the
    analysis code that made it (a digest of worker/'s files); one of other code (or of a version that named
    none) is a miss, and the job runs."""
    import json
    import shutil

    import redis

    # a tone no other test uploads: another test's entry for the same bytes had answered the first job from the
    # cache (a CI run's test order), leaving this session no entry of its own
    wav = write(audio_dir / "versioned.wav", sine(300.0 + uuid.uuid4().int % 1000 / 10, 2.0))
    first_session = client.post("/sessions").json()["session_id"]
    upload(client, first_session, wav)
    first = client.post(f"/process/features/{first_session}", json={"file": "versioned.wav"},
                        headers={"Prefer": "wait=60"}).json()
    assert first["state"] == "succeeded", first
    r = redis.Redis.from_url(settings["REDIS_URL"])
    [key] = [k for k in r.smembers(f"ma:user:{first['owner']}:session-cache:{first_session}")]
    entry = json.loads(r.get(key))
    for older in ({**entry, "code": "0" * 16}, {k: v for k, v in entry.items() if k != "code"}):
        r.set(key, json.dumps(older))  # as a server of other code had recorded it
        session = client.post("/sessions").json()["session_id"]
        upload(client, session, wav)
        job = client.post(f"/process/features/{session}", json={"file": "versioned.wav"}).json()
        assert job["state"] == "queued", job  # it runs: the old code's figures are not handed out
        assert client.wait_job(job["job_id"])["result"].get("cached") is None

    from jobs.cache import code_version

    copy = tmp_path / "worker"
    shutil.copytree(Path(__file__).resolve().parent.parent / "worker", copy)
    assert code_version(copy) == code_version()
    (copy / "features" / "loudness.py").write_text((copy / "features" / "loudness.py").read_text() + "\n# fix\n")
    assert code_version(copy) != code_version()
    fixed = code_version(copy)
    weights = copy / "music" / "key_model.npz"  # a retrained model changes the results as a code change does
    weights.write_bytes(weights.read_bytes() + b"\0")
    assert code_version(copy) != fixed


def test_the_cache_serves_what_the_workers_code_computes(client, settings, audio_dir):
    """A stranger upgraded the code and restarted the workers alone: the API, its code digest taken at its own
    start, went on serving the old code's results and missing every new one. The workers publish their code's
    digest at their start, and an entry of other code is a miss whatever the API process runs."""
    import redis

    from jobs.cache import code_version

    r = redis.Redis.from_url(settings["REDIS_URL"])
    assert r.get("ma:code-version").decode() == code_version()  # the test's worker said so at its start
    wav = write(audio_dir / "upgraded.wav", sine(700.0 + uuid.uuid4().int % 1000 / 10, 2.0))
    session = client.post("/sessions").json()["session_id"]
    upload(client, session, wav)
    assert client.post(f"/process/features/{session}", json={"file": "upgraded.wav"},
                       headers={"Prefer": "wait=60"}).json()["state"] == "succeeded"
    try:
        r.set("ma:code-version", "f" * 16)  # as workers of an upgrade, started since, publish their code
        again = client.post("/sessions").json()["session_id"]
        upload(client, again, wav)
        job = client.post(f"/process/features/{again}", json={"file": "upgraded.wav"}).json()
        assert job["state"] == "queued", job  # the API's own code made that entry; the workers' did not
    finally:
        r.set("ma:code-version", code_version())
    assert client.wait_job(job["job_id"])["result"].get("cached") is None
