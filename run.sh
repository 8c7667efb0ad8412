#!/usr/bin/env bash
# One command: install what is missing, then run the whole service (see README).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/install.sh
exec python3 run.py "$@"
