"""One user's share of the requests a process holds for long: long polls, event streams and uploads being checked.

A waiting request holds what its process serves requests with: one of the API's gthread threads (8 per process)
or a greenlet and a Redis connection of the events server (EVENTS_MAX_LISTENERS). One user's waits could take them
all: in a security trial 1,100 event streams of one user stopped everyone's live updates for good, and 16 requests
with a body `wait` held every API thread (another user's GET /sessions took 13 s).

A process that serves requests from a pool of threads (the API's gthread workers) also holds at most half of them
(POOL_THREADS // 2) in waits and streams together, whoever's they are: the shares are per user, so a few users' shares
added up to every thread. Streams reach the API only while the events server is down (nginx's backup) or where there
is none (`--events api`, `--front none`), and STREAMS_PER_USER is sized for the events server's greenlets: a 2-second
restart of the events server had sent every reconnecting listener to the API, where 16 streams of one user held all 2
x 8 threads, and another user's GET /sessions timed out for as long as the job ran (up to an hour). Three users' 4
probes each per process (POST /jobs/probe, always on the API) had held every thread too.

Past a user's share (WAITS_PER_USER long polls, STREAMS_PER_USER event streams, each per process) nothing is refused:
a wait is a preference, so the answer comes at once, as it does when the job outlasts the wait (202 with the job,
or its current record), and a stream sends the job's current state and ends, asking the client (EventSource, the
Python client) to reconnect after BUSY_RETRY_MILLISECONDS: such a user's extra streams become a slow poll.

An upload holds its thread while each of its files is decoded to check it (seconds for a long file: ~6.5 s for a
59-minute Ogg alone, ~80 s each with 16 at once on 2 cores). In a process with a pool of threads, uploads being read
and checked take the same half of the threads as the waits, and one user at most UPLOADS_PER_USER of them; past
either the upload is refused before its body is read, 429 `too_many_uploads` with Retry-After (nothing is stored, so
the client sends it again then). A reliability trial's 16 uploads at once of one user's 40 MB hour-long Ogg had held
all 2 x 8 threads: another user's GET /sessions waited 60 s and more, and 4 of the 16 got nginx's 504 after 61 s.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import current_app

from worker.errors import MusicAnalyzerError

BUSY_RETRY_MILLISECONDS = 10_000  # when a stream past the share ends, its client reconnects after this
PROBE_RETRY_AFTER_SECONDS = 5
UPLOAD_RETRY_AFTER_SECONDS = 5


class TooManyWaitsError(MusicAnalyzerError):
    """POST /jobs/probe past the caller's share: its answer *is* the wait, so it cannot come at once instead."""

    code = "too_many_waits"
    http_status = 429

    def __init__(self, per_user: int):
        # either share may be the full one: the user's own, or the process's threads for waiting (thread_slots)
        super().__init__(f"you already hold {per_user} waiting requests here (WAITS_PER_USER), or this server's "
                         f"threads for waiting are all taken; try again in {PROBE_RETRY_AFTER_SECONDS} s")
        self.headers = {"Retry-After": str(PROBE_RETRY_AFTER_SECONDS)}


class TooManyUploadsError(MusicAnalyzerError):
    """An upload past the caller's share of this process's threads (uploads()): refused before its body is read."""

    code = "too_many_uploads"
    http_status = 429

    def __init__(self, per_user: int):
        super().__init__(f"you already have {per_user} uploads being checked here (UPLOADS_PER_USER), or this "
                         f"server's threads for long requests are all taken: nothing was stored; send it again in "
                         f"{UPLOAD_RETRY_AFTER_SECONDS} s")
        self.headers = {"Retry-After": str(UPLOAD_RETRY_AFTER_SECONDS)}


class Shares:
    """What takes and gives back a user's share: `share`, a block that holds one if it may."""

    def take(self, user: str) -> bool:
        raise NotImplementedError

    def give_back(self, user: str) -> None:
        raise NotImplementedError

    @contextmanager
    def share(self, user: str) -> Iterator[bool]:
        """True when `user` may hold one more request here now (given back at the end of the block)."""
        took = self.take(user)
        try:
            yield took
        finally:
            if took:
                self.give_back(user)


