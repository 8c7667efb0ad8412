"""Every Redis key the service uses, defined once. Nothing outside the jobs package builds a key.

    ma:job:<id>               hash: one job record (see store.py)
    ma:jobs                   zset: every job id by creation time
    ma:user:<owner>:jobs      zset: an owner's job ids by creation time (GET /jobs of an ordinary user)
    ma:user:<owner>:session-jobs:<sid>   zset: the job ids of an owner's session by creation time
    ma:user:<owner>:active:<queue>       zset: an owner's queued or running job ids on one queue by creation
                              time (their turn on the queue and their cap: jobs/fairness.py)
    ma:session-jobs:<sid>     zset: the same for an owner-less session of an older version (until migrated)
    ma:owner-migration        string: one process is giving owner-less data to the admin (short lock)
    ma:login-failures:addr:<address>     counter of failed logins from one client address in the window
    ma:login-failures:user:<sha256>      counter of failed logins to one username (hashed) in the window
    ma:login-failures:pair:<sha256>:<address>   counter of one username's failed logins from one address
                              (each counter expires with its window; a password attempt is counted while its hash
                              is checked and given back if right: jobs/throttle.py)
    ma:login-known:<sha256>:<address>    string: that username (hashed) logged in from that address (30 days)
    ma:running                set: ids of running jobs (what recovery scans)
    ma:unpublished            zset: ids of queued jobs whose Celery message may not have been sent yet, by the
                              time they were queued (what recovery scans for a process that died in between)
    ma:cancel:<id>            string: a cancel was requested
    ma:job-writes:<id>:<n>    set: the files (relative to DATA_DIR) attempt n of a running job wrote
                              (jobs/job_writes.py)
    ma:events:<id>            pub/sub channel: {state, progress, stage} on every change of the job
    ma:event-log:<id>         stream: the same events with ids, for SSE resume (capped; once the job has
                              ended only its final event is kept)
    ma:recover:<id>           string: a worker is recovering this job (short lock)
    ma:worker:<name>          hash: a worker's heartbeat, pid, queues (expires when it stops beating)
    ma:workers                set: worker names
    ma:worker-jobs:<name>     set: job ids a worker runs now
    ma:models:status          string: the GPU worker's model status JSON
    ma:gpu-routed             hash: job id -> the GPU worker (node) whose own queue it was sent to (gpu_routing.py)
    ma:host-cpu-jobs:<host>   zset: the CPU pool's running job ids on one host (its hostname) by the time their lease
                              ends; what TORCH_NUM_THREADS=auto leaves to them (jobs/host_pool.py)
    ma:cache:<owner>:<type>:<options>:<audio sha256>  string: a cached result (jobs/cache.py)
    ma:user:<owner>:session-cache:<sid>  set: the cache keys recorded for a session (deleted with it)
    ma:idem:<owner>:<sha256>  string: what an Idempotency-Key of that owner names (pending, or its job)
    ma:idem:<owner>:<sha256>:request   string: "METHOD /path" of the request that took that key (its 422 names it)
    ma:webhook:<delivery>     hash: one webhook delivery (job, event, url, body, attempts, status codes)
    ma:job-webhooks:<id>      list: a job's delivery ids, in order
    ma:webhooks:due           zset: delivery ids by the time they are due (a claim pushes it to a lease end)
    ma:webhooks:wake          list: a token per new delivery, for senders blocked in BLPOP
    ma:webhook-progress:<id>  string: a progress event was queued recently (rate limit per job)
    ma:webhook-owner:<owner>:turns     zset: tokens of the owner's deliveries being sent, by lease end (Redis's
                              clock, ms; at most WEBHOOK_SENDS_PER_OWNER over every process: webhook_owner_limit.py)
    ma:webhook-owner:<owner>:put-off   zset: the owner's deliveries put off for a turn, by the due time that set
    ma:disk-reserved:<data dir id>       zset: the jobs accepted on that data directory (DATA_DIR/.data-dir-id) and
                              not yet finished whose results are counted against its free space, by the time each
                              reservation was made (jobs/disk_reservations.py)
    ma:disk-reserve-lock:<data dir id>   string: held while a job is checked against that disk and recorded (short)
    ma:data-dir               hash: the data directory this database serves (id, path, host, since): run.py's claim
                              at start, which workers of another data directory refuse (jobs/redis_claim.py)
    ma:metrics:<name>         hash: one counter's or histogram's counts from every process on every machine, a
                              field per label values and part (jobs/cluster_metrics.py); never per job
    <queue>, <queue>\x06\x16<p>   kombu's message lists of a Celery queue (and its priority sub-lists)
"""

