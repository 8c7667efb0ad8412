"""Celery tasks, thin as views: a job id in, a pipeline called, the outcome recorded.

Heavy imports (torch, librosa...) happen inside the task bodies, so importing
this module (the API does) stays cheap and loads no model.
"""

from __future__ import annotations

from celery import shared_task
from flask import current_app

from job_runner import for_each_file, run_job
from services import services

# job type -> (Celery task name, config key of its queue)
JOB_TYPES: dict[str, tuple[str, str]] = {
    "features": ("music_analyzer.features", "CPU_QUEUE"),
    "pitch": ("music_analyzer.pitch", "CPU_QUEUE"),
    "model_load": ("music_analyzer.model_load", "GPU_QUEUE"),
    "model_unload": ("music_analyzer.model_unload", "GPU_QUEUE"),
    "generate": ("music_analyzer.generate", "GPU_QUEUE"),
    "probe": ("music_analyzer.probe", "CPU_QUEUE"),
    "gemma_3n": ("music_analyzer.gemma_3n", "GPU_QUEUE"),
    "demucs": ("music_analyzer.demucs", "GPU_QUEUE"),  # the DSP methods are sent to the CPU queue
    "whisper": ("music_analyzer.whisper", "GPU_QUEUE"),
    "musicgen": ("music_analyzer.musicgen", "GPU_QUEUE"),  # or the GPU queue, chosen per request
}
MODEL_STATUS_KEY = "ma:models:status"


def model_manager():
    """The worker process' ModelManager, made on first use (never at import) and kept in the app."""
    ext = current_app.extensions
    if "model_manager" not in ext:
        import json

        from models import ModelManager

        client = services().redis
        worker = ext.get("worker_identity")

        def publish(status: dict) -> None:
            client.set(MODEL_STATUS_KEY, json.dumps({**status, "published_by": worker}, default=str))

        ext["model_manager"] = ModelManager(current_app.config, publish=publish)
        publish(ext["model_manager"].status())
    return ext["model_manager"]


def submit(job_type: str, *, session_id: str | None, params: dict, queue: str | None = None) -> dict:
    """Record a queued job and publish it to its queue (or `queue`). Returns the job record."""
    task_name, queue_key = JOB_TYPES[job_type]
    queue = queue or current_app.config[queue_key]
    svc = services()
    job = svc.jobs.create(job_type=job_type, session_id=session_id, queue=queue, task=task_name, params=params)
    try:
        publish(task_name, job["job_id"], queue)
    except Exception as e:
        svc.jobs.fail(job["job_id"], {"code": "queue_unavailable", "message": f"could not enqueue: {e}"})
        raise
    return job


def publish(task_name: str, job_id: str, queue: str) -> None:
    current_app.extensions["celery"].send_task(task_name, args=[job_id], task_id=job_id, queue=queue)


@shared_task(name="music_analyzer.features", bind=True)
def features_task(self, job_id: str) -> str:
    from worker.feature_pipeline import run_features

    def work(job, progress):
        return for_each_file(job, progress, lambda path, out, p: run_features(
            audio_path=path, results_dir=out, progress=p))

    return run_job(job_id, work, worker=self.request.hostname)


@shared_task(name="music_analyzer.pitch", bind=True)
def pitch_task(self, job_id: str) -> str:
    from worker.music.options import PitchOptions
    from worker.music.pipeline import run_pitch

    def work(job, progress):
        options = PitchOptions.from_request({k: v for k, v in job["params"].items() if k == "include"})
        return for_each_file(job, progress, lambda path, out, p: run_pitch(
            audio_path=path, results_dir=out, options=options, progress=p))

    return run_job(job_id, work, worker=self.request.hostname)


@shared_task(name="music_analyzer.model_load", bind=True)
def model_load_task(self, job_id: str) -> str:
    def work(job, progress):
        return model_manager().load_llm(job["params"]["model_type"], progress=progress)

    return run_job(job_id, work, worker=self.request.hostname)


@shared_task(name="music_analyzer.model_unload", bind=True)
def model_unload_task(self, job_id: str) -> str:
    return run_job(job_id, lambda job, progress: model_manager().unload(kind="llm"), worker=self.request.hostname)


@shared_task(name="music_analyzer.generate", bind=True)
def generate_task(self, job_id: str) -> str:
    from worker.llm_generate import GenerateOptions

    def work(job, progress):
        return model_manager().generate(GenerateOptions.from_request(job["params"]), progress=progress)

    return run_job(job_id, work, worker=self.request.hostname)


@shared_task(name="music_analyzer.probe", bind=True)
def probe_task(self, job_id: str) -> str:
    """A job that does nothing but prove the path: API -> Redis -> a worker -> job record."""
    import os

    def work(job, progress):
        return {"worker": current_app.extensions.get("worker_identity", self.request.hostname), "pid": os.getpid()}

    return run_job(job_id, work, worker=self.request.hostname)


@shared_task(name="music_analyzer.gemma_3n", bind=True)
def gemma_3n_task(self, job_id: str) -> str:
    from models import Gemma3NOptions, run_gemma3n

    def work(job, progress):
        options = Gemma3NOptions.from_request(job["params"])
        return for_each_file(job, progress, lambda path, out, p: run_gemma3n(
            manager=model_manager(), audio_path=path, results_dir=out, options=options, progress=p))

    return run_job(job_id, work, worker=self.request.hostname)


@shared_task(name="music_analyzer.demucs", bind=True)
def demucs_task(self, job_id: str) -> str:
    from audio_jobs import separation_work

    return run_job(job_id, separation_work, worker=self.request.hostname)


@shared_task(name="music_analyzer.whisper", bind=True)
def whisper_task(self, job_id: str) -> str:
    from audio_jobs import transcription_work

    return run_job(job_id, transcription_work, worker=self.request.hostname)


@shared_task(name="music_analyzer.musicgen", bind=True)
def musicgen_task(self, job_id: str) -> str:
    from audio_jobs import musicgen_work

    return run_job(job_id, musicgen_work, worker=self.request.hostname)
