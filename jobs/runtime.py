"""The worker process' runtime: heartbeat, published state, recovery of jobs whose worker died, and the
process' one ModelManager.

Hooked to the Celery worker's start and shutdown signals. Each worker process publishes pid, queues,
heartbeat and current jobs to Redis (workers.WorkerRegistry) every HEARTBEAT_SECONDS; /health and the
job records read that state, so they answer without asking a worker.

Identity: a worker records its jobs and heartbeat under `<node name>#<pid>.<random>`, unique per process
start. A worker restarted under the same node name (`cpu@host`) is a new identity, so its dead
predecessor's heartbeat expires and that worker's jobs are recognised as orphaned.

Recovery: a job left "running" by a worker whose heartbeat has expired (killed, out of memory, machine
lost) is re-published by any live worker, at most JOB_MAX_ATTEMPTS deliveries in all, then marked failed:
within HEARTBEAT_SECONDS x (HEARTBEAT_MISSES + RECOVERY_EVERY_BEATS) of the death (16 s by default). This
does not wait for the broker's visibility timeout, which must stay longer than the longest job.
A job of this worker's own whose pool child died with its message gone (a dropped duplicate delivery acknowledged
it) is re-queued by this worker's main process after a grace of one pass (jobs/recovery.py).

Graceful stops: an operator's stop or restart of a worker (SIGTERM, SIGINT; run.py's stop, systemd,
docker) lets it finish its running jobs, for as long as its supervisor waits before it kills it. A job that outlasts
that wait comes back through recovery as above, but its attempt is not counted as lost: at the stop signal the worker
notes each of its running jobs as handed back (JobStore.hand_back), so two restarts during one long job no longer
fail it `worker_lost` (JOB_MAX_ATTEMPTS 2). A crash (SIGKILL, the OOM killer, a segfault) sends no such signal and
still counts.

Stuck jobs: every beat also stops this worker's jobs that report nothing past LONGEST_JOB_SECONDS, or long after a
cancel was asked (jobs/overdue.py).

Publishing: a job is recorded `queued` and then its Celery message is sent; a process killed in between (an API
restarting under nginx's 502, a recovering worker) would leave a record no worker ever receives, which also
blocks deleting its session. The store keeps such jobs in an "unpublished" set until their publisher says it
sent them; a live worker's recovery publishes those older than UNPUBLISHED_GRACE_BEATS heartbeats (20 s by
default). A message sent twice (the publisher died after sending, before saying so) runs once: a worker starts
only a job still queued.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from celery import signals
from flask import Flask, current_app
from kombu import Exchange, Queue

from models import ModelManager
from redis_server import KEEPS_NOTHING_NOTE, keeps_nothing
from worker.llm.host_load import cores_taken

from . import metrics
from .cache import code_version
from .data_epoch import EmptiedWatch
from .gpu_routing import direct_queue, queue_for, reroute_stranded, usable_models
from .host_pool import HostPool
from .left_copies import remove_left_copies
from .overdue import stop_overdue
from .recovery import RECOVERY_LOCK_SECONDS, recover_running
from .redis_away_log import RedisAwayLog, warn_once
from .services import Services, services
from .submit import publish
from .unacked import holds_message, restore_unstarted
from .warmup import NumbaWarmup, preload_job_modules
from .webhooks import WebhookSender

log = logging.getLogger(__name__)

RECOVERY_EVERY_BEATS = 3
T = TypeVar("T")
UNPUBLISHED_GRACE_BEATS = 10  # heartbeats a queued job's publisher has to send its message (it takes milliseconds)


def new_identity(node: str) -> str:
    """`cpu@host#1234.9f3a1c`: the node name, this process' pid and a random part (pids are reused)."""
    return f"{node}#{os.getpid()}.{secrets.token_hex(3)}"


