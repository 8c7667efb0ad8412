"""Response shapes of the service's status routes: GET /api/v2/models/status and GET /health (see schemas.py)."""

from __future__ import annotations

from .shapes import BOOL, INT, NUM, STR, Schema, arr, null, obj


def status_schemas() -> dict[str, Schema]:
    memory = obj([], gpu_allocated_bytes=INT, cpu_rss_bytes=INT, weights_bytes=INT)
    model = obj(["model_type", "downloaded", "loaded"], model_type=STR, name=STR, kind=STR, source=null(STR),
                downloaded=BOOL, loaded=BOOL, modalities=arr(STR), memory=memory, load_seconds=null(NUM),
                last_used=null(STR), attention=null(STR), dtype=null(STR), context_length=null(INT),
                cpu_threads=null(INT), present=null(BOOL))
    health_public = dict(status={"enum": ["ok", "degraded", "unavailable"]}, api={"const": "ok"},
                         redis=obj(["ok"], "`writable: false` (status `degraded`): reachable, but refusing writes, "
                                   "its disk full; no job can be queued until space is freed.",
                                   ok=BOOL, latency_ms=NUM, writable=BOOL, error=STR), workers_alive=INT,
                         queue_depth={"type": "object", "additionalProperties": INT},
                         queues_without_worker=arr(STR),
                         stopped_workers=arr(obj(["queues", "reason", "exit_status", "since"],
                                                 "A worker that stopped for good (exit status 78, status `degraded`) "
                                                 "and has not started since: `reason` `data_dir_mismatch`; queue "
                                                 "kinds, and its `name` with credentials only.", queues=arr(STR),
                                                 reason=STR, exit_status=INT, since=NUM, name=STR)),
                         disk=obj(["ok"], "Space in the data directory (`ok: false`: under MIN_FREE_DISK_MB, "
                                  "uploads refused; only `ok` when it cannot be read).",
                                  ok=BOOL, free_bytes=INT, total_bytes=INT, min_free_bytes=INT),
                         library=obj(["ok"], "With credentials only. The library's database: `backend` sqlite | "
                                     "postgresql, `fulltext` fts5 | tsvector, `vectors` `pgvector (hnsw)` (the "
                                     "database searches, `pgvector` its version) | `exact (numpy)` "
                                     "(`pgvector_available` on PostgreSQL: whether the server could have it), "
                                     "`fuzzy`, `embedding_model`; `ok: false` when it is unreachable.", ok=BOOL,
                                     backend=STR, fulltext=STR,
                                     vectors={"enum": ["pgvector (hnsw)", "exact (numpy)"]}, pgvector=STR,
                                     fuzzy=STR, embedding_model=STR, pgvector_available=BOOL, vector_columns=BOOL,
                                     error=STR),
                         mixed_code_versions={"type": "boolean", "description": "The live workers run different "
                                              "analysis code (each worker's `code_version` with credentials; null "
                                              "for a version before it): status `degraded`."},
                         workers=arr({"type": "object"}, "With credentials only: pid, queues, heartbeat age, jobs, "
                                     "`code_version`."))
    return {
        "ModelsStatus": obj(["current_model", "models", "queue_depth"], current_model=null(STR), device=null(STR),
                            models=arr(model), audio_models=arr({"type": "object"}), queue_depth=INT,
                            gpu_workers=arr(obj(["worker", "current_model", "models_usable"], worker=null(STR),
                                                current_model=null(STR), models_usable=arr(STR)),
                                            "Each live GPU worker: its resident LLM and the models whose weights it "
                                            "can load; `worker` (its node name) to admins only."),
                            auto={"type": "object", "additionalProperties": obj(
                                ["model", "reason"], "Per task (analyze, transcribe, lyrics, compare, ask, "
                                "generate): the model `auto` picks here now, as the job routes check it before "
                                "queueing (weights on this server, no image; the worker may pass over one too large "
                                "for its device), or null where none qualifies (those routes then refuse `auto`, "
                                "409); `reason` says why, naming the models passed over.",
                                model=null(STR), reason=STR)}),
        "Health": obj(["status", "api", "redis"], "Without credentials: no worker names, hosts, pids or jobs.",
                      **health_public),
    }
