"""The command line (client/) end to end: `python -m music_analyzer_client` as a real subprocess against the live
test service (real HTTP server, real Celery worker, real valkey), configured only through MA_URL, MA_USER and
MA_PASSWORD, as a user's shell would."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import PASSWORD, USER, queued_record
from tests.music_signals import SR, cadence, click_track
from tests.test_api_sessions import user_session_dir

CLI = [sys.executable, "-m", "music_analyzer_client"]


def song(path: Path, *, tonic: int = 0, bars: int = 8) -> Path:
    """I-IV-V7-I in the major key of `tonic` (0 = C), one chord per 2 s bar, with a click on every beat at
    120 BPM: the pitch analysis must say C major and 120 BPM."""
    y, _ = cadence(tonic=tonic, bars=bars, bar_seconds=2.0)
    y = y + 0.5 * click_track(120.0, len(y) / SR)[: len(y)]
    sf.write(path, (0.8 * y / np.abs(y).max()).astype(np.float32), SR)
    return path


def cli_env(server: str, tmp_path: Path) -> dict[str, str]:
    """A user's environment: the server and credentials in MA_*, config, state and data folders of the test's own,
    and no OS keyring (keyring's own "none" backend; test_login_with_a_keyring picks a real one)."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("MA_")}
    out.update(MA_URL=server, MA_USER=USER, MA_PASSWORD=PASSWORD, XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_STATE_HOME=str(tmp_path / "state"), XDG_DATA_HOME=str(tmp_path / "data"),
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring", PYTHONUNBUFFERED="1")
    return out


@pytest.fixture()
def env(server, celery_worker, tmp_path) -> dict[str, str]:
    return cli_env(server, tmp_path)


def ma(env: dict[str, str], *args: str, cwd: Path | None = None, stdin: str = "") -> subprocess.CompletedProcess:
    done = subprocess.run([*CLI, *args], env=env, cwd=cwd, input=stdin, capture_output=True, text=True,
                          timeout=300)
    assert "Traceback" not in done.stderr + done.stdout, done.stderr  # errors are one line, never a traceback
    return done


def read_terminal(leader: int, answer: Callable[[bytes], bytes] | None = None, *, seconds: float = 600.0) -> bytes:
    """Everything a program writes to the pseudo-terminal `leader` until it exits and closes it (or `seconds`
    pass). answer(screen so far) -> bytes to type now (b"" for nothing), called after each chunk."""
    screen, deadline = b"", time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the program has exited and closed the terminal
            break
        if not chunk:
            break
        screen += chunk
        if answer is not None and (typed := answer(screen)):
            os.write(leader, typed)
    return screen


def on_a_terminal(args: list[str], env: dict[str, str], *, cwd: Path | None = None,
                  columns: int = 120) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal (30 rows, 120 columns), as a person sees it: its exit code,
    everything drawn on stderr (escape codes removed) and stdout."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, columns, 0, 0))
    # COLUMNS too: the tests' own environment has COLUMNS=80 under xdist, which rich reads before the terminal
    proc = subprocess.Popen([*CLI, *args], cwd=cwd, env={**env, "TERM": "xterm-256color", "COLUMNS": str(columns),
                                                         "LINES": "30"},
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=follower, text=True)
    os.close(follower)
    screen = read_terminal(leader)
    os.close(leader)
    stdout = proc.stdout.read() if proc.stdout else ""
    code = proc.wait(timeout=60)
    return code, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode(errors="replace")), stdout


def test_analyze_on_a_terminal_shows_a_live_bar_per_job(env, tmp_path):
    """stderr on a terminal (a pseudo-terminal here): rich draws one bar per job; stdout still gets the summary.
    Three bars, I-IV-V7 (audio no other test analyses: a cached result would finish before the bars are drawn);
    two alone, C then F, are as much V-I in F major, which the key model says with a warning naming C major."""
    song(tmp_path / "t.wav", bars=3)
    code, text, stdout = on_a_terminal(["analyze", "t.wav", "--features", "--pitch", "--wait", "--out", "got"], env,
                                       cwd=tmp_path)
    assert code == 0, text
    # the files written are listed once (a stranger's --out had listed them twice: a note, then each file)
    assert stdout.count("wrote ") + text.count("wrote ") == 1 and stdout.count("  pitch_t.json\n") == 1, stdout
    assert "wrote 7 file(s) to got:" in stdout and (tmp_path / "got" / "pitch_t.json").is_file()
    for label in ("t.wav features", "t.wav pitch"):
        final = [line for line in text.splitlines() if line.startswith(label)][-1]
        assert "━" in final and "100%" in final and "succeeded" in final, final
    assert "Traceback" not in text and "  key      C major" in stdout


def test_analyze_json_into_a_named_session_and_download(env, tmp_path, client):
    song(tmp_path / "song.wav")
    out_dir = tmp_path / "results"
    done = ma(env, "--json", "analyze", str(tmp_path / "song.wav"), "--session", "cli-json", "--features",
              "--pitch", "--wait", "--out", str(out_dir))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # stdout is the JSON document and nothing else
    assert report["session_id"] == "cli-json"
    (entry,) = report["files"]
    assert entry["name"] == "song.wav" and entry["upload"]["duration_seconds"] == pytest.approx(16.0, abs=0.1)
    jobs = {j["analysis"]: j for j in entry["jobs"]}
    assert {j["state"] for j in jobs.values()} == {"succeeded"}
    pitch = jobs["pitch"]["result"]
    assert pitch["key"]["tonic"] == "C" and pitch["tempo_bpm"] == pytest.approx(120.0, abs=0.5)
    local = out_dir / "pitch_song.json"
    assert str(local) in report["downloaded"]
    assert json.loads(local.read_text()) == client.get("/sessions/cli-json/files/pitch_song.json").json()

    again = ma(env, "--json", "download", "cli-json", "--out", str(out_dir))
    assert again.returncode == 0 and all(f["skipped"] for f in json.loads(again.stdout)["files"])
    # a local edit is kept (a stranger's was replaced once its size changed), unless asked otherwise
    edited = out_dir / "pitch_song.txt"
    edited.write_text("my own notes\n")
    kept = ma(env, "download", "cli-json", "--out", str(out_dir))
    assert kept.returncode == 0 and edited.read_text() == "my own notes\n" and "--overwrite" in kept.stderr
    ma(env, "download", "cli-json", "--out", str(out_dir), "--overwrite")
    assert edited.read_text() == client.get("/sessions/cli-json/files/pitch_song.txt").text
    server_text = edited.read_text()  # an edit of the same size: kept, and --overwrite replaces it too
    edited.write_text(server_text.replace("C major", "X major", 1))
    assert edited.read_text() != server_text and len(edited.read_text()) == len(server_text)
    ma(env, "download", "cli-json", "--out", str(out_dir), "--overwrite")
    assert edited.read_text() == server_text
    listed = json.loads(ma(env, "sessions", "--json").stdout)
    assert next(s for s in listed if s["session_id"] == "cli-json")["files"] == 1
    # the same bytes again, under another local name: analysed as the upload already there (a stranger's session
    # filled with song-1, song-2 ...)
    copy = tmp_path / "same-song.wav"
    copy.write_bytes((tmp_path / "song.wav").read_bytes())
    reused = ma(env, "analyze", str(copy), "--session", "cli-json", "--features", "--wait")
    assert reused.returncode == 0 and "already in the session as song.wav" in reused.stderr, reused.stderr
    files = client.get("/sessions/cli-json").json()["files"]
    assert [f["name"] for f in files] == ["song.wav"] and len(files[0]["sha256"]) == 64


def test_exit_codes_and_one_line_errors(env, tmp_path, unused_port):
    assert ma(env, "analyze").returncode == 2  # argparse: FILE missing
    missing = ma(env, "analyze", "nosuch.wav", cwd=tmp_path)
    assert missing.returncode == 2 and "nosuch.wav: no such file" in missing.stderr
    assert ma(env, "batch", str(tmp_path), "--jobs", "0").returncode == 2
    assert ma(env, "analyze", "x.wav", "--model", "hpss").returncode == 2  # --model without --stems

    refused = ma({**env, "MA_PASSWORD": "not the password"}, "jobs")
    assert refused.returncode == 3 and "credentials" in refused.stderr and "HTTP 401" in refused.stderr
    gone = ma({**env, "MA_URL": f"http://127.0.0.1:{unused_port}"}, "sessions")
    assert gone.returncode == 3 and "cannot reach the server" in gone.stderr and "Connection refused" in gone.stderr
    gone_json = ma({**env, "MA_URL": f"http://127.0.0.1:{unused_port}"}, "--json", "jobs")
    assert gone_json.returncode == 3 and json.loads(gone_json.stdout)["error"]["code"] == "unreachable"
    no_scheme = ma({**env, "MA_URL": f"127.0.0.1:{unused_port}"}, "sessions")  # a stranger's: "InvalidSchema"
    assert no_scheme.returncode == 2 and "needs http:// or https://" in no_scheme.stderr, no_scheme.stderr
    (tmp_path / "album").mkdir()
    folder = ma(env, "analyze", "album", cwd=tmp_path)  # was "album: no such file"
    assert folder.returncode == 2 and "music-analyzer batch album" in folder.stderr

    unknown = ma(env, "cancel", "0123456789abcdef")
    assert unknown.returncode == 1 and "no job" in unknown.stderr

    # every upload refused (an empty file): the session the run made is not left behind empty
    (tmp_path / "zero.mp3").write_bytes(b"")
    empty = ma(env, "--json", "analyze", str(tmp_path / "zero.mp3"), "--features")
    assert empty.returncode == 1, empty.stderr
    session_id = json.loads(empty.stdout)["session_id"]
    assert json.loads(empty.stdout)["session_deleted"] is True
    assert ma(env, "--json", "sessions").stdout.count(session_id) == 0
    worded = ma(env, "analyze", str(tmp_path / "zero.mp3"), "--features", "--wait")
    assert "deleted" in worded.stderr and "music-analyzer download" not in worded.stderr  # no hint to a 404
    # the file's refusal with its code and request id, as every error (a stranger's had the message alone)
    assert re.search(r"zero\.mp3.*\(empty_file, HTTP 4\d\d, request \w+\)", worded.stderr), worded.stderr


def test_a_failed_job_exits_1_with_the_workers_message(env, tmp_path, settings):
    song(tmp_path / "take.wav", bars=1)
    first = ma(env, "analyze", str(tmp_path / "take.wav"), "--session", "cli-fail", "--features", "--wait")
    assert first.returncode == 0, first.stderr
    # the upload goes bad on the server's disk (as a failing disk would); analysed again by its session name
    upload = user_session_dir(settings, USER, "cli-fail") / "uploads" / "take.wav"
    upload.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    elsewhere = tmp_path / "empty"
    elsewhere.mkdir()
    done = ma(env, "analyze", "take.wav", "--session", "cli-fail", "--features", "--wait", cwd=elsewhere)
    assert done.returncode == 1, done.stderr
    assert "already in the session" in done.stderr and "take.wav features: failed" in done.stderr
    assert "  error    " in done.stdout
    # the jobs table gives the failure's code and message where its stage said "failed" again
    (failed,) = [line for line in ma(env, "jobs", "--session", "cli-fail", "--state", "failed").stdout.splitlines()
                 if "features" in line]
    assert "failed" in failed and re.search(r"\b[a-z_]+: \w", failed), failed


def test_login_keeps_the_password_out_of_the_config(env, tmp_path):
    done = ma(env, "login")  # server, user and password from MA_*; no keyring here
    assert done.returncode == 0, done.stderr
    config = Path(env["XDG_CONFIG_HOME"]) / "music-analyzer" / "config.json"
    assert json.loads(config.read_text()) == {"url": env["MA_URL"], "user": USER}
    assert PASSWORD not in config.read_text() and oct(config.stat().st_mode & 0o777) == "0o600"
    assert "password is not stored" in done.stdout

    bare = {k: v for k, v in env.items() if k not in ("MA_URL", "MA_USER", "MA_PASSWORD")}
    no_password = ma(bare, "jobs")  # stdin is no terminal: nothing to ask on
    assert no_password.returncode == 3 and "no password for tester" in no_password.stderr
    works = ma({**bare, "MA_PASSWORD": PASSWORD}, "--json", "jobs", "--limit", "1")
    assert works.returncode == 0 and isinstance(json.loads(works.stdout), list)

    wrong = ma({**env, "MA_PASSWORD": "wrong", "XDG_CONFIG_HOME": str(tmp_path / "other")}, "login")
    assert wrong.returncode == 3 and not (tmp_path / "other").exists()
    assert ma(bare, "logout").returncode == 0 and not config.exists()


def test_login_with_a_keyring_needs_no_password_later(env, tmp_path):
    # keyrings.alt's file backend stands for the OS keyring (macOS Keychain, Secret Service) a laptop has
    keyed = {**env, "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"}
    done = ma(keyed, "--json", "login")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["password"] == "keyring"
    worded = ma(keyed, "login")  # where it is, in words: a stranger was told "the OS keyring" of a plain file
    assert "PlaintextKeyring: a file" in worded.stdout and "not encrypted" in worded.stdout, worded.stdout
    config = Path(env["XDG_CONFIG_HOME"]) / "music-analyzer" / "config.json"
    assert PASSWORD not in config.read_text()
    bare = {k: v for k, v in keyed.items() if k not in ("MA_URL", "MA_USER", "MA_PASSWORD")}
    works = ma(bare, "--json", "sessions")  # server and user from the config, the password from the keyring
    assert works.returncode == 0 and isinstance(json.loads(works.stdout), list)
    assert ma(bare, "logout").returncode == 0
    forgotten = ma({**bare, "MA_URL": env["MA_URL"], "MA_USER": USER}, "sessions")
    assert forgotten.returncode == 3 and "no password for tester" in forgotten.stderr


def test_jobs_started_without_wait_are_followed_by_jobs_watch(env, tmp_path):
    # three different songs (no cached result or reused upload makes one finish at once), long enough that the
    # worker running them one after another is still at it when the watch begins (4 bars each: once, under load,
    # all three had ended before the watch's process had started)
    for tonic, name in enumerate(("u.wav", "v.wav", "w.wav")):
        song(tmp_path / name, tonic=2 * tonic, bars=16)
    started = ma(env, "--json", "analyze", "u.wav", "v.wav", "w.wav", "--session", "cli-watch", "--pitch",
                 cwd=tmp_path)  # no --wait: starts three jobs and returns
    assert started.returncode == 0, started.stderr
    ids = {j["job_id"] for f in json.loads(started.stdout)["files"] for j in f["jobs"]}
    assert len(ids) == 3
    watched = ma(env, "--json", "jobs", "--watch", "--session", "cli-watch")
    assert watched.returncode == 0, watched.stderr
    finished = json.loads(watched.stdout)
    # one worker runs the three one after another: the last was still queued when the watch began
    assert finished and {j["job_id"] for j in finished} <= ids, finished
    assert {j["state"] for j in finished} == {"succeeded"} and all("result" in j for j in finished)
    listed = json.loads(ma(env, "--json", "jobs", "--session", "cli-watch").stdout)
    assert {j["job_id"] for j in listed} == ids and {j["state"] for j in listed} == {"succeeded"}
    table = ma(env, "jobs", "--session", "cli-watch")
    assert all(job_id in table.stdout for job_id in ids)
    nothing = ma(env, "jobs", "--watch", "--session", "cli-watch")
    assert nothing.returncode == 0 and "no queued or running jobs" in nothing.stderr


def test_a_closed_output_pipe_ends_the_program(env, tmp_path):
    """`music-analyzer analyze ... | head -1`: a stranger's CLI hung for ever once head had gone (rich ends a
    write to a closed pipe with SystemExit, which killed the thread that follows a job before it said so)."""
    for tonic, name in enumerate(("p.wav", "q.wav"), start=5):
        song(tmp_path / name, tonic=tonic, bars=10)  # audio of this test only: no cached result ends it at once
    proc = subprocess.Popen([*CLI, "analyze", "p.wav", "q.wav", "--session", "cli-pipe", "--pitch", "--wait"],
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    seen = [proc.stdout.readline()]
    while "job(s) started" not in seen[-1]:  # the main thread's last line: now it waits for the jobs
        seen.append(proc.stdout.readline())
    proc.stdout.close()  # `head`: the reader is gone before the jobs end
    try:  # the next state line fails in a follower thread; the program ends (rich's status for a broken pipe)
        assert proc.wait(timeout=120) == 1, "".join(seen)
    finally:
        proc.kill()


def test_models_commands(env, smollm2_folder):
    # --wait 0: the server answers 202 with the job at once, and the client follows the job to its result
    done = ma(env, "--json", "models", "generate", "What is the capital of France? Answer in one word.",
              "--max-length", "12", "--temperature", "0", "--wait", "0")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert "Paris" in answer["response"] and answer["model"] == "smollm2-135m"
    status = ma(env, "models", "status")
    assert status.returncode == 0 and re.search(r"smollm2-135m\s.*yes\s.*yes", status.stdout), status.stdout
    assert "current model: smollm2-135m" in status.stdout
    assert ma(env, "--json", "models", "unload").returncode == 0
    assert json.loads(ma(env, "--json", "models", "status").stdout)["current_model"] is None
    unknown = ma(env, "models", "load", "gpt-17")
    assert unknown.returncode == 2 and "smollm2-135m" in unknown.stderr  # the server's 400 lists the valid ones


@pytest.fixture()
def unused_port() -> int:
    """A port nothing listens on (bound, then closed): connecting is refused."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])



def test_a_refused_option_leaves_nothing_running_and_ids_stay_one_path_segment(env, tmp_path, client):
    """`analyze --features --stems --model foo`: the features job had started when the stems option was refused
    (400), and the run ended on the error, leaving the session, the upload and a running job unnamed. Now the
    run's jobs are canceled and its session deleted. `cancel x/../<id>` had been normalised to /jobs/<id> and
    reached that job; `health` needs no password (a stranger's exit 3)."""
    song(tmp_path / "t.wav", bars=2)
    # bytes of this run's own: a features result cached from another test's identical song (test_cli_batch's, run
    # first in a different order) answered the job at once, before the refusal could cancel it
    y, sr = sf.read(tmp_path / "t.wav", dtype="float32")
    y[0] += np.float32(uuid.uuid4().int % 1000 + 1) * 1e-6
    sf.write(tmp_path / "t.wav", y, sr)
    refused = ma(env, "analyze", "t.wav", "--features", "--stems", "--model", "foo", "--wait", cwd=tmp_path)
    assert refused.returncode == 2 and "unknown_model" in refused.stderr, refused.stderr
    session_id = re.search(r"session ([0-9a-f]{16})", refused.stderr).group(1)
    assert "canceled features on t.wav" in refused.stderr and "deleted" in refused.stderr, refused.stderr
    assert client.get(f"/sessions/{session_id}").status_code == 404

    song(tmp_path / "u.wav", bars=1)
    done = ma(env, "--json", "analyze", "u.wav", "--features", "--wait", cwd=tmp_path)
    job_id = json.loads(done.stdout)["files"][0]["jobs"][0]["job_id"]
    dotted = ma(env, "cancel", f"x/../{job_id}")
    assert dotted.returncode == 1 and "finished" not in dotted.stderr, dotted.stderr  # the job was not reached
    assert f"x/../{job_id}" in dotted.stderr

    anonymous = ma({k: v for k, v in env.items() if k != "MA_PASSWORD"}, "health")
    assert anonymous.returncode == 0 and "redis     ok" in anonymous.stdout, anonymous.stdout + anonymous.stderr
    assert ma({k: v for k, v in env.items() if k != "MA_PASSWORD"}, "jobs").returncode == 3  # the rest still asks


def test_jobs_limit_is_a_whole_number_of_1_or_more(tmp_path, unused_port):
    """A stranger's `jobs --limit -1` ended in "unexpected ValueError" (islice) and `--limit 0` printed "no jobs"
    to a user who had jobs, as `library tracks --limit` had before. Refused before any request: no server here."""
    env = cli_env(f"http://127.0.0.1:{unused_port}", tmp_path)
    for limit in ("-1", "0", "many"):
        refused = ma(env, "jobs", "--limit", limit)
        assert refused.returncode == 2 and "is not a whole number of 1 or more" in refused.stderr, refused.stderr
        assert "cannot reach the server" not in refused.stderr


def test_a_jobs_listing_cut_at_limit_says_more_match(env, app, session_id, settings):
    """`jobs --limit N` had cut the list at N without a word, where `library tracks` says more tracks match."""
    made = [queued_record(app, owner=USER, job_type="features", session_id=session_id, queue=settings["CPU_QUEUE"],
                          task="music_analyzer.features", params={"files": ["x.wav"], "batch": False, "options": {}})
            for _ in range(2)]
    cut = ma(env, "jobs", "--session", session_id, "--limit", "1")
    assert cut.returncode == 0 and cut.stdout.count("features") == 1, cut.stdout
    assert "the first 1 job: more match (--all lists every one, --limit N more of them)" in cut.stderr, cut.stderr
    whole = ma(env, "jobs", "--session", session_id, "--limit", "2")
    assert whole.stdout.count("features") == 2 and "more match" not in whole.stderr, whole.stderr
    listed = ma(env, "--json", "jobs", "--session", session_id, "--limit", "1")  # scripts: the list alone
    assert len(json.loads(listed.stdout)) == 1 and listed.stderr == "", listed.stderr
    for job in made:
        assert ma(env, "cancel", job["job_id"]).returncode == 0