class WorkerRuntime:
    def __init__(self, flask_app: Flask, *, identity: str, node: str, queues: list[str], concurrency: int = 1,
                 own_queue: str | None = None):
        self.app = flask_app
        self.own_queue = own_queue  # a GPU worker's queue of its own (jobs/gpu_routing.py)
        self.hostname = identity  # what job records and the registry name this worker by
        self.node = node
        self.queues = queues
        self.concurrency = max(int(concurrency or 1), 1)  # its pool's processes: jobs it runs at once (estimates.py)
        self.started_at = time.time()
        self._stop = threading.Event()
        self.stopping = threading.Event()  # a stop began: a job start waiting for the job queue gives up (runner.py)
        self._thread: threading.Thread | None = None
        self._sender: WebhookSender | None = None
        self._broker: Any = None  # the heartbeat thread's broker connection (restore_unstarted)
        self._emptied = EmptiedWatch()  # says once in the log that Redis came back empty (jobs/data_epoch.py)
        self._started = False  # the start's steps in Redis are done (`_first_steps`)
        self._away = RedisAwayLog(log, "heartbeat failed")  # an outage in one line, not a traceback a beat
        self.preload_seconds: float | None = None  # the jobs' modules imported before the pool forked (warmup.py)
        self._suspects: dict[str, str] = {}  # this worker's jobs whose pool child was seen dead (jobs/recovery.py)
        # the CPU queue's jobs (features, pitch) run numba code: compiled into the cache before the first job comes
        self.runs_analysis = flask_app.config["CPU_QUEUE"] in queues  # features and pitch jobs: numba, librosa
        self._warmup = (NumbaWarmup(flask_app.config["DATA_DIR"], nice=int(flask_app.config["NUMBA_WARMUP_NICE"]))
                        if flask_app.config.get("NUMBA_WARMUP") and self.runs_analysis else None)

    def start(self) -> None:
        if self._warmup is not None:  # first: its cache directory goes into the environment the pool children get
            self._warmup.start()
        # The threads start whatever Redis answers: the first steps had come first, and a Redis gone between the first
        # beat and the last step raised out of worker_init, so a worker ran its jobs with no heartbeat for good
        # (others then took its running jobs for orphans). Steps not done here are the heartbeat thread's first work.
        try:
            self._first_steps()
        except Exception as e:  # Redis away: one line, its traceback says nothing more (jobs/redis_away_log.py)
            warn_once(log, "Redis did not answer at the worker's start; its heartbeat retries", e)
        self._thread = threading.Thread(target=self._loop, name="ma-heartbeat", daemon=True)
        self._thread.start()
        svc = self._services()
        if svc.jobs.webhooks is not None:  # deliveries go out from workers, never from a request thread
            self._sender = WebhookSender(svc.jobs.webhooks, blocking_client=svc.blocking_redis,
                                         threads=int(self.app.config.get("WEBHOOK_SENDERS") or 4),
                                         per_owner=int(self.app.config.get("WEBHOOK_SENDS_PER_OWNER") or 1))
            self._sender.start()
        # its own thread: the walk of DATA_DIR must not hold up the heartbeat or the first job
        threading.Thread(target=self._remove_left_copies, name="ma-left-copies", daemon=True).start()
        keep_alive = float(self.app.config.get("MODEL_KEEP_ALIVE") or 0)
        if keep_alive > 0:
            # Its own thread: expiring waits for the model lock while a generation runs,
            # and the heartbeat must never wait behind work.
            threading.Thread(target=self._expire_loop, args=(min(30.0, keep_alive / 4),),
                             name="ma-keep-alive", daemon=True).start()

    def _first_steps(self) -> None:
        """What a start says in Redis (once: `_started` is set when all of it was said)."""
        self.beat()
        self._services().workers.clear_stopped(self.node)  # a stop for good (78) of this node is over
        self._services().cache.publish_code_version()  # the result cache serves what this code would compute
        if keeps_nothing(self.app.config["REDIS_URL"]):
            log.warning("REDIS_URL's %s", KEEPS_NOTHING_NOTE)
        self._started = True

    def _remove_left_copies(self) -> None:
        try:
            remove_left_copies(self.app.config["DATA_DIR"], self._services().jobs,
                               older_than_seconds=float(self.app.config["LONGEST_JOB_SECONDS"])
                               + float(self.app.config["JOB_STOP_GRACE_SECONDS"]))
        except Exception as e:  # Redis away at start: the next start sweeps
            warn_once(log, "could not look for hidden copies that stopped jobs left", e)

    def _expire_loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            manager = self.app.extensions.get("model_manager")
            if manager is None:
                continue
            try:
                expired = manager.expire_idle()
                if expired:
                    log.info("unloaded idle model(s): %s", ", ".join(expired))
            except Exception:
                log.warning("keep-alive expiry failed", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        if self._sender:
            self._sender.stop()
        if self._warmup is not None:
            self._warmup.stop()
        if self._broker is not None and not (self._thread and self._thread.is_alive()):
            self._broker.release()
        try:
            self._services().workers.remove(self.hostname)
        except Exception:  # Redis may be gone at shutdown; the record expires anyway
            log.debug("could not remove worker record", exc_info=True)

    def _services(self) -> Services:
        return self.app.extensions["music_analyzer"]

    def beat(self) -> None:
        svc = self._services()
        warmup = {} if self._warmup is None else {  # for /health: whether the first jobs still compile
            "numba_warmup": {"state": self._warmup.state, "seconds": self._warmup.seconds}}
        # code_version: which analysis code it runs (/health says when the live workers differ: jobs/cache.py)
        svc.workers.beat(self.hostname, node=self.node, pid=os.getpid(), queues=self.queues,
                         concurrency=self.concurrency, started_at=self.started_at, code_version=code_version(),
                         **warmup, **self._routing())
        if self.runs_analysis:  # the leases of its running jobs on this host (TORCH_NUM_THREADS=auto: host_pool.py)
            HostPool(svc.redis, lease_seconds=svc.workers.ttl_seconds).renew(svc.workers.current(self.hostname))
        self._emptied.check(svc.jobs.r)

    def _routing(self) -> dict[str, Any]:
        """A GPU worker's own queue and the models it can load, for the API's choice of a worker (gpu_routing.py)."""
        if self.own_queue is None:
            return {}
        return {"direct_queue": self.own_queue, "models_usable": usable_models(self.app.config)}

    def _loop(self) -> None:
        interval = float(self.app.config["HEARTBEAT_SECONDS"])
        n = 0
        while not self._stop.wait(interval):
            n += 1
            try:
                if self._started:
                    self.beat()
                else:
                    self._first_steps()
                stop_overdue(self._services(), self.hostname,
                             limit_seconds=float(self.app.config["LONGEST_JOB_SECONDS"]),
                             grace_seconds=float(self.app.config["JOB_STOP_GRACE_SECONDS"]))
                if n % RECOVERY_EVERY_BEATS == 0:
                    self.recover_orphans()
                    self.publish_stranded()
                    self.reroute_stranded()
                    self.restore_unstarted(older_than=interval * UNPUBLISHED_GRACE_BEATS)
                self._away.answered()
            except Exception as e:  # Redis down: keep trying, the worker itself reconnects
                self._away.failed(e)

    def recover_orphans(self) -> list[str]:
        """Re-publish (or fail) running jobs whose worker is no longer alive, or whose pool child of this worker died
        with its message gone (jobs/recovery.py)."""
        return recover_running(self._services(), self.hostname, max_attempts=int(self.app.config["JOB_MAX_ATTEMPTS"]),
                               publish=self._republish, suspects=self._suspects, holds_message=self._holds_message)

    def _republish(self, job: dict) -> None:
        with self.app.app_context():  # first in line (priority 0): it had had its turn; to a GPU worker that can run it
            publish(job["task"], job["job_id"], queue_for(job, svc=self._services(), settings=self.app.config,
                                                          rerouting=True))

    def reroute_stranded(self) -> list[str]:
        """Send again the queued jobs waiting in the own queue of a GPU worker that died (jobs/gpu_routing.py)."""
        svc = self._services()

        def send(job: dict, queue: str) -> None:
            with self.app.app_context():
                publish(job["task"], job["job_id"], queue,
                        priority=svc.jobs.active.priority(owner=job["owner"], queue=job["queue"], job_id=job["job_id"]))

        return reroute_stranded(svc, self.app.config, by=self.hostname, lock_seconds=RECOVERY_LOCK_SECONDS,
                                publish=send)

    def _holds_message(self, job: dict) -> bool:
        return self._on_broker(lambda channel: holds_message(channel, job["job_id"], job["queue"]))

    def _on_broker(self, call: Callable[[Any], T]) -> T:
        """`call(channel)` on this thread's own broker connection, kept; made again at the next pass after an error."""
        if self._broker is None:
            self._broker = self.app.extensions["celery"].connection_for_write()
        try:
            return call(self._broker.default_channel)
        except Exception:
            self._broker.release()
            self._broker = None
            raise

    def restore_unstarted(self, *, older_than: float) -> list[str]:
        """Put back on their queues the messages of queued jobs a worker took and never started (jobs/unacked.py)."""
        return self._on_broker(lambda channel: restore_unstarted(channel, self._services().jobs, older_than=older_than))

    def publish_stranded(self) -> list[str]:
        """Publish queued jobs whose publisher stopped before sending their message (see the module's note)."""
        svc = self._services()
        grace = float(self.app.config["HEARTBEAT_SECONDS"]) * UNPUBLISHED_GRACE_BEATS
        published = []
        for job_id in svc.jobs.unpublished_ids(older_than=grace):
            job = svc.jobs.get(job_id)
            if job is None or job["state"] != "queued":
                svc.jobs.published(job_id)  # ended, canceled or expired: nothing to send
                continue
            if not svc.jobs.claim_recovery(job_id, self.hostname, attempt=job["attempts"],
                                           seconds=RECOVERY_LOCK_SECONDS, publish=True):
                continue  # another worker is publishing it
            with self.app.app_context():  # its turn as its publisher would have given it
                publish(job["task"], job_id, queue_for(job, svc=svc, settings=self.app.config),
                        priority=svc.jobs.active.priority(owner=job["owner"], queue=job["queue"], job_id=job_id))
            svc.jobs.published(job_id)
            log.warning("job %s published by recovery: whoever queued it stopped before sending its message", job_id)
            published.append(job_id)
        return published


    def hand_back_running(self) -> list[str]:
        """Note this worker's running jobs as handed back by a graceful stop (see the module's note)."""
        svc = self._services()
        # its list of current jobs, and the running jobs recorded as its own: a job was recorded running (start) a
        # moment before the runner listed it, and a stop in that moment had counted its attempt as lost (the runner
        # now lists it first; the note checks that the job runs on this worker)
        mine = set(svc.workers.current(self.hostname)) | set(svc.jobs.running_ids())
        noted = [job_id for job_id in sorted(mine) if svc.jobs.hand_back(job_id, worker=self.hostname)]
        for job_id in noted:
            log.warning("job %s: this worker is stopping; should it be stopped before the job ends, the job runs "
                        "again and this attempt is not counted as lost", job_id)
        return noted


def model_manager() -> ModelManager:
    """The worker process' ModelManager, made on first use (never at import) and kept in the app."""
    ext = current_app.extensions
    if "model_manager" not in ext:
        board = services().model_status
        worker = ext.get("worker_identity")
        manager = ModelManager(current_app.config, publish=lambda status: board.publish(status, worker=worker),
                               observe=metrics.model_observer(services().redis),
                               # TORCH_NUM_THREADS=auto's count: the cores the pool's jobs, or other programs, take
                               pool_jobs=cores_taken(HostPool(services().redis).running))
        ext["model_manager"] = manager
        board.publish(manager.status(), worker=worker)
    return ext["model_manager"]


_RUNTIMES: dict[str, WorkerRuntime] = {}  # this process' worker runtimes by node name


def _runtime_key(hostname: str) -> str:
    return f"worker_runtime:{hostname}"


@signals.worker_init.connect
def _on_worker_init(sender=None, **kwargs):
    flask_app = getattr(sender.app, "flask_app", None)
    if flask_app is None:
        return
    consume = sender.app.amqp.queues.consume_from or sender.app.amqp.queues
    queues = sorted(consume)
    own = None
    if flask_app.config["GPU_QUEUE"] in queues:  # a GPU worker: also a queue of its own, before its consumer starts
        own = direct_queue(flask_app.config["GPU_QUEUE"], sender.hostname)
        sender.app.amqp.queues.select_add(Queue(own, Exchange(own, type="direct"), routing_key=own))
    identity = new_identity(sender.hostname)
    runtime = WorkerRuntime(flask_app, identity=identity, node=sender.hostname, queues=queues,
                            concurrency=int(getattr(sender, "concurrency", 1) or 1), own_queue=own)
    flask_app.extensions[_runtime_key(sender.hostname)] = runtime
    _RUNTIMES[sender.hostname] = runtime  # the shutdown signal names the node only
    # Tasks record this name on their jobs (prefork pool children inherit it); liveness is judged by
    # its heartbeat. (task.request.hostname is not always the node name, e.g. in embedded workers.)
    flask_app.extensions["worker_identity"] = identity
    runtime.start()
    if runtime.runs_analysis:  # after the warm-up set numba's cache directory (start)
        runtime.preload_seconds = preload_job_modules()


@signals.worker_ready.connect
def _on_worker_ready(sender=None, **kwargs):
    """Said once the worker is ready: Celery's logging is not set up yet at worker_init, which dropped the line."""
    runtime = _RUNTIMES.get(str(getattr(sender, "hostname", "")))
    if runtime is not None and runtime.preload_seconds is not None:
        log.info("analysis modules imported in %.1f s, before the pool started: its processes began with them",
                 runtime.preload_seconds)


def stopping_event(flask_app: Flask, node: str) -> threading.Event | None:
    """The event set once the worker of node name `node` begins to stop (None: no worker runtime in this process)."""
    runtime = flask_app.extensions.get(_runtime_key(node))
    return runtime.stopping if isinstance(runtime, WorkerRuntime) else None


def stop_runtime(flask_app: Flask, node: str) -> None:
    """Stop the heartbeat of the worker with node name `node` and remove its record (idempotent)."""
    runtime = flask_app.extensions.pop(_runtime_key(node), None)
    if _RUNTIMES.get(node) is runtime:
        _RUNTIMES.pop(node, None)
    if runtime:
        runtime.stop()


@signals.worker_shutdown.connect
def _on_worker_shutdown(sender=None, **kwargs):
    flask_app = getattr(sender.app, "flask_app", None)
    if flask_app is not None:
        stop_runtime(flask_app, sender.hostname)


@signals.worker_shutting_down.connect
def _on_worker_shutting_down(sender=None, **kwargs):
    """A stop began (the main process got SIGTERM or SIGINT, or SIGQUIT: Celery's cold shutdown, which ends the running
    jobs at once): hand the running jobs back."""
    runtime = _RUNTIMES.get(str(sender))
    if runtime is None:
        return
    # This runs in a signal handler, in the thread that runs the job in a solo pool, maybe inside one of the job's
    # own Redis calls (holding its connection): the notes are written by a thread of their own, not waited for
    # (the worker goes on finishing its jobs meanwhile).
    def hand_back() -> None:
        runtime.stopping.set()  # here, not in the handler: it may have interrupted a wait on this very event
        try:
            runtime.hand_back_running()
        except Exception as e:  # Redis away: the attempt counts as lost should the stop end it, as before
            warn_once(log, "could not note the running jobs as handed back", e)

    threading.Thread(target=hand_back, name="ma-hand-back", daemon=True).start()
