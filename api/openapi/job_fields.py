"""The job record's fields about its attempts (jobs/record.py public_view): when the first and the current one
started, and the attempts lost to a dead or stopped worker; and what the job ran (`method`, jobs/method.py)."""

from __future__ import annotations

from .shapes import INT, NUM, STR, TIME, arr, null, obj

METHOD = {**null(STR), "description": (
    "What the job ran, in a few words, from its stored options (`type` is its route's name: a REPET separation is a "
    "`demucs` job, an analysis by SmolLM2 a `gemma_3n` one). The model or algorithm as the request names it: "
    "`htdemucs`, `repet`, `hpss` (demucs), `whisper tiny.en` (whisper), `musicgen-small`, and the LLM's "
    "`model_type` for gemma_3n, lyrics, compare, generate, model_load and library_ask (`smollm2-135m`). A model "
    "asked as `auto` is the one the worker chose once the result names it, `auto` until then; generate and "
    "library_ask without a model (the resident one) are null until then. Null for the types with one method: "
    "features, pitch, probe, model_unload, library_reindex."),
    "examples": ["repet", "whisper tiny.en", "smollm2-135m"]}

STARTED_AT = {**null(TIME), "description": (
    "When the current (last) attempt started; null while queued, a re-queued job included.")}
FIRST_STARTED_AT = {**null(TIME), "description": (
    "When the job's first attempt started, kept when a lost attempt is retried (`started_at` is then the retry's): "
    "the job's wait in the queue is `created_at` to it. Null before the job started, and in records of older "
    "versions.")}
LOST_ATTEMPT = obj(["attempt", "started_at", "lost_at", "reason"], "An attempt that ended without its runner.",
                   attempt={"type": "integer", "minimum": 1}, started_at=null(TIME),
                   last_heard_at={**null(TIME), "description": "Its last event (a progress report, or its start): "
                                  "its runner died after it; null when the job's event log held none."},
                   lost_at={**TIME, "description": "When the loss was found (a re-queue by a live worker's recovery "
                            "or the redelivery's start), not when the process died."},
                   reason={"enum": ["worker_lost", "worker_shut_down"], "description": (
                       "`worker_lost`: its worker or pool process died (counts against JOB_MAX_ATTEMPTS); "
                       "`worker_shut_down`: a graceful stop of its worker outlasted the supervisor's wait (not "
                       "counted).")})
LOST_ATTEMPTS = arr(LOST_ATTEMPT, "The attempts that ended without their runner (a worker or pool process killed, a "
                    "worker shut down under the job), oldest first, each noted when the job was retried; empty "
                    "for a job none of whose attempts was lost.")
JOBS_AHEAD = {**null(INT), "minimum": 0, "description": (
    "Present while the job is queued: how many waiting jobs its queue's workers take before it (0: it is next), "
    "counted in the broker's own lists when the record was read. Jobs queued later may still go ahead of it (each "
    "user's next job takes its turn, see Turns on a shared queue). Null when its message is not among the queue's "
    "first 5,000 waiting messages: a worker has just taken it, or more wait before it.")}
