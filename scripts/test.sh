#!/usr/bin/env bash
# The test command (README, CI): lint, then the whole suite against real Redis and real workers.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m ruff check .
python3 -m pytest -q "$@"
