"""Result shapes of the model jobs (load, unload, generate, MusicGen): split from schemas.py, which assembles them
into the spec's components with the rest."""

from __future__ import annotations

from .shapes import BOOL, FILES, INT, NUM, STOPPED, STR, Schema, arr, null, obj, ref


def musicgen_result() -> Schema:
    return obj(["prompt", "model", "seed", "sample_rate", "duration_seconds", "files"], "A generated piece.",
               prompt=STR, model=STR, settings={"type": "object"}, seed=INT, sample_rate=INT, channels=INT,
               duration_seconds=NUM, passes=INT, generate_seconds=NUM, total_seconds=NUM, files=FILES)


WORKER = {**null(STR), "description": "To admins: the GPU worker that ran it (`gpu@box1`); null for others."}


def generate_result() -> Schema:
    return obj(["response", "model", "tokens_generated", "seconds", "tokens_per_second"], "Generated text.",
               response=STR, model=STR, tokens_generated=INT, seconds=NUM, tokens_per_second=null(NUM),
               prompt_tokens=INT, finish_reason={"enum": STOPPED, "description": (
                   "canceled: the text written before a cancel, kept as the canceled job's result; time_limit: "
                   "before its time limit, the `result` of the job failed `time_limit_exceeded`.")},
               audio_input=BOOL, model_load_seconds=null(NUM), worker=WORKER,
               warnings=arr(STR, "E.g. max_length lowered to what the model's context leaves after the prompt; a "
                            "reply stuck in a loop (\"the answer repeats itself ...\")."))


def load_result() -> Schema:
    return obj(["model_type", "loaded"], "The resident LLM after the load.", model_type=STR, loaded=BOOL,
               already_loaded=BOOL, device=STR, load_seconds=null(NUM), weights_bytes=INT,
               unloaded=null(ref("ModelUnloadResult")), worker=WORKER)


def unload_result() -> Schema:
    return obj(["unloaded", "weights_bytes"], "What was unloaded (null: nothing was resident).",
               unloaded=null(STR), weights_bytes=INT, gpu_bytes_freed=INT, cpu_rss_bytes_freed=INT, seconds=NUM,
               worker=WORKER, holder_stopped={**BOOL, "description": (
                   "true: an unload sent again because its worker died; the model went with it, none was unloaded.")},
               unloads=arr(obj(["job_id", "state", "unloaded"], job_id=STR, state=STR, unloaded=null(STR),
                               worker=null(STR)), "With several GPU workers holding a model: each one's unload job "
                                                  "(the answer's own first)."))