from __future__ import annotations

PREFIX = "ma:"
JOBS = f"{PREFIX}jobs"
RUNNING = f"{PREFIX}running"
UNPUBLISHED = f"{PREFIX}unpublished"
DATA_SINCE = f"{PREFIX}data-since"  # when Redis's current data began (jobs/data_epoch.py)
WORKERS = f"{PREFIX}workers"
DATA_DIR_CLAIM = f"{PREFIX}data-dir"  # hash: the data directory this database serves (jobs/redis_claim.py)
STOPPED_WORKERS = f"{PREFIX}stopped-workers"  # hash: node name -> why it stopped for good (jobs/workers.py)
CODE_VERSION = f"{PREFIX}code-version"  # the analysis code the last worker to start runs (jobs/cache.py)
MODEL_STATUS = f"{PREFIX}models:status_by_worker"  # hash: worker identity -> its ModelManager status
GPU_ROUTED = f"{PREFIX}gpu-routed"  # hash: job id -> "<node>|<time>", the GPU worker whose own queue it was sent to
WEBHOOKS_DUE = f"{PREFIX}webhooks:due"
WEBHOOKS_WAKE = f"{PREFIX}webhooks:wake"
OWNER_MIGRATION_LOCK = f"{PREFIX}owner-migration"
LEGACY_SESSION_JOBS_PATTERN = f"{PREFIX}session-jobs:*"  # SCAN pattern of the owner-less session indexes
KOMBU_PRIORITY_SEP = "\x06\x16"  # kombu's Redis transport names a queue's priority lists <queue><sep><p>
KOMBU_PRIORITIES = range(1, 10)


def job(job_id: str) -> str:
    return f"{PREFIX}job:{job_id}"


def metric(name: str) -> str:
    return f"{PREFIX}metrics:{name}"


def owner_jobs(owner: str) -> str:
    return f"{PREFIX}user:{owner}:jobs"


def owner_active(owner: str, queue: str) -> str:
    return f"{PREFIX}user:{owner}:active:{queue}"


def owner_quota_lock(owner: str) -> str:
    """Held while a job of the owner is checked against USER_STORAGE_MB and recorded (api/quota.py)."""
    return f"{PREFIX}user:{owner}:quota-lock"


def disk_reserved(data_dir_id: str) -> str:
    """Keyed by the data directory's id: one disk's reservations, whatever the machine (each test's folder its own)."""
    return f"{PREFIX}disk-reserved:{data_dir_id}"


def disk_reserve_lock(data_dir_id: str) -> str:
    """Held while a job is checked against the data directory's free space and recorded (api/disk_room.py)."""
    return f"{PREFIX}disk-reserve-lock:{data_dir_id}"


def session_jobs(owner: str, session_id: str) -> str:
    """Index of one owner's session; owner '' (owner-less, older versions) keeps the old key."""
    if not owner:
        return f"{PREFIX}session-jobs:{session_id}"
    return f"{PREFIX}user:{owner}:session-jobs:{session_id}"


def session_deleting(owner: str, session_id: str) -> str:
    """Set while DELETE /sessions/<id> runs: a job created meanwhile is withdrawn (jobs/erasure.py)."""
    return f"{PREFIX}user:{owner}:session-deleting:{session_id}"


def upload_deleting(owner: str, session_id: str, name: str) -> str:
    """Set while DELETE /sessions/<id>/files/<name> removes an upload (jobs/erasure.py)."""
    return f"{PREFIX}user:{owner}:upload-deleting:{session_id}:{name}"


def login_failures_by_address(address: str) -> str:
    return f"{PREFIX}login-failures:addr:{address}"


