"""GET / (the web page) and GET /web/<asset> (its scripts and styles), and the page's cross-site guard.

The page is plain HTML, CSS and ES modules from the repository's `web/` folder, no build step and nothing from
another host. It needs no login of its own: it sits behind the API's HTTP Basic auth like every route, so the
browser asks once (its own prompt) and then sends the cached credentials with every same-origin request the
page makes: fetch, XHR uploads, EventSource streams, <audio> and <img> loads.

Cached Basic credentials are also sent with a form another site posts to this origin, so a browser request
that changes something and comes from another site is refused (403 `cross_site_request`): the browser says
where it comes from in Sec-Fetch-Site (or at least Origin). Clients that are not browsers send neither and
are not affected.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, request, send_from_directory

from api.errors import error_response
from worker.errors import NotFoundError, echo

bp = Blueprint("web", __name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
# the files the page loads; anything else under /web/ is a 404 (no directory listing, no dotfiles)
ASSETS = frozenset(str(p.relative_to(WEB_DIR)) for p in WEB_DIR.rglob("*")
                   if p.is_file() and p.suffix in (".js", ".css", ".svg"))
ASSET_MAX_AGE = 60  # s: a short cache, so a new version of the page is picked up within a minute

# Only this host's files. No inline script or style at all (styles set from scripts through the CSSOM are not
# inline styles); blob: for the audio the page decodes; nothing may frame the page.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            "media-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": 80, "https": 443}


@bp.get("/")
def page():
    response = Response((WEB_DIR / "index.html").read_bytes(), mimetype="text/html")
    response.headers.update({"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store",
                             "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"})
    return response


@bp.get("/web/<path:asset>")
def asset(asset: str):
    if asset not in ASSETS:
        raise NotFoundError(f"no page file {echo(asset)}", code="not_found")
    response = send_from_directory(WEB_DIR, asset, max_age=ASSET_MAX_AGE)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def is_cross_site() -> bool:
    """Whether a browser sent this request for a page of another site (a forged form post, say)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site not in ("same-origin", "none")  # none: typed in the address bar, a bookmark
    # no Sec-Fetch-Site (browsers send it only to https and localhost, so not to http://studio:8000): compare
    # Origin's host name and port with the Host the request names. Another port of the host is another origin, whose
    # pages the browser gives no credentials of this one but whose forged forms it sends them with (a security
    # trial: a page on :3000 of the same box created sessions here); with Sec-Fetch-Site it is `same-site`, refused
    # above. A Host without a port (a proxy that passes the name on alone) leaves the port unknown: the name decides.
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    try:
        came, here = urlsplit(origin), urlsplit("//" + request.host)
        if (came.hostname or "") != (here.hostname or ""):
            return True
        return here.port is not None and (came.port or DEFAULT_PORTS.get(came.scheme)) != here.port
    except ValueError:  # a port that is no number: no page of this host sent it
        return True


def init_cross_site_guard(app: Flask) -> None:
    @app.before_request
    def refuse_cross_site_writes():
        if request.method in UNSAFE_METHODS and is_cross_site():
            return error_response(403, "cross_site_request",
                                  "a browser request from another site may not change anything here")
        return None
