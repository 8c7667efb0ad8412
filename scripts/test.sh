#!/usr/bin/env bash
# The test command (README, CI): installs what the tests need when it is missing, then lint, type check
# and the whole suite against real Redis (a private valkey), real Celery workers, real HTTP.
#   bash scripts/test.sh                 # everything (what CI runs)
#   bash scripts/test.sh -m "not slow"   # the quick subset; any pytest arguments pass through
set -euo pipefail
cd "$(dirname "$0")/.."

# Install (apt + pip, scripts/install.sh) when the dependency files changed since the last install here,
# or when a tool the tests need does not import: a fresh machine needs no separate setup step.
stamp_dir="${XDG_CACHE_HOME:-$HOME/.cache}/music-analyzer"
stamp="$stamp_dir/deps-$(cat requirements*.txt scripts/install.sh | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || ! python3 -c "import pytest, xdist, mypy, mir_eval, music21, celery, torch, music_analyzer_client, playwright" 2>/dev/null \
    || ! python3 -m ruff --version >/dev/null 2>&1; then
  echo "installing the test dependencies (scripts/install.sh requirements-dev.txt)..."
  bash scripts/install.sh requirements-dev.txt
  mkdir -p "$stamp_dir" && touch "$stamp"
fi

# Bytecode caches written, whatever the environment says (PYTHONDONTWRITEBYTECODE=1, common in containers, was set
# on the development machine): without them each test process rewrote the asserts of ~600 modules at every run and
# every worker, run.py and CLI the suite starts (hundreds) compiled this clone's modules again. Collecting the whole
# suite, which each of the test processes does: 15.8 and 17.1 s of CPU uncached, 6.6, 7.0 and 6.1 from the caches
# (load 9-11). They go to the clone's __pycache__ folders (.gitignore) and are read even where writing is off.
unset PYTHONDONTWRITEBYTECODE
python3 -m ruff check .
python3 -m mypy
# three test processes (pytest-xdist), each with its own valkey, API and worker: most of the suite's time is waiting
# on real processes (kills, restarts, jobs), so more processes than cores cut the wall time. On this 2-core machine,
# idle: 13.2 min in three (2026-12-07, 1,694 tests, load ~3-4.6); two had taken 14.9-24.8 min with fewer tests and
# before the worker-stop cuts; three had failed two timing-bound tests once before their bounds were set for load.
# MA_TEST_PROCESSES=2 (or 0: everything in this one process) on a smaller or busier machine.
# --dist loadgroup: the tests of a module that share a module's setup (a run.py, rendered songs, screenshots; the
# xdist_group marks tests/conftest.py adds) run in one process, set up once, the largest groups first; every other
# test goes to whichever process is free (`load` had split such modules, each process setting them up)
python3 -m pytest -q -n "${MA_TEST_PROCESSES:-3}" --dist loadgroup "$@"
