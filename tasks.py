"""Celery tasks, thin as views: a job id in, the job layer runs it (jobs/runner.py).

The task names are what queued messages carry: they never change. Each job type's work function,
queue and options live in jobs/types.py.
"""

from __future__ import annotations

from celery import shared_task

from jobs.library_index import index_later
from jobs.runner import run_job


@shared_task(name="music_analyzer.features", bind=True)
def features_task(self, job_id: str) -> str:
    return run_job(job_id, "features", worker=self.request.hostname)


@shared_task(name="music_analyzer.pitch", bind=True)
def pitch_task(self, job_id: str) -> str:
    return run_job(job_id, "pitch", worker=self.request.hostname)


@shared_task(name="music_analyzer.probe", bind=True)
def probe_task(self, job_id: str) -> str:
    """A job that does nothing but prove the path: API -> Redis -> a worker -> job record."""
    return run_job(job_id, "probe", worker=self.request.hostname)


@shared_task(name="music_analyzer.model_load", bind=True)
def model_load_task(self, job_id: str) -> str:
    return run_job(job_id, "model_load", worker=self.request.hostname)


@shared_task(name="music_analyzer.model_unload", bind=True)
def model_unload_task(self, job_id: str) -> str:
    return run_job(job_id, "model_unload", worker=self.request.hostname)


@shared_task(name="music_analyzer.generate", bind=True)
def generate_task(self, job_id: str) -> str:
    return run_job(job_id, "generate", worker=self.request.hostname)


@shared_task(name="music_analyzer.gemma_3n", bind=True)
def gemma_3n_task(self, job_id: str) -> str:
    return run_job(job_id, "gemma_3n", worker=self.request.hostname)


@shared_task(name="music_analyzer.demucs", bind=True)
def demucs_task(self, job_id: str) -> str:
    return run_job(job_id, "demucs", worker=self.request.hostname)


@shared_task(name="music_analyzer.whisper", bind=True)
def whisper_task(self, job_id: str) -> str:
    return run_job(job_id, "whisper", worker=self.request.hostname)


@shared_task(name="music_analyzer.musicgen", bind=True)
def musicgen_task(self, job_id: str) -> str:
    return run_job(job_id, "musicgen", worker=self.request.hostname)


@shared_task(name="music_analyzer.lyrics", bind=True)
def lyrics_task(self, job_id: str) -> str:
    return run_job(job_id, "lyrics", worker=self.request.hostname)


@shared_task(name="music_analyzer.compare", bind=True)
def compare_task(self, job_id: str) -> str:
    return run_job(job_id, "compare", worker=self.request.hostname)


@shared_task(name="music_analyzer.library_ask", bind=True)
def library_ask_task(self, job_id: str) -> str:
    return run_job(job_id, "library_ask", worker=self.request.hostname)


@shared_task(name="music_analyzer.library_reindex", bind=True)
def library_reindex_task(self, job_id: str) -> str:
    return run_job(job_id, "library_reindex", worker=self.request.hostname)


@shared_task(name="music_analyzer.library_index")
def library_index_task(job_id: str) -> str:
    """Not a job of its own: the library indexing of a job answered from the cache (jobs/library_index.py)."""
    return index_later(job_id)
