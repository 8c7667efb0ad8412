"""A stranger's audiobook and podcast through the command line: `analyze --transcribe` is Whisper on the file as it
is (`--lyrics`, the CLI's only transcript, needs a vocal stem: htdemucs weights, or minutes of repet on speech that
has no accompaniment), and `--llm` without `--llm-model` asks for the best model the server has (`auto`, as the
web page does), where the route's default gemma-3n-E4B had been a 409 on a server holding only SmolLM2.
Real CLI subprocesses against the live test service (HTTP server, Celery worker, valkey), real Whisper tiny.en."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.test_cli import cli_env, ma


@pytest.fixture()
def env(server, celery_worker, tmp_path) -> dict[str, str]:
    return cli_env(server, tmp_path)


def speech(path: Path, text: str) -> Path:
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text], check=True)
    return path


def jobs_of(done: subprocess.CompletedProcess) -> dict[str, dict]:
    assert done.returncode == 0, done.stderr + done.stdout
    (entry,) = json.loads(done.stdout)["files"]
    return {j["analysis"]: j for j in entry["jobs"]}


@pytest.mark.needs_espeak
def test_transcribe_reads_the_speech_of_the_file_itself(env, tmp_path):
    book = speech(tmp_path / "chapter.wav", "Chapter one. The lighthouse keeper climbed the stairs to the lamp.")
    done = ma(env, "--json", "analyze", str(book), "--transcribe", "--wait", "--out", str(tmp_path / "out"))
    job = jobs_of(done)["transcript"]
    assert job["state"] == "succeeded", job
    assert job["result"]["source"] == "mix" and "lighthouse" in job["result"]["text"].lower(), job["result"]
    assert (tmp_path / "out" / "transcript_chapter.srt").is_file()

    shown = ma(env, "analyze", str(book), "--transcribe", "--wait")  # the summary names it a transcript
    assert shown.returncode == 0 and "  transcript [en] " in shown.stdout, shown.stdout + shown.stderr


def test_transcribe_and_lyrics_together_are_refused_before_any_upload(env, tmp_path):
    """Both write transcript_<name>.*: the second job would replace the first one's files."""
    sf.write(tmp_path / "t.wav", np.zeros(8000, dtype=np.float32), 16000)
    done = ma(env, "analyze", str(tmp_path / "t.wav"), "--transcribe", "--lyrics")
    assert done.returncode == 2 and "choose one" in done.stderr, done.stderr
    assert "session" not in done.stderr  # refused before a session was made


@pytest.mark.needs_espeak
def test_llm_without_a_model_runs_on_the_model_the_server_has(env, tmp_path, smollm2_folder):
    clip = speech(tmp_path / "note.wav", "Hello there.")
    # a short answer: which model ran is the point, and 512 tokens of SmolLM2 on a CPU took 30-40 s a run
    done = ma(env, "--json", "analyze", str(clip), "--llm", "analyze", "--llm-max-tokens", "16", "--wait")
    job = jobs_of(done)["llm-analyze"]
    assert job["state"] == "succeeded", job
    assert job["result"]["model_choice"]["model"] == "smollm2-135m", job["result"]
    # the summary says what the model read, from the result: numbers, no transcript here, not the sound (it had said
    # "features and transcript" whatever the result's transcript_source, null here, and its .txt "features only")
    assert job["result"]["transcript_source"] is None, job["result"]
    shown = ma(env, "analyze", str(clip), "--llm", "analyze", "--llm-max-tokens", "16", "--wait")
    assert shown.returncode == 0, shown.stderr
    assert "  model    smollm2-135m (text-only: read the measured features only (no transcript), did not hear the " \
        "audio)" in shown.stdout, shown.stdout


@pytest.mark.needs_espeak
def test_llm_max_tokens_sets_the_answers_length(env, tmp_path, smollm2_folder):
    """The answer cut at the server's 512 tokens was warned of with "ask for more tokens", which the CLI had no
    way to do."""
    clip = speech(tmp_path / "short.wav", "Good morning.")
    done = ma(env, "--json", "analyze", str(clip), "--llm", "analyze", "--llm-max-tokens", "3", "--wait")
    job = jobs_of(done)["llm-analyze"]
    assert job["state"] == "succeeded", job
    assert any("cut at max_new_tokens" in w for w in job["result"]["warnings"]), job["result"]["warnings"]
    for args, said in ((["--llm-max-tokens", "0", "--llm", "analyze"], "must be 1 or more"),
                       (["--llm-max-tokens", "9"], "add --llm")):
        refused = ma(env, "analyze", str(clip), *args)
        assert refused.returncode == 2 and said in refused.stderr, refused.stderr
