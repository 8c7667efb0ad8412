"""A past revision of this repository, unpacked beside the working tree: the "before" of a same-session A/B."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def unpack_revision(rev: str, into: Path) -> Path:
    """`git archive` of `rev` extracted into the new folder `into` (which it returns)."""
    into.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into