class Slots(Shares):
    """Per-user counters of held requests, thread-safe (gevent patches the lock into a cooperative one)."""

    def __init__(self, per_user: int):
        self.per_user = int(per_user)
        self._held: Counter[str] = Counter()
        self._lock = threading.Lock()

    def take(self, user: str) -> bool:
        with self._lock:
            if self._held[user] >= self.per_user:
                return False
            self._held[user] += 1
            return True

    def give_back(self, user: str) -> None:
        with self._lock:
            self._held[user] -= 1
            if self._held[user] <= 0:
                del self._held[user]

    def held(self, user: str) -> int:
        with self._lock:
            return self._held[user]



class HeldStream:
    """A streamed body that gives its slot back when the server closes it (WSGI calls close() whether or not the
    body was ever iterated; a generator's `finally` would not run for one that never started)."""

    def __init__(self, body: Iterator[str], release: Callable[[], None]):
        self._body = body
        self._release: Callable[[], None] | None = release

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        return next(self._body)

    def close(self) -> None:
        release, self._release = self._release, None
        try:
            getattr(self._body, "close", lambda: None)()
        finally:
            if release is not None:
                release()


def _slots(name: str, setting: str) -> Slots:
    found = current_app.extensions.get(name)
    if found is None:  # setdefault: two first requests at once end up with the same counters
        found = current_app.extensions.setdefault(name, Slots(int(current_app.config[setting])))
    return found


def waits() -> ThreadBound:
    """Long polls: GET /jobs/<id>?wait=, Prefer: wait, a body's `wait`, the model routes' wait, /jobs/probe."""
    return ThreadBound(_slots("wait_slots", "WAITS_PER_USER"), thread_slots())


def streams() -> ThreadBound:
    """GET /jobs/<id>/events."""
    return ThreadBound(_slots("stream_slots", "STREAMS_PER_USER"), thread_slots())


def uploads() -> ThreadBound | None:
    """Uploads being read and checked, in a process with a pool of threads (None elsewhere: a thread per request,
    nothing to run out of)."""
    threads = thread_slots()
    return None if threads is None else ThreadBound(_slots("upload_slots", "UPLOADS_PER_USER"), threads)


ALL_USERS = "*"  # the key of the process's own share (thread_slots): all users together


class ThreadBound(Shares):
    """A user's share (Slots) and, in a process that serves each request on a thread of its own, one of the
    process's threads for waiting (thread_slots): both or neither."""

    def __init__(self, users: Slots, threads: Slots | None):
        self.users = users
        self.threads = threads

    def take(self, user: str) -> bool:
        if not self.users.take(user):
            return False
        if self.threads is not None and not self.threads.take(ALL_USERS):
            self.users.give_back(user)
            return False
        return True

    def give_back(self, user: str) -> None:
        self.users.give_back(user)
        if self.threads is not None:
            self.threads.give_back(ALL_USERS)

    def held(self, user: str) -> int:
        return self.users.held(user)



# Threads of this process's request pool, set by the gunicorn gthread worker that serves the API
# (service/api_worker.py: its `--threads`); None in a server with a thread per request and no pool (werkzeug's, as
# `flask run` and the tests' server run it: nothing to run out of) and in the gevent events server (greenlets)
POOL_THREADS: int | None = None


def thread_slots() -> Slots | None:
    """The threads this process may hold in waits and streams, all users together: half of its pool's (the other
    half answer everyone's requests meanwhile); None where it has no pool of threads (POOL_THREADS)."""
    if POOL_THREADS is None:
        return None
    found = current_app.extensions.get("thread_wait_slots")
    if found is None:  # setdefault: two first requests at once end up with the same counters
        found = current_app.extensions.setdefault("thread_wait_slots", Slots(max(1, POOL_THREADS // 2)))
    return found
