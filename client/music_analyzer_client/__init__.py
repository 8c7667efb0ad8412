"""Client and command line of a Music Analyzer server: `MusicAnalyzer` for scripts, `music-analyzer` / `ma`."""

from __future__ import annotations

__version__ = "0.1.0"

from .client import MusicAnalyzer  # noqa: E402 (the client reads __version__ above)
from .errors import MusicAnalyzerError  # noqa: E402
from .records import Job, JobEvent, Session, SessionSummary, Upload  # noqa: E402

__all__ = ["Job", "JobEvent", "MusicAnalyzer", "MusicAnalyzerError", "Session", "SessionSummary", "Upload",
           "__version__"]
