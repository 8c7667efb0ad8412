"""Application factory: settings, auth, error handlers, blueprints, Celery.

    gunicorn 'app:create_app()'                      # the API
    celery -A make_celery worker -Q gpu --pool solo  # the GPU worker (see run.py)
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task
from flask import Flask

from config import load_settings
from services import Services

log = logging.getLogger(__name__)


def celery_config(config: dict[str, Any]) -> dict[str, Any]:
    """Celery settings that make a killed worker's job come back once, never twice at once."""
    from kombu import Exchange, Queue

    def queue(name: str) -> Queue:
        # Each queue its own exchange and key: left implicit, Celery binds every queue to the
        # default exchange with the default key, and a re-published GPU job could reach the CPU queue.
        return Queue(name, Exchange(name, type="direct"), routing_key=name)

    return {
        "broker_url": config["REDIS_URL"],
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            # Redelivery of an unacked message only after this long: longer than any job,
            # so a slow job is never handed to a second worker while the first still runs.
            # A *dead* worker's job is recovered sooner by worker.bootstrap (heartbeats).
            "visibility_timeout": int(config["LONGEST_JOB_SECONDS"]) + 600,
            "unacked_restore_interval": int(config["UNACKED_RESTORE_SECONDS"]),
            "unacked_restore_throttle": 1,
        },
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_ignore_result": True,  # outcomes live in our job records (jobs.py)
        "task_queues": (queue(config["GPU_QUEUE"]), queue(config["CPU_QUEUE"])),
        "task_default_queue": config["CPU_QUEUE"],
        "task_publish_retry_policy": {"max_retries": 2, "interval_start": 0,
                                      "interval_step": 0.2, "interval_max": 0.5},
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "worker_enable_remote_control": False,
    }


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(celery_config(app.config))
    celery_app.set_default()
    celery_app.flask_app = app  # the worker bootstrap reads settings and services from it
    app.extensions["celery"] = celery_app
    return celery_app


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    from api import register_blueprints
    from api.auth import init_auth
    from api.errors import register_error_handlers
    from api.uploads import StreamingRequest

    app = Flask(__name__)
    app.request_class = StreamingRequest
    app.config.from_mapping(load_settings())
    if test_config:
        app.config.from_mapping(test_config)
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["MAX_UPLOAD_BYTES"])
    app.json.sort_keys = False

    init_auth(app)  # refuses to start with no users unless AUTH_DISABLED
    app.extensions["music_analyzer"] = Services.from_config(app.config)
    register_error_handlers(app)
    register_blueprints(app)
    celery_init_app(app)
    import tasks  # noqa: F401  (registers the @shared_task functions)
    import worker.bootstrap  # noqa: F401  (heartbeat + recovery hooks for workers)

    return app
