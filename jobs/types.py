"""The job types: for each, its Celery task name, its queue, its options class and its work function.

Task names never change (queued messages must survive an upgrade). Work functions are named by
dotted path and imported on first use, so the API (which only submits) and a CPU worker (which
never runs a GPU job) do not import torch for job types they never run. Options classes are the
light `worker/<capability>/options.py` ones, imported here directly.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from library.options import AskOptions, ReindexOptions
from worker.audio_llm.options import Gemma3NOptions
from worker.compare.options import CompareOptions
from worker.features.options import FeaturesOptions
from worker.llm.options import GenerateOptions, ModelLoadOptions
from worker.lyrics.options import LyricsOptions
from worker.music.options import PitchOptions
from worker.musicgen.options import MusicGenOptions
from worker.options import JobOptions, NoOptions
from worker.separation.options import SeparationOptions
from worker.transcription.options import WhisperOptions

if TYPE_CHECKING:
    from worker.progress import Progress

    from .runner import JobContext

Work = Callable[["JobContext", "Progress"], dict]


@dataclass(frozen=True)
class JobType:
    name: str
    task: str  # the Celery task name (a string messages carry)
    queue_setting: str  # the config key of its queue: CPU_QUEUE or GPU_QUEUE
    options: type[JobOptions]
    work_path: str  # "module:function" of the work function
    uses_files: bool  # whether the job reads the session's uploads

    def work(self) -> Work:
        module, _, function = self.work_path.partition(":")
        return getattr(importlib.import_module(module), function)


def _types(*rows: tuple[str, str, type[JobOptions], str, bool]) -> dict[str, JobType]:
    return {name: JobType(name, f"music_analyzer.{name}", queue, options, work, files)
            for name, queue, options, work, files in rows}


JOB_TYPES: dict[str, JobType] = _types(
    ("features", "CPU_QUEUE", FeaturesOptions, "jobs.work.analysis:features", True),
    ("pitch", "CPU_QUEUE", PitchOptions, "jobs.work.analysis:pitch", True),
    ("probe", "CPU_QUEUE", NoOptions, "jobs.work.probe:probe", False),
    ("model_load", "GPU_QUEUE", ModelLoadOptions, "jobs.work.llm:model_load", False),
    ("model_unload", "GPU_QUEUE", NoOptions, "jobs.work.llm:model_unload", False),
    ("generate", "GPU_QUEUE", GenerateOptions, "jobs.work.llm:generate", False),
    ("gemma_3n", "GPU_QUEUE", Gemma3NOptions, "jobs.work.llm:gemma_3n", True),
    # the DSP methods are sent to the CPU queue (submit's `queue`): they need no model
    ("demucs", "GPU_QUEUE", SeparationOptions, "jobs.work.separation:demucs", True),
    ("whisper", "GPU_QUEUE", WhisperOptions, "jobs.work.transcription:whisper", True),
    ("musicgen", "GPU_QUEUE", MusicGenOptions, "jobs.work.musicgen:musicgen", False),
    ("lyrics", "GPU_QUEUE", LyricsOptions, "jobs.work.lyrics:lyrics", True),
    ("compare", "GPU_QUEUE", CompareOptions, "jobs.work.compare:compare", True),
    ("library_ask", "GPU_QUEUE", AskOptions, "jobs.work.library:library_ask", False),
    ("library_reindex", "CPU_QUEUE", ReindexOptions, "jobs.work.library:library_reindex", False),
)


def stored_params(job_type: str, params: dict[str, Any]) -> dict[str, Any]:
    """`{"files", "batch", "options", "asked_by"}` from a job record, also from records queued by older versions
    (`asked_by`: the caller who acted for the owner, else None).

    Before this layout, params came in four shapes: pitch `{file, include}`; gemma_3n flattened options
    with `file`; demucs/whisper/musicgen `{file, options}`; generate/model_load the options themselves.
    """
    if "options" in params and set(params) <= {"files", "batch", "options", "file", "asked_by"}:
        options = params["options"]
    else:
        options = {k: v for k, v in params.items() if k != "file"}
    if "files" in params:
        return {"files": list(params["files"]), "batch": bool(params.get("batch")), "options": options,
                "asked_by": params.get("asked_by")}
    name = params.get("file")
    # an old record without a file meant "every upload at run time"
    return {"files": [name] if name else [], "batch": not name, "options": options}
