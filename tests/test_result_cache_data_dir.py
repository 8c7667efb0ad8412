"""A cache entry belongs to the data directory whose files it names: another data directory on the same Redis
misses (a test's second instance had been answered from the first one's files, with no worker), and a machine
that mounts the shared directory at another path still finds the files."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import redis

from jobs.cache import ResultCache
from storage import SessionRoot
from tests.audio_synth import sine, write
from worker.features.options import FeaturesOptions


def _remembered(cache: ResultCache, root: SessionRoot, owner: str) -> tuple[Path, Path]:
    """A features result recorded for an upload of `root`, as a worker records one; (upload, results folder)."""
    session = root.root / "users" / owner / "s1"
    (session / "uploads").mkdir(parents=True)
    audio = write(session / "uploads" / "tone.wav", sine(311.1, 1.0))
    results_dir = session / "results"
    results_dir.mkdir(parents=True)
    (results_dir / "features_tone.json").write_text(json.dumps({"filename": "tone.wav", "tempo": 1}))
    cache.remember(owner=owner, job_type="features", options=FeaturesOptions(), audio_path=audio,
                   results_dir=results_dir, result={"files": ["features_tone.json"]}, session_id="s1", root=root)
    return audio, results_dir


def test_another_data_directory_on_the_same_redis_misses(redis_url, tmp_path):
    cache = ResultCache(redis.Redis.from_url(redis_url))
    owner = f"u{uuid.uuid4().hex[:12]}"
    first, second = SessionRoot(tmp_path / "first"), SessionRoot(tmp_path / "second")
    audio, results_dir = _remembered(cache, first, owner)
    hit = cache.find(owner=owner, job_type="features", options=FeaturesOptions(), audio_path=audio, root=first)
    assert hit is not None and hit.results_dir == results_dir

    # the same bytes uploaded under the second data directory: its own files or none, never the first's
    (second.root / "users" / owner / "s9" / "uploads").mkdir(parents=True)
    theirs = write(second.root / "users" / owner / "s9" / "uploads" / "tone.wav", sine(311.1, 1.0))
    assert cache.find(owner=owner, job_type="features", options=FeaturesOptions(), audio_path=theirs,
                      root=second) is None


def test_the_shared_directory_mounted_at_another_path_still_hits(redis_url, tmp_path):
    cache = ResultCache(redis.Redis.from_url(redis_url))
    owner = f"u{uuid.uuid4().hex[:12]}"
    here = SessionRoot(tmp_path / "mnt-worker")
    audio, _ = _remembered(cache, here, owner)
    # the API's machine mounts the same directory elsewhere (its id file comes with it); the worker's path is not there
    shutil.copytree(here.root, tmp_path / "mnt-api")
    shutil.rmtree(here.root)
    there = SessionRoot(tmp_path / "mnt-api")
    moved = there.root / audio.relative_to(here.root)
    hit = cache.find(owner=owner, job_type="features", options=FeaturesOptions(), audio_path=moved, root=there)
    assert hit is not None and hit.results_dir == there.root / "users" / owner / "s1" / "results"
