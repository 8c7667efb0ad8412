"""Celery entry point: `celery -A make_celery worker ...` (see run.py for the queues and pools).

Settings that cannot work (a malformed value, no API users) stop the worker with one line saying which, and exit
status 78 (EX_CONFIG), which deploy/systemd's unit does not restart: under `Restart=always` a stranger's worker had
written a 77-line import traceback every few seconds, the cause on its last line. So does a Redis database claimed for
another data directory (jobs/redis_claim.py): the worker would take that service's jobs.
"""

import gc
import os
import sys

from celery import signals

from config import EX_CONFIG, SettingsError, env_file

try:
    from app import create_app

    flask_app = create_app()
except SettingsError as e:
    print(f"music-analyzer worker not started: {e} (settings: the environment and {env_file().absolute()}); "
          f"fix it and start it again (exit status {EX_CONFIG}: its systemd unit does not restart it)",
          file=sys.stderr, flush=True)
    raise SystemExit(EX_CONFIG) from None


def _refusal() -> str | None:
    from jobs.redis_claim import CLAIM_ENV, worker_refusal

    svc = flask_app.extensions["music_analyzer"]
    return worker_refusal(client=svc.redis, url=flask_app.config["REDIS_URL"], data_dir_id=svc.sessions.identity,
                          data_dir=svc.sessions.root, claim_if_free=os.environ.get(CLAIM_ENV) == "1")


if (refused := _refusal()) is not None:
    print(f"music-analyzer worker not started: {refused}; exit status {EX_CONFIG}: its systemd unit does not restart "
          "it", file=sys.stderr, flush=True)
    raise SystemExit(EX_CONFIG)


def _unclaimed() -> str | None:
    from jobs.redis_claim import CLAIM_ENV, unclaimed_note

    if os.environ.get(CLAIM_ENV) == "1":  # run.py's workers: they claim the database themselves
        return None
    return unclaimed_note(client=flask_app.extensions["music_analyzer"].redis, url=flask_app.config["REDIS_URL"])


if (note := _unclaimed()) is not None:  # a warning, not a refusal: compose claims nothing
    print(f"music-analyzer worker: {note}", file=sys.stderr, flush=True)

celery_app = flask_app.extensions["celery"]


@signals.worker_shutdown.connect
def _freeze_at_exit(sender=None, **kwargs) -> None:
    """This `celery worker` process is ending (its runtime stopped: jobs/runtime.py, connected before this): its objects
    need no collection. The interpreter's garbage collections at exit over a CPU worker's ~2,400 modules (numba,
    librosa, matplotlib) had cost ~0.5 s of CPU at each stop, the suite's ~150 included; what `atexit` runs, and each
    object's refcount finalizers, still run."""
    gc.freeze()
