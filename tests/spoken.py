"""Real speech for tests: English prose read by espeak-ng (Debian's), written to a WAV file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SENTENCES = ["The harbour keeper walked along the pier before the boats came home.",
             "He counted the ropes and wrote the names of the ships into a small grey book."]


def speak(path: Path, text: str, *, voice: str = "en-us") -> Path:
    """`text` read by espeak-ng at 150 words a minute into `path` (WAV); the tests using it are marked
    needs_espeak."""
    subprocess.run([shutil.which("espeak-ng") or "espeak-ng", "-v", voice, "-s", "150", "-w", str(path), text],
                   check=True)
    return path
