"""After a job that wrote analysis results succeeds, its tracks are (re)indexed in the library.

Called by the runner before the job is marked succeeded, so a client that saw the job finish finds its
track in /library. Indexing never fails the job: an error is logged and the job's result stands
(POST /library/reindex rebuilds from the session files later).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from storage import SessionRoot

from .types import stored_params

log = logging.getLogger(__name__)
INDEXED_TYPES = frozenset({"features", "pitch", "whisper", "lyrics", "gemma_3n", "demucs"})


def index_job_tracks(job: Mapping[str, Any], job_type: str, *, settings: Mapping[str, Any],
                     sessions: SessionRoot) -> None:
    if job_type not in INDEXED_TYPES or not job.get("session_id") or not settings.get("LIBRARY_ENABLED", True):
        return
    started = time.perf_counter()
    try:
        from library.service import library_for  # the library (and the embedder) only where jobs index

        owner, session_id = job["owner"], job["session_id"]
        store = sessions.of(owner)
        params = stored_params(job_type, job.get("params") or {})
        names = params["files"] or store.upload_names(session_id)
        results_dir = store.session_dir(session_id) / "results"
        library = library_for(settings)
        for name in names:
            library.index_file(owner=owner, session_id=session_id, filename=name, results_dir=results_dir)
        log.info("library: indexed %d track(s) of job %s in %.2f s", len(names), job.get("job_id"),
                 time.perf_counter() - started)
    except Exception:  # never the job's failure: the session files stay the source of truth
        log.error("library: indexing after job %s failed", job.get("job_id"), exc_info=True)
