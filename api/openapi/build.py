"""Build the OpenAPI 3.1 document of an app from its url_map, the declarations and the options classes.

Built once per app and kept (the settings decide which model names are valid, so it is per app, and it
does not change while the app runs).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from flask import Flask
from werkzeug.routing import Rule

from api.context import REQUEST_ID_HEADER
from api.web import UNSAFE_METHODS

from .catalog import ERROR_CODES
from .declarations import PATH_PARAMS, ROUTE_KEY_SCHEMAS, UPLOAD_BODY, Op, Param
from .operations import OPERATIONS
from .schemas import component_schemas
from .shapes import ref

IGNORED_METHODS = frozenset({"HEAD", "OPTIONS"})  # Flask answers them for every GET / every route itself
_RULE_PARAM = re.compile(r"<(?:[a-zA-Z_]+(?:\([^)]*\))?:)?([a-zA-Z_][a-zA-Z0-9_]*)>")
STATUS_TEXT = {400: "Bad request", 401: "No or wrong credentials",
               403: "Forbidden", 404: "Not found", 409: "Conflict",
               413: "Body too large", 415: "Unsupported media type", 422: "Unprocessable",
               429: "Too many failed logins", 500: "Internal error", 503: "Redis unavailable",
               507: "Out of memory or disk space"}


class UndescribedRouteError(RuntimeError):
    """A route of the app has no declaration in api/openapi/operations.py."""


def route_keys(app: Flask) -> Iterator[tuple[str, Rule]]:
    """("METHOD rule", rule) of every route the app serves (HEAD and OPTIONS aside)."""
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            yield f"{method} {rule.rule}", rule


def openapi_path(rule: str) -> str:
    """Flask's `/jobs/<job_id>` or `/x/<path:p>` as OpenAPI's `/jobs/{job_id}`."""
    return _RULE_PARAM.sub(r"{\1}", rule)


def spec_for(app: Flask) -> dict[str, Any]:
    """The app's description, built on first use and kept with the app."""
    spec = app.extensions.get("openapi_spec")
    if spec is None:
        spec = app.extensions["openapi_spec"] = build_spec(app)
    return spec


def build_spec(app: Flask) -> dict[str, Any]:
    served = dict(route_keys(app))
    missing = sorted(set(served) - set(OPERATIONS))
    if missing:
        raise UndescribedRouteError(f"routes without a declaration in api/openapi/operations.py: {missing}")
    paths: dict[str, dict[str, Any]] = {}
    for key, op in OPERATIONS.items():
        if key not in served:
            continue  # a declaration of a route this app does not have (tests/test_openapi.py flags it)
        method, rule = key.split(" ", 1)
        endpoint = served[key].endpoint
        paths.setdefault(openapi_path(rule), {})[method.lower()] = operation(op, method, rule, endpoint, app.config)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Music Analyzer API", "version": str(app.config.get("API_VERSION", "1.0.0")),
                 "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "security": [{"basicAuth": []}, {"bearerAuth": []}],
        "tags": [{"name": n, "description": d} for n, d in TAGS.items()],
        "paths": paths,
        "components": components(),
    }


