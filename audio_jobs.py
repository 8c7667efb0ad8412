"""Work functions of the model-backed audio jobs (separation, transcription, generation).

Kept out of tasks.py so that the task wrappers stay one call each. Each function
takes the job record and a progress callback, gets its model from the worker's
ModelManager (kind "audio": stays resident within the memory budget, LRU), and
calls the plain pipeline in worker/.
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from job_runner import for_each_file
from services import services
from worker.progress import Progress, scaled


def _models_dir() -> Path:
    return Path(current_app.config["MODELS_DIR"])


def demucs_model(manager, name: str):
    from worker.separation_models import load_demucs

    return manager.acquire(f"demucs:{name}", kind="audio", loader=lambda: load_demucs(
        name, models_dir=_models_dir(), device=manager.device))


def separation_work(job: dict, progress: Progress) -> dict:
    from tasks import model_manager
    from worker.separation import SeparationOptions, run_separation

    options = SeparationOptions.from_dict(job["params"].get("options", {}))
    model = None if options.is_dsp else demucs_model(model_manager(), options.model)
    return for_each_file(job, progress, lambda path, out, p: run_separation(
        audio_path=path, results_dir=out, options=options, separator_or_model=model, progress=p))


def transcription_work(job: dict, progress: Progress) -> dict:
    from tasks import model_manager
    from worker.separation import SeparationOptions, run_separation
    from worker.transcription import WhisperOptions, load_whisper, run_transcription, vocals_stem_path

    options = WhisperOptions.from_dict(job["params"].get("options", {}))
    manager = model_manager()
    device = "cuda" if manager.device.startswith("cuda") else "cpu"
    threads = int(current_app.config.get("TORCH_NUM_THREADS") or 0)
    whisper = manager.acquire(f"whisper:{options.model}", kind="audio", loader=lambda: load_whisper(
        options.model, models_dir=_models_dir(), device=device, cpu_threads=threads))

    def one(path: Path, out: Path, p: Progress) -> dict:
        vocals = None
        if options.source == "vocals":
            vocals = vocals_stem_path(out, path)
            if vocals is None:  # separate first, then transcribe the stem
                name = current_app.config["VOCALS_SEPARATION_MODEL"]
                sep = SeparationOptions(model=name, two_stems="vocals")
                model = None if sep.is_dsp else demucs_model(manager, name)
                run_separation(audio_path=path, results_dir=out, options=sep, separator_or_model=model,
                               progress=scaled(p, 0, 0.5))
                vocals = vocals_stem_path(out, path)
                p = scaled(p, 0.5, 1.0)
        return run_transcription(audio_path=path, results_dir=out, options=options, model=whisper, progress=p,
                                 vocals_path=vocals, model_name=options.model)

    return for_each_file(job, progress, one)


def musicgen_work(job: dict, progress: Progress) -> dict:
    from tasks import model_manager
    from worker.generation import MusicGenOptions, load_musicgen, run_musicgen

    options = MusicGenOptions.from_dict(job["params"].get("options", {}))
    manager = model_manager()
    bundle = manager.acquire(f"musicgen:{options.model}", kind="audio", loader=lambda: load_musicgen(
        options.model, models_dir=_models_dir(), device=manager.device))
    store = services().store
    session_id = job["session_id"]
    melody = store.file_path(session_id, options.melody_file, area="uploads") if options.melody_file else None
    return run_musicgen(results_dir=store.results_dir(session_id), options=options, bundle=bundle,
                        progress=progress, melody_path=melody, output_stem=f"musicgen_{job['job_id'][:12]}")
