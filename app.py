"""Application factory: settings, auth, error handlers, blueprints, Celery.

    gunicorn 'app:create_app()'                      # the API
    celery -A make_celery worker -Q gpu --pool solo  # the GPU worker (see run.py)
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import tasks  # noqa: F401  (registers the @shared_task functions with whichever Celery app is current)
from api import audio_models, docs, events, health, jobs, library, metrics, models, process, sessions, tokens, web
from api.auth import init_auth
from api.context import SafeJSONProvider, init_request_context, init_single_params
from api.errors import init_refused_methods, register_error_handlers
from api.metrics import init_http_metrics
from api.uploads import StreamingRequest, init_unread_body_drain
from api.web import init_cross_site_guard
from api_tokens import TokenStore
from config import load_settings
from jobs.celery_app import celery_init_app
from jobs.migration import adopt_owner_less
from jobs.services import Services


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, static_folder=None)  # the page's files are served by api/web.py's described routes
    app.json = SafeJSONProvider(app)
    app.request_class = StreamingRequest
    app.config.from_mapping(load_settings())
    if test_config:
        app.config.from_mapping(test_config)
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["MAX_UPLOAD_BYTES"])
    app.json.sort_keys = False
    # a path is routed as it is sent: Werkzeug's defaults answered `/sessions//x` with an HTML 308 to the path with
    # its slashes merged, echoing it (`/sessions/..%2f/files/x` -> `Location: /sessions/../files/x`; `//health` ->
    # `Location: http://health/`, another host); such a path is now a JSON 404 as any unknown one
    app.url_map.merge_slashes = False  # (strict_slashes' redirect needs a rule ending in `/`: only `/` does)

    hops = int(app.config["TRUSTED_PROXY_HOPS"])
    if hops > 0:  # behind nginx (run.py, docker-compose): the client's address is in X-Forwarded-For
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    init_request_context(app)  # before auth, so a 401 carries a request id too
    init_unread_body_drain(app)  # a refusal sent before the body is read reaches the client through nginx
    init_refused_methods(app)  # the front's TRACE/CONNECT: the URL's Allow, whoever asks
    svc = Services.from_config(app.config)
    app.extensions["music_analyzer"] = svc
    init_cross_site_guard(app)  # before auth: a forged request is refused whoever's credentials it carries
    app.extensions["api_tokens"] = TokenStore(app.config["DATA_DIR"])  # Bearer tokens (api_tokens.py)
    init_auth(app, svc.user_source)  # refuses to start with no users unless AUTH_DISABLED
    init_single_params(app)  # after auth: a query parameter given twice is a 400, on every route
    adopt_owner_less(svc)  # sessions and jobs of versions without owners become the admin's, once
    register_error_handlers(app)
    # one per resource
    for module in (health, sessions, jobs, events, process, audio_models, models, library, metrics, docs, tokens,
                   web):
        app.register_blueprint(module.bp)
    init_http_metrics(app)
    celery_init_app(app)
    return app