def operation(op: Op, method: str, rule: str, endpoint: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    params = [_param(PATH_PARAMS[name]) for name in _RULE_PARAM.findall(rule)]
    params += [_param(p) for p in op.query]
    params += [{"$ref": f"#/components/parameters/{h}"} for h in (REQUEST_ID_HEADER, *op.headers)]
    out: dict[str, Any] = {"operationId": endpoint.replace(".", "_"), "summary": op.summary, "tags": [op.tag],
                           "parameters": params, "responses": responses(op, method)}
    if op.description:
        out["description"] = op.description
    if op.public:
        out["security"] = [{}, {"basicAuth": []}, {"bearerAuth": []}]  # open; credentials sent are checked
    body = request_body(op, settings)
    if body is not None:
        out["requestBody"] = body
    return out


def _param(p: Param) -> dict[str, Any]:
    return {"name": p.name, "in": p.where, "required": p.required or p.where == "path", "description": p.description,
            "schema": p.schema}


def request_body(op: Op, settings: Mapping[str, Any]) -> dict[str, Any] | None:
    if op.multipart:
        return {"required": True, "content": {"multipart/form-data": {"schema": UPLOAD_BODY}}}
    schema = op.body
    if op.options is not None:
        schema = op.options.json_schema(settings=settings)
        schema["properties"].update({k: op.key_schemas.get(k, ROUTE_KEY_SCHEMAS[k]) for k in op.body_keys})
        if op.required_keys:
            schema["required"] = [*schema.get("required", []), *op.required_keys]
        if "webhook_events_filter" in op.body_keys:  # events without a webhook to send them to: 400 invalid_webhook
            schema["dependentRequired"] = {"webhook_events_filter": ["webhook"]}
        if op.example is not None:
            schema["examples"] = [dict(op.example)]
    if schema is None:
        return None
    # no body means every option at its default: optional, unless an option must be named (a 400 without it)
    return {"required": bool(schema.get("required")), "content": {"application/json": {"schema": schema}}}


def responses(op: Op, method: str = "GET") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, ok in op.ok.items():
        headers = {h: {"$ref": f"#/components/headers/{h}"} for h in (REQUEST_ID_HEADER, *ok.headers)}
        answer: dict[str, Any] = {"description": ok.description, "headers": headers}
        if ok.media and (ok.schema is not None or ok.media != "application/json"):  # "": no body (304)
            answer["content"] = {ok.media: {"schema": ok.schema if ok.schema is not None else {}}}
        out[str(status)] = answer
    errors = dict(op.errors)
    if any(p.name == "owner" for p in op.query):
        errors.setdefault(404, "`owner` names a user whose data the caller may not see.")
    if not op.public:
        errors.setdefault(401, "No or wrong HTTP Basic credentials.")
    else:
        errors.setdefault(401, "Credentials were sent and are wrong (none are needed).")
    errors.setdefault(429, "Too many failed logins from this client or for this name.")
    if method.upper() in UNSAFE_METHODS:
        errors.setdefault(403, "A browser sent it from a page of another site (api/web.py).")
    errors.setdefault(500, "An unexpected error (`internal_error`: quote X-Request-ID).")
    if op.redis:
        errors.setdefault(503, "Redis is not reachable; retry shortly.")
        if not op.public:
            errors.setdefault(507, "The disk of the data directory or of the job queue is full; nothing was stored.")
    for status in sorted(errors):
        headers = {REQUEST_ID_HEADER: {"$ref": f"#/components/headers/{REQUEST_ID_HEADER}"}}
        if status == 429:
            headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
        codes = [c for c, (s, _) in ERROR_CODES.items() if s == status]
        out.setdefault(str(status), {
            "description": f"{STATUS_TEXT.get(status, 'Error')}: {errors[status]}"
                           + (f" Codes: {', '.join(f'`{c}`' for c in codes)}." if codes else ""),
            "headers": headers, "content": {"application/json": {"schema": ref("Error")}}})
    return out


def components() -> dict[str, Any]:
    return {
        "schemas": component_schemas(),
        "securitySchemes": {"basicAuth": {"type": "http", "scheme": "basic",
                                          "description": "Users of AUTH_USERS (`python manage.py add-user`)."},
                            "bearerAuth": {"type": "http", "scheme": "bearer",
                                           "description": "An API token of POST /tokens (`ma_<id>_<secret>`)."}},
        "parameters": {
            REQUEST_ID_HEADER: {"name": REQUEST_ID_HEADER, "in": "header", "required": False,
                                "description": "Your id for this request (8-64 of A-Za-z0-9._-); echoed, logged "
                                               "and stored in the jobs it creates. Else one is made.",
                                "schema": {"type": "string", "examples": ["a1b2c3d4e5f6"]}},
            "Idempotency-Key": {"name": "Idempotency-Key", "in": "header", "required": False,
                                "description": "The same key from the same user within 24 h returns the same job; "
                                               "with another body: 422; while the first is handled: 409. One "
                                               "header, no comma (two headers arrive joined by one): else 400.",
                                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^,]*$"}},
            "Prefer": {"name": "Prefer", "in": "header", "required": False,
                       "description": "`wait=N` (RFC 7240): answer 200 with the finished job if it ends within N "
                                      "seconds (capped by JOB_WAIT_MAX_SECONDS), else 202 as without it.",
                       "schema": {"type": "string", "examples": ["wait=10"]}},
            "Last-Event-ID": {"name": "Last-Event-ID", "in": "header", "required": False,
                              "description": "Resume the stream after this event.", "schema": {"type": "string"}},
            "Range": {"name": "Range", "in": "header", "required": False,
                      "description": "One byte range, `bytes=a-b` or `bytes=a-` (a player seeking).",
                      "schema": {"type": "string", "examples": ["bytes=0-1023"]}},
            "If-None-Match": {"name": "If-None-Match", "in": "header", "required": False,
                              "description": "The `ETag` of a copy held: 304 while it is current.",
                              "schema": {"type": "string"}},
        },
        "headers": {
            REQUEST_ID_HEADER: {"description": "The request's id (yours when acceptable): quote it in reports.",
                                "required": True, "schema": {"type": "string", "pattern": r"^[A-Za-z0-9._-]{8,64}$"}},
            "Retry-After": {"description": "Seconds until logins are accepted again.", "required": True,
                            "schema": {"type": "string", "pattern": "^[0-9]+$"}},
            "Preference-Applied": {"description": "`wait=N`: the Prefer header was honoured.", "required": True,
                                   "schema": {"type": "string", "examples": ["wait=10"]}},
            "ETag": {"description": "The file's version, for `If-None-Match`.", "required": True,
                     "schema": {"type": "string"}},
            "X-File-Area": {"description": "`uploads` or `results`: where the file was found (without `?area=` an "
                                           "upload wins over a result of the same name).", "required": True,
                            "schema": {"type": "string", "enum": ["uploads", "results"]}},
            "Content-Range": {"description": "`bytes a-b/size`: the range sent and the file's length.",
                              "required": True, "schema": {"type": "string", "examples": ["bytes 0-1023/4096"]}},
        },
    }


TAGS = {"service": "Health, metrics and this description.", "sessions": "Sessions and their files.",
        "process": "Jobs on a session's uploads.", "jobs": "Following, listing and canceling jobs.",
        "models": "The resident LLM (the user's /api/v2 clients).",
        "library": "The caller's indexed tracks: filters, search, similar tracks, questions.",
        "tokens": "API tokens: a script's or an app's credentials in place of your password."}
DESCRIPTION = """Upload audio into a session, start jobs on it, follow them, download the results.

- **Auth**: HTTP Basic, or `Authorization: Bearer <API token>` (POST /tokens), on every route but `/health`,
  `/openapi.json` and `/docs`. Too many failed logins: 429 with `Retry-After`.
- **Errors**: always `{"error": {"code", "message", "details"?}}` (see the `Error` schema for every code).
- **Jobs**: `POST /process/<kind>/<session>` answers 202 with the job; follow it with `GET /jobs/<id>?wait=N`
  (long poll), `GET /jobs/<id>/events` (Server-Sent Events), a `webhook`, or `Prefer: wait=N` on the request.
  `Idempotency-Key` makes a retried request return the job the first one made.
- **Requests**: every response carries `X-Request-ID` (yours when it is acceptable)."""
