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

from flask import current_app

from storage import SessionRoot

from .services import services
from .types import stored_params

log = logging.getLogger(__name__)
INDEXED_TYPES = frozenset({"features", "pitch", "whisper", "lyrics", "gemma_3n", "demucs"})


def index_job_tracks(job: Mapping[str, Any], job_type: str, *, settings: Mapping[str, Any],
                     sessions: SessionRoot, embed_new: bool = True) -> bool:
    """Index the job's tracks; False when some passage was left without its vector (`embed_new` False, see
    `index_later`) or indexing failed."""
    if job_type not in INDEXED_TYPES or not job.get("session_id") or not settings.get("LIBRARY_ENABLED", True):
        return True
    started = time.perf_counter()
    unembedded = 0
    try:
        from library.service import library_for  # the library (and the embedder) only where jobs index

        owner, session_id = job["owner"], job["session_id"]
        store = sessions.of(owner)
        params = stored_params(job_type, job.get("params") or {})
        names = params["files"] or store.upload_names(session_id)
        results_dir = store.session_dir(session_id) / "results"
        library = library_for(settings)
        for name in names:
            out = library.index_file(owner=owner, session_id=session_id, filename=name, results_dir=results_dir,
                                     embed_new=embed_new)
            unembedded += int(out.get("unembedded") or 0)
        log.info("library: indexed %d track(s) of job %s in %.2f s", len(names), job.get("job_id"),
                 time.perf_counter() - started)
        return unembedded == 0
    except Exception:  # never the job's failure: the session files stay the source of truth
        log.error("library: indexing after job %s failed", job.get("job_id"), exc_info=True)
        return False


def index_later(job_id: str) -> str:
    """The library indexing of a job answered from the cache, run in a worker (tasks.library_index_task).

    A cached job is answered in the request's process: the API's threads, or the gevent server that answers
    `Prefer: wait`, where loading the embedding model (torch) crashed the process with SIGSEGV (a stranger's
    cached Whisper job, 4 of 4 times: a 502, and every event stream of that server dropped). There its tracks
    are indexed with the vectors the owner's library already holds for the same texts (the usual case: the
    cached result is a copy of one indexed before), and only what is left is sent here."""
    svc = services()
    job = svc.jobs.get(job_id)
    if job is None:
        return "gone"
    complete = index_job_tracks(job, job["type"], settings=current_app.config, sessions=svc.sessions)
    return "indexed" if complete else "failed"
