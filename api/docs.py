"""GET /openapi.json (the description) and GET /docs (Swagger UI), both public.

The docs page's scripts and styles are Swagger UI's own files as the `flask-swagger-ui` package ships them
(Swagger UI 5, which reads OpenAPI 3.1), served from here: the page loads nothing from another host, so it
works on a machine without internet. Swagger UI's online validator badge is switched off for the same reason.
"""

from __future__ import annotations

import html
import json
import secrets
from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Response, current_app, jsonify, send_from_directory, url_for

from api.openapi.build import spec_for
from worker.errors import NotFoundError, echo

bp = Blueprint("docs", __name__)

ASSETS_DIR = Path(flask_swagger_ui.__file__).resolve().parent / "dist"
ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "index.css", "favicon-32x32.png", "favicon-16x16.png"})
ASSET_MAX_AGE = 24 * 3600  # the files change only with the package


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(spec_for(current_app))


@bp.get("/docs")
def docs_page():
    nonce = secrets.token_urlsafe(16)
    config = {"url": url_for("docs.openapi_json"), "dom_id": "#swagger-ui", "deepLinking": True,
              "validatorUrl": None, "tryItOutEnabled": False}
    page = PAGE.format(nonce=nonce, title=html.escape(spec_for(current_app)["info"]["title"]),
                       css=url_for("docs.asset", asset="swagger-ui.css"),
                       index_css=url_for("docs.asset", asset="index.css"),
                       icon=url_for("docs.asset", asset="favicon-32x32.png"),
                       js=url_for("docs.asset", asset="swagger-ui-bundle.js"),
                       config=json.dumps(config).replace("<", "\\u003c"))
    response = Response(page, mimetype="text/html")
    # only this host's files and the one inline script of this answer; Swagger UI styles inline
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")
    return response


@bp.get("/docs/<asset>")
def asset(asset: str):
    if asset not in ASSETS:
        raise NotFoundError(f"no docs file {echo(asset)}", code="not_found")
    return send_from_directory(ASSETS_DIR, asset, max_age=ASSET_MAX_AGE)


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <title>{title}</title>
  <link rel="stylesheet" href="{index_css}">
  <link rel="stylesheet" href="{css}">
  <link rel="icon" type="image/png" href="{icon}">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{js}"></script>
  <script nonce="{nonce}">
    window.onload = function () {{
      var config = {config};
      config.presets = [SwaggerUIBundle.presets.apis];
      window.ui = SwaggerUIBundle(config);
    }};
  </script>
</body>
</html>
"""
