"""The Celery app of the service: broker settings, queues, and tasks that run inside the Flask app context.

Flask's `examples/celery` pattern: `celery_init_app(app)` makes a Celery app whose tasks run in
`app.app_context()` and stores it in `app.extensions["celery"]`; tasks.py registers the tasks with
`@shared_task`; the worker runtime (heartbeat, recovery) hooks the worker's signals.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask
from kombu import Exchange, Queue

from . import queue_storage, runtime  # noqa: F401  (runtime connects the worker start/shutdown hooks)

queue_storage.install()  # before any connection: a full disk under valkey must not stop the workers


def celery_config(config: dict[str, Any]) -> dict[str, Any]:
    """Celery settings that make a killed worker's job come back once, never twice at once."""
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
            # A *dead* worker's job is recovered sooner by jobs.runtime (heartbeats).
            "visibility_timeout": int(config["LONGEST_JOB_SECONDS"]) + 600,
            "unacked_restore_interval": int(config["UNACKED_RESTORE_SECONDS"]),
            "unacked_restore_throttle": 1,
            # a list per priority 0-9 (kombu's default is 4 levels: 0, 3, 6, 9): the turns of jobs/fairness.py
            "priority_steps": list(range(10)),
            # each BRPOP's timeout (kombu's brpop_timeout): a worker's stop waits for the one in flight
            "polling_interval": float(config["BROKER_POLL_SECONDS"]),
        },
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_ignore_result": True,  # outcomes live in our job records (jobs/store.py)
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
    # No set_default(): a Celery worker traces tasks through the process' default app, so a second Flask
    # app made in the same process (tests do) must not take the default from the one the worker runs.
    celery_app.flask_app = app  # the worker runtime reads settings and services from it
    app.extensions["celery"] = celery_app
    return celery_app
