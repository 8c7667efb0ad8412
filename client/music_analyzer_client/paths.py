"""Ids as URL path segments: checked where the server's rule is known (a session's, a job's), quoted otherwise, so
no id is normalised by the front into another path; a filter's names as the comma list the server reads."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote, urlsplit, urlunsplit

from .errors import UsageError

SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # the server's session ids (storage.SESSION_ID_RE)


def session_segment(session_id: str) -> str:
    """A session id as its path segment, refused here when it cannot be one: `download ../../etc` had reached the
    server's front as a path it normalised and answered "the request could not be parsed (bad_request)"."""
    if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
        raise UsageError(f"{session_id!r} is not a session id (1-64 characters of A-Z, a-z, 0-9, '_' or '-')",
                         code="invalid_session_id")
    return session_id


JOB_ID = re.compile(r"[A-Za-z0-9]{1,64}")  # the server's job ids (api/access.py `job`)


def job_segment(job_id: str) -> str:
    """A job id as its path segment, refused here when it cannot be one (`job("../../x")` had reached the front as
    a path it normalised and answered "the request could not be parsed")."""
    if not isinstance(job_id, str) or not JOB_ID.fullmatch(job_id):
        raise UsageError(f"{job_id!r} is not a job id (1-64 letters and digits)", code="invalid_job_id")
    return job_id


TOKEN_ID = re.compile(r"[0-9a-f]{12}")  # the server's API token ids (api_tokens.TOKEN_ID_RE)


def token_segment(token_id: str) -> str:
    """A token id as its path segment, refused here when it cannot be one: `token revoke ../x` had reached the server
    as a path no route serves and got Flask's "The requested URL was not found on the server..." (exit 1)."""
    if not isinstance(token_id, str) or not TOKEN_ID.fullmatch(token_id):
        raise UsageError(f"{token_id!r} is not a token id (12 hex digits, as `music-analyzer token list` shows them)",
                         code="invalid_token_id")
    return token_id


def comma_list(names: Sequence[str] | str | None) -> str:
    """A filter's names as the server reads them: `states="failed"` had been joined letter by letter ("f,a,i,...")."""
    return names if isinstance(names, str) else ",".join(names or [])


def segment(value: str) -> str:
    """An id as one path segment: `cancel x/../<id>` had been normalised to /jobs/<id> and reached that job."""
    return quote(str(value), safe="")


def server_url(url: str) -> str:
    """A server's address without a query or a fragment, which only spoil the paths appended to it: the page's
    address copied from the browser's bar, `http://studio:8000/#session=x&file=y.wav`, had sent every request to
    `/` (the page: "not JSON; is it a Music Analyzer server?"). A path is kept: a front may serve the API under
    one."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # "http://[bad": left to the request's own "not a server URL"
        return url.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")).rstrip("/")


def path_of(url: str) -> str:
    """The path part of a server address ("" for `http://host:8000`)."""
    try:
        return urlsplit(url).path.strip("/")
    except ValueError:
        return ""
