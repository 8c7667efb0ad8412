"""HTTP Basic auth for every route but /health; users and hashes from configuration."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections import OrderedDict

from flask import Flask, request
from flask_httpauth import HTTPBasicAuth
from werkzeug.security import check_password_hash

from api.errors import error_response
from users import UserDirectory

PUBLIC_ENDPOINTS = frozenset({"health.health", "static"})
VERIFIED_CACHE_SIZE = 256  # credentials remembered per API process


class VerifiedCredentials:
    """Remembers credentials that passed the slow hash check (scrypt: tens of ms each).

    Keys are HMACs under a per-process random key, so the cache never holds a password
    and a memory dump does not reveal one; a changed AUTH_USERS means a restart anyway.
    """

    def __init__(self, size: int = VERIFIED_CACHE_SIZE):
        self._key = os.urandom(32)
        self._seen: OrderedDict[bytes, str] = OrderedDict()
        self._size = size

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


def init_auth(app: Flask, users: UserDirectory) -> None:
    if users.auth_disabled:
        app.logger.warning("AUTH_DISABLED is set: the API accepts requests without credentials")
        return
    if not users.hashes:
        raise RuntimeError(
            "no API users are configured: set AUTH_USERS=name:hash (make a hash with "
            "`python manage.py hash-password`), or AUTH_DISABLED=1 for local use only")
    auth = HTTPBasicAuth()
    verified = VerifiedCredentials()

    @auth.verify_password
    def verify(username: str, password: str):
        if not username or password is None:
            return None
        if verified.get(username, password):
            return username
        hashed = users.hashes.get(username)
        if hashed and check_password_hash(hashed, password):
            verified.add(username, password)
            return username
        return None

    @auth.error_handler
    def unauthorized(status: int):
        return error_response(status, "unauthorized", "valid HTTP Basic credentials are required")

    guarded = auth.login_required(lambda: None)

    @app.before_request
    def require_login():
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        return guarded()

    app.extensions["auth"] = auth
