"""The job layer: the only place that knows Celery and the Redis key layout.

    keys.py        every Redis key, defined once
    store.py       job records: create, read, list, state transitions, progress, cancel, wait
    workers.py     worker heartbeats and current jobs, queue depths, the published model status
    services.py    the objects a request or a task needs (Redis clients, stores), built once per app
    types.py       job types: task name, queue, options class, work function
    submit.py      a queued record, then the Celery message
    runner.py      one job inside a worker: start, rebuild options, work, record the outcome
    work/          one work function per job type, calling the pipelines of worker/
    runtime.py     the worker process: heartbeat, recovery of a dead worker's jobs, its ModelManager
    celery_app.py  the Celery app (Flask's celery_init_app pattern)
"""
