"""HTTP Basic auth, or an API token (`Authorization: Bearer ma_...`, api_tokens.py), for every route but /health,
/openapi.json and /docs; users and hashes from configuration.

/health answers without credentials (a short public view); with credentials they are checked like on
any route and the full view is shown. Failed logins are counted per client address and per username
(jobs/throttle.py): past LOGIN_FAILURE_LIMIT in LOGIN_FAILURE_WINDOW_SECONDS, 429 with Retry-After.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, request
from flask_httpauth import HTTPBasicAuth, HTTPTokenAuth, MultiAuth
from werkzeug.security import check_password_hash

from api.errors import error_response
from api_tokens import TOKEN_RE, TokenStore
from config import NoUsersError
from jobs.services import services
from users import UserDirectory, UsersFile
from worker.errors import MusicAnalyzerError

log = logging.getLogger(__name__)

# open to anyone: monitors, and the description and docs page of the API
PUBLIC_ENDPOINTS = frozenset({"health.health", "docs.openapi_json", "docs.docs_page", "docs.asset"})
VERIFIED_CACHE_SIZE = 256  # credentials remembered per API process


class VerifiedCredentials:
    """Remembers credentials that passed the slow hash check (scrypt: tens of ms each).

    Keys are HMACs under a per-process random key, so the cache never holds a password
    and a memory dump does not reveal one. PasswordCheck empties it when the users change (users.UsersFile).
    """

    def __init__(self, size: int = VERIFIED_CACHE_SIZE):
        self._key = os.urandom(32)
        self._seen: OrderedDict[bytes, str] = OrderedDict()
        self._size = size
        self._guard = threading.Lock()
        self._checking: dict[bytes, tuple[threading.Lock, int]] = {}  # credentials being checked -> (lock, waiters)

    def _digest(self, username: str, password: str) -> bytes:
        return hmac.new(self._key, f"{username}\0{password}".encode(), hashlib.sha256).digest()

    def get(self, username: str, password: str) -> str | None:
        d = self._digest(username, password)
        if d in self._seen:
            self._seen.move_to_end(d)
            return self._seen[d]
        return None

    def add(self, username: str, password: str) -> None:
        self._seen[self._digest(username, password)] = username
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)

    @contextmanager
    def one_check(self, username: str, password: str) -> Iterator[None]:
        """One check at a time of the same credentials in this process: the page's burst of requests after a restart
        (each counted as an attempt while its hash is checked) is one attempt, the rest finding it remembered."""
        d = self._digest(username, password)
        with self._guard:
            lock, users = self._checking.get(d, (threading.Lock(), 0))
            self._checking[d] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._checking[d]
                if users == 1:
                    del self._checking[d]
                else:
                    self._checking[d] = (lock, users - 1)


class TooManyAttemptsError(MusicAnalyzerError):
    """Too many failed logins from this client or for this name: 429 with Retry-After."""

    code = "too_many_attempts"
    http_status = 429

    def __init__(self, retry_after_seconds: int):
        super().__init__(f"too many failed logins; try again in {retry_after_seconds} s")
        self.headers = {"Retry-After": str(retry_after_seconds)}


def client_address() -> str:
    """The peer's address (the client's behind TRUSTED_PROXY_HOPS proxies: app.py wraps ProxyFix)."""
    return request.remote_addr or "unknown"


def init_auth(app: Flask, source: UsersFile) -> None:
    users = source.current()
    if users.auth_disabled:
        app.logger.warning("AUTH_DISABLED is set: the API accepts requests without credentials")
        return
    if not users.hashes:
        raise NoUsersError(
            "no API users are configured: set AUTH_USERS=name:hash (make a hash with "
            "`python manage.py hash-password`), or AUTH_DISABLED=1 for local use only")
    basic = HTTPBasicAuth()
    basic.verify_password(PasswordCheck(source))
    bearer = HTTPTokenAuth(scheme="Bearer")
    bearer.verify_token(TokenCheck(source, app.extensions["api_tokens"]))

    @basic.error_handler
    def unauthorized(status: int):
        return error_response(status, "unauthorized", "valid HTTP Basic credentials are required")

    @bearer.error_handler
    def token_refused(status: int):
        return error_response(status, "unauthorized", "valid HTTP Basic credentials or a valid API token are "
                                                      "required (this token is unknown or was revoked)")

    auth = MultiAuth(basic, bearer)  # Basic unless the request names Bearer; no credentials: Basic's 401
    guarded = auth.login_required(lambda: None)

    public = PUBLIC_ENDPOINTS | ({"metrics.scrape"} if app.config.get("METRICS_PUBLIC") else set())

    @app.before_request
    def require_login():
        if request.endpoint in public:
            # open without credentials; credentials sent are checked (and throttled) like anywhere else
            auth_header = request.authorization
            return guarded() if auth_header is not None and auth_header.type in ("basic", "bearer") else None
        return guarded()

    app.extensions["auth"] = auth


class PasswordCheck:
    """flask-httpauth's verify_password: the same work for every name, failures counted, throttled.

    An unknown name is checked against a dummy hash of the users' method and cost, so it takes as long
    as a known name with a wrong password. Credentials that passed once are remembered (a guess can
    never be among them), so a logged-in client is neither slowed nor throttled.
    """

    def __init__(self, source: UsersFile):
        self.source = source
        users = source.current()
        self._state = (users, users.dummy_hash(), VerifiedCredentials())

    def _current(self) -> tuple[UserDirectory, str, VerifiedCredentials]:
        """The users now, with their dummy hash and what was accepted under them: when the users changed, what this
        process had accepted is checked again (a removed user's or an old password's credentials had passed)."""
        users = self.source.current()
        state = self._state
        if users is not state[0]:  # one swap of the whole state: a check under the old users fills the old cache
            state = self._state = (users, users.dummy_hash(), VerifiedCredentials())
        return state

    def __call__(self, username: str, password: str) -> str | None:
        if not username or password is None:
            return None
        users, dummy, verified = self._current()
        if verified.get(username, password):
            return username
        with verified.one_check(username, password):
            if verified.get(username, password):  # the same credentials, checked meanwhile by another thread
                return username
            address = client_address()
            shown = repr(username[:64])
            # the attempt is counted before its hash is checked, in one step with the check of the counts, so
            # guesses sent together to any API processes cannot all pass the check (jobs/throttle.py)
            _refuse(services().logins.claim(address=address, username=username), shown, address)
            hashed = users.hashes.get(username)
            if check_password_hash(hashed or dummy, password) and hashed is not None:
                verified.add(username, password)
                services().logins.passed(address=address, username=username)
                return username
            log.warning("login failed for %s from %s", shown, address)
            return None


class TokenCheck:
    """flask-httpauth's verify_token: an API token of a user who is still configured; failures counted and
    throttled per client address like wrong passwords (a token is 256 random bits: the throttle is for the log
    and for fail2ban, not for the odds)."""

    def __init__(self, source: UsersFile, store: TokenStore):
        self.source = source
        self.store = store
        self.known: OrderedDict[tuple[str, str], None] = OrderedDict()  # (label, address) marked known here

    def _known(self, label: str, address: str) -> None:
        """A token that passed is a known login from this address, as a password that passed is: a flood of wrong
        logins from a shared NAT address does not lock it out. Marked once per process, not at every request."""
        if (label, address) in self.known:
            return
        services().logins.succeeded(address=address, username=label)
        self.known[(label, address)] = None
        while len(self.known) > VERIFIED_CACHE_SIZE:
            self.known.popitem(last=False)

    def __call__(self, token: str) -> str | None:
        if not token:
            return None
        found = TOKEN_RE.match(token)
        label = f"token {found.group(1)}" if found else "a malformed token"  # the id only: never the secret
        address = client_address()
        _refuse(services().logins.retry_after(address=address, username=label), label, address)
        user = self.store.user_of(token)
        if user is not None and user in self.source.current().hashes:  # a user removed: their tokens end too
            self._known(label, address)
            return user
        services().logins.failed(address=address, username=label)
        log.warning("login failed for %s from %s", label, address)
        return None


def _refuse(wait: int, shown: str, address: str) -> None:
    """429 when the throttle says to wait (a name, or a token's label, from `address`); said in the log for the
    operator (and fail2ban): a stranger found neither failures nor 429s there."""
    if wait:
        log.warning("login refused for %s from %s: too many failed logins (retry in %d s)", shown, address, wait)
        raise TooManyAttemptsError(wait)