GENERATION = obj(
    ["phase", "prompt_tokens", "tokens_generated", "max_new_tokens", "tokens_per_second", "seconds_left", "seconds"],
    "Present while the job is running a text generation (generate, library_ask, and the LLM part of gemma_3n, "
    "lyrics and compare; each pass of a multi-pass analysis in turn): where it is. `phase` `prompt` while the "
    "prompt is read (one forward pass before the first token: the stage is \"reading the prompt (N tokens)\"), "
    "then `generating` (the stage \"generating\"). Updated with the job's progress, at least once a second while "
    "it moves. Absent before and after the generation, and in records of older versions.",
    phase={"enum": ["prompt", "generating"]},
    prompt_tokens={**INT, "description": "The prompt's length in tokens."},
    tokens_generated={**INT, "description": "Tokens written so far."},
    max_new_tokens={**INT, "description": "The budget: the generation ends at this many tokens at the latest "
                    "(the request's max_new_tokens or max_length, lowered to what the context leaves)."},
    tokens_per_second={**null(NUM), "description": "The rate measured since the first token (the first token's "
                       "own time is the prompt's); null before the second token."},
    seconds_left={**null(NUM), "description": (
        "The time the rest of the budget (max_new_tokens - tokens_generated) takes at the measured rate: an upper "
        "estimate, as the model may end its answer sooner (`finish_reason` stop), so say it \"up to\". Null while "
        "the prompt is read and before the second token.")},
    seconds={**NUM, "description": "Seconds since the generation started (the prompt's reading included)."},
    layers_read={**INT, "description": "While the prompt is read: the model's layers it has gone through."},
    layers={**INT, "description": "While the prompt is read: the layers it goes through (decoder and any audio "
            "or vision encoder)."},
    prompt_seconds_left={**null(NUM), "description": (
        "While the prompt is read: the time its remaining layers take at the pace of those read so far (an "
        "estimate); null before the first layer is done.")},
    cpu_threads={**INT, "description": (
        "On a CPU with TORCH_NUM_THREADS auto: the torch threads the generation runs with now, the usable cores less "
        "this host's running CPU pool jobs, at least 1 (checked at its start and at most once a second after). "
        "Absent on CUDA and with a fixed TORCH_NUM_THREADS.")},
    **{"pass": {**INT, "description": "In an analysis of several passes (a long recording's: one per chunk, then "
                "the merge): which pass this generation is; its time left is this pass's. Absent for one pass."},
       "passes": {**INT, "description": "With `pass`: how many passes the analysis makes."}})
ETA = obj(
    ["seconds_left", "basis"],
    "Present while the job is queued or running: about how long it has left and, queued, about when it starts "
    "(jobs/estimates.py). Measured, never invented: a running job's own rate since its attempt started (`progress`: "
    "elapsed x (1 - progress) / progress, once progress is 5 % and 2 s have passed), else the durations of the last "
    "finished jobs of its type and method nearest its length of audio, less what it has run (`history`). A queued "
    "job's start is its queue's running jobs' time left and its jobs ahead's expected runs shared among the queue's "
    "workers. Estimates, to be said \"about\"; null where there is no basis yet. Absent once the job has ended, and "
    "in records of older versions. Its progress events carry it as it was at each report.",
    seconds_left={**null(NUM), "minimum": 0, "description": (
        "About how many seconds until the job ends (queued: its wait and its own expected run). Null with no basis: "
        "a running job before 5 % and 2 s with no finished job of its kind, or past what its kind takes, or stuck "
        "(no report for over a minute and for longer than its run before it); a queued one with `starts_in` null, "
        "or no finished job of its kind.")},
    starts_in={**null(NUM), "minimum": 0, "description": (
        "Queued only: about how many seconds until a worker starts it. Null where its place is not known "
        "(`jobs_ahead` null), no live worker serves its queue, or a job ahead or running on its queue has no "
        "basis.")},
    basis={**null({"enum": ["progress", "generation", "history", "queue"]}), "description": (
        "What the figures are measured from: `progress`, the job's own rate; `generation`, a text generation reading "
        "its prompt (its share still meanwhile), the time the reading has left from the model's layers read so far "
        "(`generation.prompt_seconds_left`: the answer's tokens come after it); `history`, finished jobs of its type "
        "and method; `queue` (a queued job), its queue's running jobs and the jobs ahead of it. Null when there "
        "is none.")})
ETA["examples"] = [{"seconds_left": 42.5, "basis": "progress"},
                   {"seconds_left": 95.0, "starts_in": 60.2, "basis": "queue"},
                   {"seconds_left": None, "starts_in": None, "basis": None}]

# a pitch job's result, when its run had `include` (worker/music/merged.py)
MERGED_WITH = obj(["stages", "jobs"], "Present when the run had `include` and the upload had an earlier result of the "
                  "same bytes with other stages: its files (not this result) keep those stages, named here with the "
                  "jobs that computed them; the JSON file's `stage_sources` names each stage's job.",
                  stages=arr(STR), jobs=arr(STR))
