"""MusicAnalyzer: a typed client of the Music Analyzer HTTP API (sessions, uploads, jobs, downloads, models;
the library as `ma.library`, library.py).

    from music_analyzer_client import MusicAnalyzer
    ma = MusicAnalyzer("http://127.0.0.1:8000", "alice", "correct-horse-42")
    sid = ma.create_session()
    name = ma.upload(sid, "song.mp3")["name"]
    job = ma.wait(ma.start_job("pitch", sid, file=name)["job_id"])
    print(job["result"]["key"])

Every failure raises MusicAnalyzerError with the server's code, message, status and request id.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import requests

from ._version import __version__
from .errors import MusicAnalyzerError, UsageError, error_from, job_error, network_reason
from .following import AWAY_PATIENCE_SECONDS, follow, wait_job
from .library import LibraryAPI
from .multipart import send_file
from .paths import comma_list, job_segment, segment, server_url, session_segment
from .records import Job, JobEvent, Session, SessionSummary, Upload
from .tokens import TokensAPI
from .webhooks import webhook_keys

RETRY_AFTER_MAX_SECONDS = 10.0  # a longer Retry-After (a login throttle's minutes) is not waited out here
CONNECT_TIMEOUT = 10.0  # seconds to open a connection: a server that does not answer in this is unreachable


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


class MusicAnalyzer:
    """One server and one user. Safe to share between threads: each thread gets its own requests.Session
    (connection pool), since requests does not promise that one Session may be used by several at once."""

    def __init__(self, base_url: str, user: str | None = None, password: str | None = None, *,
                 timeout: float = 60.0, retries: int = 5, owner: str | None = None, token: str | None = None) -> None:
        """`owner`: act on that user's data, as `?owner=` on every request (an admin's pick of a user; anyone
        else naming another user gets 404 owner_not_found). None: the caller's own. `token`: an API token
        (`ma.tokens.create`), sent as `Authorization: Bearer` in place of a user and password."""
        self.base_url = server_url(base_url)  # without a query or fragment (paths.server_url)
        self.user = user
        self.owner = owner or None
        self.timeout = timeout
        self.retries = retries
        self._auth = (user, password or "") if user is not None and not token else None
        self._token = token or None
        self._local = threading.local()
        # every thread's requests.Session, for close(); weak: a thread that ends takes its Session with it
        self._sessions: weakref.WeakSet[requests.Session] = weakref.WeakSet()
        self._sessions_lock = threading.Lock()
        self._answered = False  # the server has answered once: from then on, no answer is a blip worth a retry

    @property
    def library(self) -> LibraryAPI:
        """The user's library: tracks and their measurements, search, similar tracks, questions (library.py)."""
        return LibraryAPI(self)

    @property
    def tokens(self) -> TokensAPI:  # your API tokens: create (with the password), list, revoke (tokens.py)
        return TokensAPI(self)

    @property
    def http(self) -> requests.Session:
        """This thread's requests.Session, with the credentials and the User-Agent set."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.auth = self._auth
            if self._token is not None:
                session.headers["Authorization"] = f"Bearer {self._token}"
            session.headers["User-Agent"] = f"music-analyzer-client/{__version__}"
            with self._sessions_lock:
                self._sessions.add(session)
        return cast(requests.Session, session)

    def close(self) -> None:
        """Close the connections every thread opened (the pools of their requests.Sessions). The client stays
        usable: a later request opens a new connection. `with MusicAnalyzer(...) as ma:` calls it at the end (it
        had no close and no `with`: a thread pool's connections stayed open until its threads ended)."""
        with self._sessions_lock:
            sessions = list(self._sessions)
        for session in sessions:
            session.close()

    def __enter__(self) -> MusicAnalyzer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # ---- transport -------------------------------------------------------------------------------------------

    def request(self, method: str, path: str, *, retry: bool = False, timeout: float | None = None,
                stream: bool = False, accept: tuple[int, ...] = (), **kwargs: Any) -> requests.Response:
        """One request; a non-2xx answer (but those in `accept`) or no answer raises MusicAnalyzerError.

        `retry`: on no answer, a 502, 503 or 504, or 409 idempotency_key_in_use, try again (up to `retries`
        times, waiting 0.5, 1, 2, 4, 8 s or the answer's Retry-After, at most RETRY_AFTER_MAX_SECONDS). Only for
        requests that are safe to repeat: reads, and job-creating requests carrying an Idempotency-Key (the
        server answers a repeat with the job the first one made). A server that has never answered this client
        is not retried: a wrong URL or a stopped server is reported at once.
        """
        attempt = 0
        while True:
            try:
                return self._send(method, path, timeout=timeout, stream=stream, accept=accept, **kwargs)
            except MusicAnalyzerError as e:
                # nginx answers 502 while the API restarts (2-4 s after a crash), with Retry-After: 2
                transient = (e.unreachable and self._answered) or e.server_unavailable \
                    or e.code == "idempotency_key_in_use"
                if not retry or not transient or attempt >= self.retries:
                    raise
                backoff = 0.5 * 2 ** attempt
                time.sleep(min(max(backoff, e.retry_after or 0.0), RETRY_AFTER_MAX_SECONDS))
                attempt += 1

    def _send(self, method: str, path: str, *, timeout: float | None, stream: bool, accept: tuple[int, ...] = (),
              **kwargs: Any) -> requests.Response:
        url = self.base_url + path
        if self.owner is not None:  # every route that reads data by owner takes it; the others ignore it
            kwargs["params"] = {**(kwargs.get("params") or {}), "owner": self.owner}
        try:
            response = self.http.request(method, url, timeout=(CONNECT_TIMEOUT, timeout or self.timeout),
                                         stream=stream, **kwargs)
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                requests.exceptions.MissingSchema) as e:  # "127.0.0.1:8000" reads as the scheme "127.0.0.1"
            raise MusicAnalyzerError(f"{self.base_url!r} is not a server URL like http://host:8000 (it needs "
                                     "http:// or https://)", code="invalid_url") from e
        except requests.RequestException as e:
            raise MusicAnalyzerError(f"cannot reach the server at {self.base_url}: {network_reason(e)}",
                                     code="unreachable") from e
        self._answered = True
        if response.status_code >= 400 and response.status_code not in accept:
            raise error_from(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as e:
            raise MusicAnalyzerError(f"the server's answer to {method} {path} is not JSON; is {self.base_url} "
                                     f"a Music Analyzer server?", code="not_json", status=response.status_code,
                                     request_id=response.headers.get("X-Request-ID")) from e

    # ---- health and sessions ---------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """GET /health: with credentials, the full view (workers); wrong credentials raise (401). A job queue
        down is a 503 with the same document (`status` "unavailable", `redis.error`): returned, not raised.
        Retried as every read is (a front's 502 while the API restarts)."""
        response = self.request("GET", "/health", accept=(503,), retry=True)
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 503 and not (isinstance(body, dict) and "status" in body):
            raise error_from(response)  # a front's 503 (the API itself away), not the health document
        if not isinstance(body, dict):
            raise MusicAnalyzerError(f"the server's answer to GET /health is not JSON; is {self.base_url} a Music "
                                     "Analyzer server?", code="not_json", status=response.status_code)
        return body

    def create_session(self, session_id: str | None = None) -> str:
        body = {"session_id": session_id} if session_id else None
        return str(self._json("POST", "/sessions", json=body)["session_id"])

    def sessions(self, *, page_size: int = 100, order: str | None = None) -> Iterator[SessionSummary]:
        """Every session, page by page: by id, or the last modified first (order="modified"; old servers: 400)."""
        cursor: str | None = None
        while True:
            params = {k: v for k, v in (("limit", page_size), ("order", order), ("cursor", cursor)) if v is not None}
            page = self._json("GET", "/sessions", params=params, retry=True)
            yield from page["sessions"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def storage(self) -> dict[str, Any] | None:
        """What the caller's sessions hold: {used_bytes, quota_bytes (None: no quota)[, reserved_bytes]}; None: old."""
        found = self._json("GET", "/sessions", params={"limit": 1}, retry=True).get("storage")
        return found if isinstance(found, dict) else None

    def session(self, session_id: str) -> Session:
        return cast(Session, self._json("GET", f"/sessions/{session_segment(session_id)}", retry=True))

    def delete_session(self, session_id: str) -> None:
        self.request("DELETE", f"/sessions/{session_segment(session_id)}")

    def delete_file(self, session_id: str, name: str, *, area: str | None = None) -> dict[str, Any]:
        """DELETE one upload or result (`area` "uploads" or "results"; default: the upload, else the result);
        an upload a queued or running job reads raises (409 file_in_use)."""
        params = {"area": area} if area else None
        path = f"/sessions/{session_segment(session_id)}/files/{segment(name)}"
        return cast(dict[str, Any], self._json("DELETE", path, params=params))

    def upload(self, session_id: str, path: str | os.PathLike[str], *, name: str | None = None) -> Upload:
        """Upload one file (to a new session id: made); the name it got. Sent again only if not stored: send_file."""
        path = Path(path)
        try:
            fh = path.open("rb")
        except OSError as e:  # as every failure is (a missing file had been a bare FileNotFoundError)
            raise UsageError(f"{path}: {e.strerror or e}", code="file_unreadable") from e
        with fh:  # streamed from the file (multipart.py): requests' `files=` had held all of it in memory
            body = send_file(lambda part: self._json(
                "POST", f"/sessions/{session_segment(session_id)}/files", data=part,
                headers={"Content-Type": part.content_type}, timeout=max(self.timeout, 600.0)),
                fh, name or path.name, retries=self.retries, most_wait=RETRY_AFTER_MAX_SECONDS)
        return cast(Upload, body["files"][0])

    def download(self, session_id: str, name: str, dest: str | os.PathLike[str], *,
                 area: str | None = None) -> Path:
        """Write a session's file to `dest` (a temp file renamed at the end: never half a file)."""
        dest = Path(dest)
        params = {"area": area} if area else None
        part = dest.with_name(f".{dest.name}.part")
        with self.request("GET", f"/sessions/{session_segment(session_id)}/files/{segment(name)}", params=params,
                          stream=True, retry=True) as response:
            with part.open("wb") as fh:
                try:
                    for chunk in response.iter_content(1 << 16):
                        fh.write(chunk)
                except requests.RequestException as e:
                    part.unlink(missing_ok=True)
                    raise MusicAnalyzerError(f"the download of {name} broke off: {network_reason(e)}",
                                             code="unreachable") from e
        part.replace(dest)
        return dest

    # ---- jobs ------------------------------------------------------------------------------------------------

    def start_job(self, job_type: str, session_id: str, *, file: str | None = None,
                  options: dict[str, Any] | None = None, idempotency_key: str | None = None,
                  webhook: str | None = None, files: Sequence[str] | None = None,
                  webhook_events: Sequence[str] | None = None) -> Job:
        """POST /process/<job_type>/<session_id>: a job on `file`, one batch job on the uploads `files` lists (for
        compare: the tracks compared), or, with neither, one batch job on every upload. `webhook`: a URL the job's
        start, progress and end are POSTed to; `webhook_events`: only these of webhooks.EVENTS (default all).

        The request carries an Idempotency-Key (a new one unless given) and is retried on a network error or
        a 503 with the same key, so one call never starts two jobs. Returns at least job_id, state, type.
        """
        body: dict[str, Any] = dict(options or {})
        if file is not None:
            body["file"] = file
        if files is not None:
            body["files"] = list(files)
        body.update(webhook_keys(webhook, webhook_events))
        headers = {"Idempotency-Key": idempotency_key or new_idempotency_key()}
        return cast(Job, self._json("POST", f"/process/{segment(job_type)}/{session_segment(session_id)}", json=body,
                                    headers=headers, retry=True))

    def job(self, job_id: str, *, wait: float | None = None, retry: bool = True) -> Job:
        """GET /jobs/<id>; with `wait` a long poll: the answer comes when the job ends or after `wait` s."""
        params = {"wait": wait} if wait else None
        return cast(Job, self._json("GET", f"/jobs/{job_segment(job_id)}", params=params, retry=retry,
                                    timeout=(wait or 0) + self.timeout))

    def wait(self, job_id: str, *, timeout: float | None = None, check: bool = False,
             on_event: Callable[[JobEvent], None] | None = None, stop: threading.Event | None = None) -> Job:
        """The job once it has ended (or as it is after `timeout` seconds), by long polls. `check`: a job that
        failed or was canceled raises JobFailed, and one still running at `timeout` raises WaitTimeout (else both
        are returned as they are: check record["state"]). `on_event` hears a "progress" event whenever its state,
        stage or progress changed (asked every PROGRESS_POLL_SECONDS), then "done" with the record.

        `stop`: an Event another thread sets to end the wait (an app shutting down): within STOP_POLL_SECONDS of
        it, the record as it then is comes back, or WaitTimeout with code "wait_stopped" under `check`.
        The server away for a while (502, 503, 504, or no answer from a server that has answered this client:
        its API or Redis restarting) is waited out, asking again every AWAY_RETRY_SECONDS, until `timeout`, or
        for AWAY_PATIENCE_SECONDS without one; then its error is raised. A wait had given up after the retries
        of one request (about 16 s) on a restart the job ran through."""
        return wait_job(self, job_id, timeout=timeout, check=check, on_event=on_event, stop=stop)

    def events(self, job_id: str, *, last_event_id: str | None = None, poll_seconds: float = 2.0,
               away_seconds: float = AWAY_PATIENCE_SECONDS) -> Iterator[JobEvent]:
        """The job's events until it ends, the last one ("done") carrying its full record: the server's event
        stream (GET /jobs/<id>/events, resumed with Last-Event-ID when the connection drops, and through a server
        away for up to `away_seconds`, as wait() rides through it), or, from a server without that route, long
        polls every `poll_seconds`."""
        return follow(self, job_id, last_event_id=last_event_id, poll_seconds=poll_seconds,
                      away_seconds=away_seconds)

    def cancel(self, job_id: str) -> dict[str, Any]:
        """DELETE /jobs/<id>: {"state": "canceled"} for a queued job, "cancel_requested" for a running one;
        a finished job raises (409 job_finished)."""
        return cast(dict[str, Any], self._json("DELETE", f"/jobs/{job_segment(job_id)}"))

    def jobs_page(self, *, session_id: str | None = None, types: Sequence[str] | str | None = None,
                  states: Sequence[str] | str | None = None, since: str | float | None = None, limit: int = 100,
                  cursor: str | None = None) -> tuple[list[Job], str | None]:
        """One page of GET /jobs (newest first) and the cursor of the next page (None on the last). `types` and
        `states`: a list, or one name (or a comma list) as a string."""
        params: dict[str, Any] = {"limit": limit}
        for key, value in (("session_id", session_id), ("type", comma_list(types)),
                           ("state", comma_list(states)), ("since", since), ("cursor", cursor)):
            if value:
                params[key] = value
        page = self._json("GET", "/jobs", params=params, retry=True)
        return page["jobs"], page.get("next_cursor")

    def jobs(self, *, page_size: int = 100, **filters: Any) -> Iterator[Job]:
        """Every job matching the filters of jobs_page, newest first, page after page."""
        cursor: str | None = None
        while True:
            jobs, cursor = self.jobs_page(limit=page_size, cursor=cursor, **filters)
            yield from jobs
            if not cursor:
                return

    def webhook_secret(self) -> str:
        """Your webhook key (`whsec_...`): your jobs' deliveries are signed with it (`verify_webhook`)."""
        return str(self._json("GET", "/webhooks/secret", retry=True)["secret"])

    def check_webhook(self, webhook: str, webhook_events: Sequence[str] | None = None) -> dict[str, Any]:
        """{webhook, events} a job-creating request would take (else its 400, raised); nothing is sent to it."""
        return cast(dict[str, Any], self._json("POST", "/webhooks/check", json=webhook_keys(webhook, webhook_events)))

    # ---- models ----------------------------------------------------------------------------------------------

    def model_status(self) -> dict[str, Any]:
        return cast(dict[str, Any], self._json("GET", "/api/v2/models/status", retry=True))

    # `webhook`, `webhook_events` on each job-creating call: as start_job's
    def load_model(self, model_type: str, *, wait: float = 60.0, on_queued: Callable[[str], None] | None = None,
                   on_event: Callable[[JobEvent], None] | None = None, webhook: str | None = None,
                   webhook_events: Sequence[str] | None = None) -> dict[str, Any]:
        return self.command("/api/v2/models/load", {"model_type": model_type, **webhook_keys(webhook, webhook_events)},
                            wait, on_queued, on_event)

    def unload_model(self, *, wait: float = 60.0, on_queued: Callable[[str], None] | None = None,
                     on_event: Callable[[JobEvent], None] | None = None, webhook: str | None = None,
                     webhook_events: Sequence[str] | None = None) -> dict[str, Any]:
        return self.command("/api/v2/models/unload", webhook_keys(webhook, webhook_events), wait, on_queued, on_event)

    def generate(self, prompt: str, *, wait: float = 60.0, on_queued: Callable[[str], None] | None = None,
                 on_event: Callable[[JobEvent], None] | None = None, webhook: str | None = None,
                 webhook_events: Sequence[str] | None = None, **options: Any) -> dict[str, Any]:
        """Text from the resident LLM: {"response", "model", "tokens_generated", "seconds", ...}. A generation
        canceled or time-limited midway raises with its text so far in `details["result"]` (and `details["job_id"]`)."""
        return self.command("/api/v2/models/generate", {"prompt": prompt, **options,
                                                        **webhook_keys(webhook, webhook_events)},
                            wait, on_queued, on_event)

    def command(self, path: str, body: dict[str, Any], wait: float, on_queued: Callable[[str], None] | None = None,
                on_event: Callable[[JobEvent], None] | None = None) -> dict[str, Any]:
        """POST a command that is a job and return its result, with its `job_id`. The model routes and /library/ask
        answer 200 with the result and `job_id` within `wait` seconds, else 202 with the job: then the job is followed
        to its end. A failed
        job raises with the worker's error. With `on_queued`, the server answers at once and `on_queued(job_id)`
        hears the job before it is followed (`wait` is not used): a caller that is interrupted knows which job to
        cancel. With `on_event`, the job is followed by its event stream from the start (`wait` is not used either)
        and `on_event` hears each event (its state, stage and progress) as it comes, ending with "done" as `wait()`
        tells it (a job that ended within the wait had told nothing); a question the request answers itself (200
        at once) is told as one "done" event whose record holds its state and result."""
        hold = 0.0 if on_queued is not None or on_event is not None else wait
        headers = {"Idempotency-Key": new_idempotency_key()}
        response = self.request("POST", path, json={**body, "wait": hold}, headers=headers, retry=True,
                                timeout=hold + self.timeout)
        answer = cast(dict[str, Any], response.json())
        if response.status_code != 202:
            if on_event is not None and response.status_code == 200:
                # as a record: its `job_id` beside the result (older servers sent none)
                result = {k: v for k, v in answer.items() if k != "job_id"}
                done: dict[str, Any] = {"state": "succeeded", "result": result}
                if "job_id" in answer:
                    done["job_id"] = answer["job_id"]
                on_event({"event": "done", "id": None, "data": done})
            return answer
        if on_queued is not None:
            on_queued(answer["job_id"])
        job = self.wait(answer["job_id"]) if on_event is None else self._heard(answer["job_id"], on_event)
        if job["state"] != "succeeded":
            raise job_error(job)
        # with `job_id`, as the server's 200 has it: the same answer however long the job took
        return {**(job.get("result") or {}), "job_id": answer["job_id"]}

    def _heard(self, job_id: str, on_event: Callable[[JobEvent], None]) -> Job:
        """The job's record once it has ended, each of its events told to `on_event` on the way."""
        for event in self.events(job_id):
            on_event(event)
            if event["event"] == "done":
                return cast(Job, event["data"])
        return self.job(job_id)  # (the stream always ends with `done`)

