"""API tokens: make one (with your password), list yours, revoke one. The tokens themselves: api_tokens.py."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, current_app, jsonify, request

from api import access
from api.context import known_keys, known_params
from api.process import json_body
from api_tokens import TOKEN_ID_RE, TokenStore
from jobs.services import services
from worker.errors import MusicAnalyzerError, NotFoundError

bp = Blueprint("tokens", __name__)

CREATE_KEYS = frozenset({"name"})


class PasswordRequiredError(MusicAnalyzerError):
    """A token asked to make a token: one leaked token must not be able to make others that outlive its revoking."""

    code = "password_required"
    http_status = 403


def store() -> TokenStore:
    found: TokenStore = current_app.extensions["api_tokens"]
    return found


@bp.post("/tokens")
def create_token():
    """A new token for the caller (201, the token in the answer once: it is kept nowhere)."""
    known_params(frozenset())
    body = json_body()
    known_keys(body, CREATE_KEYS, "POST /tokens")
    header = request.authorization
    if not services().users.auth_disabled and (header is None or header.type != "basic"):
        raise PasswordRequiredError("a token is made with your password (HTTP Basic), not with another token")
    info, token = store().create(access.caller().name, body.get("name"))
    response = jsonify({**asdict(info), "token": token})
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/tokens")
def list_tokens():
    """The caller's tokens (an admin's `?owner=`: that user's), without their secrets."""
    known_params(frozenset({"owner"}))
    return jsonify({"tokens": [asdict(t) for t in store().tokens_of(access.acting_owner())]})


@bp.delete("/tokens/<token_id>")
def revoke_token(token_id: str):
    """Revoke one of the caller's tokens (an admin's `?owner=`: that user's): refused from the next request on."""
    known_params(frozenset({"owner"}))
    owner = access.acting_owner()
    if not TOKEN_ID_RE.match(token_id) or not store().revoke(owner, token_id):
        raise NotFoundError(f"no token {token_id[:64]!r} of yours", code="token_not_found")
    return jsonify({"id": token_id, "revoked": True})
