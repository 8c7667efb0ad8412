"""What `docker compose build` copies into the image (`COPY . .` of the checkout) leaves out the secrets and data that
following the README puts in it: `.env` (manage.py add-user's password hashes, HF_TOKEN), `models/` (the weights,
gigabytes), `data/` (run.py's default DATA_DIR: users' uploads). There was no .dockerignore: a stranger's compose
build would have baked all three into the image's layers. No docker here: the patterns are read as Docker reads them
(a pattern names a path from the context's root; a matched folder takes everything in it; `**` any depth).
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip().strip("/") for line in lines if line.strip() and not line.lstrip().startswith("#")]


def matches(pattern: str, path: str) -> bool:
    if fnmatch.fnmatchcase(path, pattern):
        return True
    if pattern.startswith("**/"):  # any depth, the root's own level included
        parts = path.split("/")
        return any(fnmatch.fnmatchcase("/".join(parts[i:]), pattern[3:]) for i in range(len(parts)))
    return False


def excluded(path: str) -> bool:
    parts = path.split("/")
    return any(matches(p, "/".join(parts[:n])) for p in patterns() for n in range(1, len(parts) + 1))


def test_the_image_leaves_out_the_settings_the_weights_the_data_and_the_history():
    for path in (".env", "data/users/alice/sessions/s1/song.wav", "models/google/gemma-3n-E4B-it/model.safetensors",
                 ".git/config", "jobs/__pycache__/runtime.cpython-311.pyc", "deploy/prometheus/metrics-password"):
        assert excluded(path), path


def test_the_image_keeps_the_code_the_service_runs():
    # the files of a similar name are code: models.py, worker/music/*.npz (the shipped networks), tests/data
    for path in ("models.py", "run.py", "Dockerfile", "requirements.txt", "requirements-models.txt",
                 "scripts/install.sh", "worker/music/key_model.npz", "deploy/nginx/music-analyzer.conf.template",
                 "tests/data", "service/final_exit.py", "web/index.html"):
        assert not excluded(path), path
