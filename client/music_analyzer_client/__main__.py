"""`python -m music_analyzer_client ...`: the same as the `music-analyzer` command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
