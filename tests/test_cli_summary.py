"""The CLI's summary of finished jobs: what a person reads after `analyze --wait` (key, tempo, chords, files, and
what the result doubts)."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
import soundfile as sf

from tests.audio_synth import sine, write
from tests.conftest import ADMIN, ADMIN_PASSWORD, OTHER, USER
from tests.music_signals import SR
from tests.test_api_sessions import upload
from tests.test_cli import cli_env, ma, song


@pytest.fixture()
def env(server, celery_worker, tmp_path) -> dict[str, str]:
    return cli_env(server, tmp_path)


def test_analyze_prints_key_tempo_and_chords(env, tmp_path):
    song(tmp_path / "song.wav")
    done = ma(env, "analyze", "song.wav", "--pitch", "--wait", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "  key      C major" in "\n".join(lines), done.stdout
    assert any(line.startswith("  tempo    120.0 BPM, 4/4 (confidence 0.") for line in lines), done.stdout
    chords = next(line for line in lines if line.startswith("  chords"))
    assert chords.split()[1:5] == ["C:maj", "F:maj", "G:7", "C:maj"], chords
    assert "pitch_song.json" in done.stdout and "pitch_song.mid" in done.stdout
    assert "song.wav pitch: succeeded" in done.stderr  # no terminal: a line per state change


def test_analyze_shows_what_the_result_doubts(env, tmp_path):
    """A producer's trial: the CLI summary showed a key and tempo while the JSON's warnings said they were doubtful,
    and a track without a key lost its key line. A test tone has no key: the summary says so, and why."""
    t = np.arange(4 * SR) / SR
    sf.write(tmp_path / "tone.wav", (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), SR)
    done = ma(env, "analyze", "tone.wav", "--pitch", "--wait", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # the reason once, on the key line (it had read "no clear key", then a warning "no clear key" or with the reason)
    assert "  key      no clear key: one pitch class (A) sounds alone: no harmony to read a key from" in lines, \
        done.stdout
    assert not any(line.startswith("  warning  no clear key") for line in lines), done.stdout


def test_a_features_summary_names_what_is_wrong_with_the_recording(env, tmp_path):
    """A stranger's clipped file: the summary showed its loudness and peak and not the clipping its JSON and .txt
    named (a features job's warnings sit in `audio_features`)."""
    t = np.arange(3 * SR) / SR
    sf.write(tmp_path / "clip.wav", np.clip(2 * np.sin(2 * np.pi * 440 * t), -1, 1).astype(np.float32), SR)
    done = ma(env, "analyze", "clip.wav", "--features", "--wait", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert any(line.startswith("  warning  clipped: ") for line in done.stdout.splitlines()), done.stdout


def test_a_silent_files_features_summary_measures_no_brightness(env, tmp_path):
    """A stranger's 5 s of digital silence: the summary's one measure was "features centroid 0 Hz", under the
    warning "there is no sound to describe (no loudness, pitch classes or spectrum)"."""
    sf.write(tmp_path / "quiet.wav", np.zeros(2 * SR, np.float32), SR)
    done = ma(env, "analyze", "quiet.wav", "--features", "--wait", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "centroid" not in done.stdout and "  warning  silent: " in done.stdout, done.stdout


def test_an_admins_job_table_names_each_jobs_owner(env, tmp_path, client, other_client):
    """A stranger's admin listing showed bob's job in his session `al1` exactly like alice's in hers of the same
    name. With several users' jobs in it, the table has an owner column; a user's own listing has none."""
    name = f"same-{uuid.uuid4().hex[:8]}"
    for c in (client, other_client):
        upload(c, name, write(tmp_path / "t.wav", sine(330, 0.3)))
        assert c.post(f"/process/features/{name}", json={"file": "t.wav", "picture": False},
                      headers={"Prefer": "wait=60"}).json()["state"] == "succeeded"
    listed = ma({**env, "MA_USER": ADMIN, "MA_PASSWORD": ADMIN_PASSWORD}, "jobs", "--limit", "2")
    assert listed.returncode == 0, listed.stderr
    header = listed.stdout.splitlines()[0].replace("┃", " ").split()
    assert header[:2] == ["owner", "job"], listed.stdout
    assert USER in listed.stdout and OTHER in listed.stdout and listed.stdout.count(name) == 2, listed.stdout
    own = ma(env, "jobs", "--limit", "2")
    assert own.stdout.splitlines()[0].replace("┃", " ").split()[0] == "job", own.stdout
    admin = {**env, "MA_USER": ADMIN, "MA_PASSWORD": ADMIN_PASSWORD}
    newest = ma(admin, "jobs", "--limit", "1")  # one user's job alone, not the admin's: still named
    assert newest.stdout.splitlines()[0].replace("┃", " ").split()[0] == "owner" and OTHER in newest.stdout

    # an admin's `analyze --session` never works in another user's session (it had started a job in bob's,
    # owned by bob, beside an upload into a new session of the admin's own)
    solo = f"solo-{uuid.uuid4().hex[:8]}"
    upload(other_client, solo, tmp_path / "t.wav")
    refused = ma(admin, "analyze", str(tmp_path / "t.wav"), "--session", solo, "--features")
    assert refused.returncode == 2 and f"session {solo} is {OTHER}'s" in refused.stderr, refused.stderr
    assert other_client.get("/jobs", params={"session_id": solo}).json()["jobs"] == []


def test_an_upload_is_described_in_minutes_and_seconds():
    """A stranger's 599.997 s file was "9:60.0": minutes and seconds had been rounded apart."""
    from music_analyzer_client.analyze import describe_audio

    def said(seconds: float) -> str:
        return describe_audio({"duration_seconds": seconds, "channels": 2, "sample_rate": 44100})

    assert said(599.997) == "10:00.0, 44.1 kHz stereo"
    assert said(59.94) == "0:59.9, 44.1 kHz stereo" and said(59.96) == "1:00.0, 44.1 kHz stereo"
    assert said(32.0) == "0:32.0, 44.1 kHz stereo" and said(3725.25).startswith("62:05.2")
    assert describe_audio({"duration_seconds": 1.5, "channels": 1, "sample_rate": 22050}) == "0:01.5, 22.05 kHz mono"


def test_download_keeps_an_upload_named_like_a_result_apart(env, tmp_path, client, session_id, audio_dir):
    """A stranger's album art uploaded as features_s.png beside s.wav: `download --uploads` wrote the features
    picture, then kept it as "it differs from the server's features_s.png", and the image was never saved."""
    import json

    # the art first: an upload named like a result the session already has is refused now (409 name_is_a_result),
    # but a result made after it may still take its name
    from PIL import Image

    art = audio_dir / "features_s.png"
    Image.new("RGB", (32, 32), (200, 30, 30)).save(art)
    assert upload(client, session_id, art).status_code == 201
    # audio no other test analyses: a cached features result of it would come back from test_result_cache
    assert upload(client, session_id, write(audio_dir / "s.wav", sine(587.3, 2.5))).status_code == 201
    job = client.wait_job(client.post(f"/process/features/{session_id}", json={"file": "s.wav"}).json()["job_id"])
    assert job["state"] == "succeeded" and "features_s.png" in job["files"]
    out = tmp_path / "dl"
    done = ma(env, "--json", "download", session_id, "--uploads", "--out", str(out))
    assert done.returncode == 0 and "differs" not in done.stderr, done.stderr
    files = json.loads(done.stdout)["files"]
    assert not any(f["skipped"] for f in files)
    assert (out / "uploads" / "features_s.png").read_bytes() == art.read_bytes()
    assert (out / "features_s.png").read_bytes() != art.read_bytes() and (out / "s.wav").is_file()


@pytest.mark.parametrize("command", [("download", "../../etc"), ("download", "a/b"), ("download", "x y")])
def test_a_session_argument_that_is_no_session_id_is_refused_before_any_request(env, tmp_path, command):
    """`download ../../etc` had reached the server's front as a path it normalised: "the request could not be
    parsed (bad_request)". The client says what is wrong, exit code 2 (usage), no request sent."""
    done = ma(env, *command, cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"{command[-1]!r} is not a session id" in done.stderr and "bad_request" not in done.stderr
    assert not (tmp_path / "etc").exists()


def test_an_image_given_to_analyze_is_described_as_an_image(env, tmp_path):
    """A stranger's `analyze cover.png` printed "uploaded cover.png as cover.png (0:00.0, 0 kHz None ch)": the
    upload's audio fields, which an image has none of, where the server had said it is a 64x48 PNG."""
    import subprocess

    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=64x48", "-frames:v", "1",
                    str(tmp_path / "cover.png")], check=True)
    done = ma(env, "analyze", "cover.png", "--pitch", "--wait", cwd=tmp_path)
    said = done.stdout + done.stderr
    assert "uploaded cover.png as cover.png (image, 64x48 png)" in said, said
    assert "kHz" not in said and "None" not in said, said


def test_a_text_only_models_line_says_what_it_read():
    """From the result: its grounding files and Whisper's transcript when it had them (tests/test_cli_speech.py runs
    the CLI on a job without a transcript)."""
    from music_analyzer_client.summary import summary_lines

    result = {"task": "analyze", "analysis_summary": "Calm.", "model": "smollm2-135m", "audio_input": False,
              "transcript_source": "transcript_a.json", "grounded_on": ["pitch_a.json", "transcript_a.json"]}
    job = {"state": "succeeded", "type": "gemma_3n", "result": result}
    lines = dict(summary_lines(job))
    assert lines["model"] == ("smollm2-135m (text-only: read the measured features, the analysis pitch_a.json and the "
                              "transcript transcript_a.json, did not hear the audio)")
    heard = dict(summary_lines({**job, "result": {**result, "audio_input": True}}))
    assert heard["model"] == "smollm2-135m (heard the audio)"


def test_the_chord_line_shows_a_chord_once_across_a_silence():
    """A stranger's summary read "C:maj C:maj D:maj": the "N" between two C majors was dropped and the two kept."""
    from music_analyzer_client.summary import chords_text

    result = {"chords": [{"label": lab} for lab in ("N", "C:maj", "N", "C:maj", "D:maj", "N", "C:maj")]}
    assert chords_text(result) == "C:maj D:maj C:maj"


def test_download_into_a_file_says_it_is_not_a_folder(env, tmp_path):
    """A stranger's `download trial2 --out song.mp3` (a file) read "error: song.mp3: File exists (local_error)" and
    exit 1, where `analyze --out song.mp3` says "not a folder", exit 2; so with no --out and a file named like the
    session in the current folder. Neither asks the server, nor touches the file."""
    (tmp_path / "song.mp3").write_bytes(b"mine")
    done = ma(env, "download", "some-session", "--out", str(tmp_path / "song.mp3"), cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"--out {tmp_path / 'song.mp3'}: not a folder" in done.stderr and "File exists" not in done.stderr
    (tmp_path / "s1").write_bytes(b"mine too")
    done = ma(env, "download", "s1", cwd=tmp_path)
    assert done.returncode == 2 and "s1 is a file here: give the folder to download into with --out DIR" in done.stderr
    assert (tmp_path / "song.mp3").read_bytes() == b"mine" and (tmp_path / "s1").read_bytes() == b"mine too"


def test_the_summary_lists_the_keys_music_moves_between():
    """A modulating track, or one naming no one key (tests/test_key_moves.py), had its key line alone: the keys and
    when each starts follow it, as on the page."""
    from music_analyzer_client.summary import summary_lines

    changes = [{"time": 0.0, "label": "C major"}, {"time": 25.31, "label": "E major"},
               {"time": 109.1, "label": "G# major"}]
    job = {"state": "succeeded", "type": "pitch",
           "result": {"key": {"tonic": None, "label": "no key", "note": "harmony that moves", "changes": changes}}}
    lines = summary_lines(job, files=False)
    assert lines[:2] == [("key", "no clear key: harmony that moves"),
                         ("keys", "C major -> E major at 0:25 -> G# major at 1:49")]
    one = {"state": "succeeded", "type": "pitch", "result": {"key": {"tonic": "G", "mode": "major", "confidence": 0.9,
                                                                     "changes": []}}}
    assert [label for label, _ in summary_lines(one, files=False)] == ["key"]