def login_failures_by_user(username_digest: str) -> str:
    """Keyed by a digest: a username is whatever a client sent, of any length."""
    return f"{PREFIX}login-failures:user:{username_digest}"


def login_failures_by_pair(username_digest: str, address: str) -> str:
    """A name's failures from one address: what holds back a name from an address it has logged in from."""
    return f"{PREFIX}login-failures:pair:{username_digest}:{address}"


def login_known(username_digest: str, address: str) -> str:
    return f"{PREFIX}login-known:{username_digest}:{address}"


def cancel(job_id: str) -> str:
    return f"{PREFIX}cancel:{job_id}"


def job_writes(job_id: str, attempt: int) -> str:
    return f"{PREFIX}job-writes:{job_id}:{int(attempt)}"


def events(job_id: str) -> str:
    return f"{PREFIX}events:{job_id}"


def event_log(job_id: str) -> str:
    return f"{PREFIX}event-log:{job_id}"


def recover_lock(job_id: str, attempt: int, *, publish: bool = False) -> str:
    """Held by the one worker recovering attempt `attempt` of a job whose worker died (or publishing it, left
    unpublished at that attempt). Per attempt: a lock per job outlived its recovery, and the job's next attempt,
    ended by another restart soon after, waited it out (~30 s) before anyone recovered it."""
    return f"{PREFIX}recover:{job_id}:{'publish' if publish else 'run'}:{attempt}"


def durations(kind: str) -> str:
    """A list: the last finished jobs of a kind, `[audio seconds, seconds]` each (jobs/estimates.py)."""
    return f"{PREFIX}durations:{kind}"


def worker(name: str) -> str:
    return f"{PREFIX}worker:{name}"


def host_cpu_jobs(host: str) -> str:
    return f"{PREFIX}host-cpu-jobs:{host}"


def worker_jobs(name: str) -> str:
    return f"{PREFIX}worker-jobs:{name}"


def worker_job_pids(name: str) -> str:
    """job id -> pid of the process running it (a prefork pool child, or the solo worker itself)."""
    return f"{PREFIX}worker-job-pids:{name}"


def queue_lists(queue: str) -> list[str]:
    """The Redis lists holding a Celery queue's waiting messages."""
    return [queue] + [f"{queue}{KOMBU_PRIORITY_SEP}{p}" for p in KOMBU_PRIORITIES]


def webhook(delivery_id: str) -> str:
    return f"{PREFIX}webhook:{delivery_id}"


def job_webhooks(job_id: str) -> str:
    return f"{PREFIX}job-webhooks:{job_id}"


def webhook_progress(job_id: str) -> str:
    return f"{PREFIX}webhook-progress:{job_id}"


def webhook_owner_turns(owner: str) -> str:
    return f"{PREFIX}webhook-owner:{owner}:turns"


def webhook_owner_put_off(owner: str) -> str:
    return f"{PREFIX}webhook-owner:{owner}:put-off"


def text(value: bytes | str) -> str:
    """A Redis reply as text (the clients here return bytes)."""
    return value.decode() if isinstance(value, bytes) else value


def idempotency(owner: str, key_digest: str, *, caller: str | None = None) -> str:
    """An Idempotency-Key of the caller's, for the owner's data: an admin acting for `owner` has keys of their own
    (the owner's own keys keep the name they always had)."""
    if caller is None or caller == owner:
        return f"{PREFIX}idem:{owner}:{key_digest}"
    return f"{PREFIX}idem:{owner}:by:{caller}:{key_digest}"


def idempotency_request(key_name: str) -> str:
    """Beside an Idempotency-Key's key (`idempotency`), the method and path of the request that took it: a key of
    its own, not in the key's value, whose format API processes of the version before (several API hosts, upgraded
    one by one) still read."""
    return f"{key_name}:request"


def session_cache(owner: str, session_id: str) -> str:
    return f"{PREFIX}user:{owner}:session-cache:{session_id}"


def result_cache(owner: str, job_type: str, options_digest: str, audio_digest: str) -> str:
    return f"{PREFIX}cache:{owner}:{job_type}:{options_digest}:{audio_digest}"
