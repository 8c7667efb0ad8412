"""Client and command line of a Music Analyzer server: `MusicAnalyzer` for scripts, `music-analyzer` / `ma`."""

from __future__ import annotations

from ._version import __version__
from .client import MusicAnalyzer
from .errors import JobFailed, MusicAnalyzerError, WaitTimeout
from .records import Job, JobEvent, Session, SessionSummary, Upload
from .webhooks import verify_webhook

__all__ = ["Job", "JobEvent", "JobFailed", "MusicAnalyzer", "MusicAnalyzerError", "Session", "SessionSummary", "Upload",
           "WaitTimeout", "__version__", "verify_webhook"]
