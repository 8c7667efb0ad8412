"""The client's typed dictionaries declare every field the server's OpenAPI description gives its answers: a
typed script (mypy --strict) could not read a field the client left out, such as an upload's duration in
GET /sessions/<id> or a session's jobs_next_cursor."""

from __future__ import annotations

import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import requests
from music_analyzer_client import records

CLIENT = Path(__file__).resolve().parents[1] / "client"

PAIRS = [(records.Job, "Job"), (records.Session, "Session"), (records.SessionSummary, "SessionSummary"),
         (records.Upload, "UploadedFile"), (records.SessionFile, "StoredFile"), (records.ErrorBody, "JobError")]


@pytest.mark.parametrize(("typed", "schema"), PAIRS, ids=[name for _, name in PAIRS])
def test_each_typed_answer_declares_every_field_the_server_describes(server, typed, schema):
    described = requests.get(f"{server}/openapi.json", timeout=30).json()["components"]["schemas"][schema]
    declared = typing.get_type_hints(typed)
    assert sorted(set(described["properties"]) - set(declared)) == []
    assert sorted(set(declared) - set(described["properties"])) == []  # nothing the server does not send


def test_a_sessions_uploads_are_typed_as_uploads_and_its_results_as_stored_files():
    session = typing.get_type_hints(records.Session)
    assert session["files"] == list[records.Upload] and session["results"] == list[records.SessionFile]


def test_the_readmes_python_example_and_the_client_pass_mypy_strict(tmp_path):
    """A user's script under mypy --strict checks the client too when it is installed editable (or on MYPYPATH):
    the client's own `Returning Any` had failed every such run."""
    readme = (CLIENT / "README.md").read_text()
    example = re.search(r"## Python\n\n```python\n(.*?)```", readme, re.S)
    assert example is not None
    script = tmp_path / "user_script.py"
    script.write_text(example.group(1))
    run = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"),
                          "--config-file", "", str(script), str(CLIENT / "music_analyzer_client")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={"MYPYPATH": str(CLIENT), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stdout + run.stderr
