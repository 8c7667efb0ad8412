"""Sessions: create, upload, list, download, delete. Each caller reaches their own (api/access.py)."""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextlib import nullcontext

from flask import Blueprint, current_app, jsonify, request, send_file
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from api import access, library_removals
from api.context import known_keys, known_params, page_limit
from api.front_files import front_download, handed_to_front
from api.quota import require_quota, require_session_count, require_session_room, session_limit, usage
from api.result_sources import upload_stem, with_sources
from api.session_order import modified_time, page_by_modified, read_order
from api.uploads import discard_spool, save_uploads, upload_info, upload_limits
from api.waits import TooManyUploadsError, uploads
from config import AUDIO_FILE_TYPES, data_dir
from disk_space import require_room
from jobs import metrics
from jobs.erasure import deleting, once_writable
from jobs.listing import JobFilter, page_jobs
from jobs.record import files_read, iso, public_view
from jobs.services import services
from jobs.store import JobStore
from storage import SESSION_ID_RE, SessionStore, check_session_id
from worker.errors import ConflictError, InvalidRequestError, UnsupportedMediaError

bp = Blueprint("sessions", __name__)
ZERO_SUFFIX = re.compile(r"\s*bytes\s*=\s*-0+\s*$", re.IGNORECASE)  # Range: bytes=-0, the last 0 bytes
SUFFIX = re.compile(r"\s*bytes\s*=\s*-\s*([0-9]+)\s*$", re.IGNORECASE)  # Range: bytes=-N, the last N bytes
DIGITS = re.compile(r"[0-9]+")
# downloads whose type Debian's mime.types gives wrong or not at all: MIDI (audio/sp-midi, which players do not
# know), CAF (none: application/octet-stream), WavPack (.wv is a WAP type there, application/vnd.wv.csp+wbxml) and a
# transcript's LRC (none: `?inline=1` of it had been a download of application/octet-stream, where .srt and .vtt show)
DOWNLOAD_TYPES = {".mid": "audio/midi", ".midi": "audio/midi", ".caf": "audio/x-caf", ".wv": "audio/x-wavpack",
                  ".lrc": "text/plain"}
# the largest byte position nginx reads (its off_t): a Range naming more, which no file reaches, is ignored
MAX_RANGE_POSITION = 2**63 - 1
log = logging.getLogger(__name__)

SESSION_JOBS = 100  # jobs GET /sessions/<id> lists, newest first (a page of GET /jobs: fewer when results are big)
MAX_CREATE_BODY_BYTES = 64 * 1024  # POST /sessions takes at most {"session_id": ...}


class UnsupportedBodyError(InvalidRequestError):
    code = "unsupported_media_type"
    http_status = 415


CREATE_KEYS = frozenset({"session_id"})  # what the body of POST /sessions may hold
LIST_PARAMS = frozenset({"limit", "cursor", "owner", "order"})  # what GET /sessions reads


class BodyTooLargeError(InvalidRequestError):
    code = "payload_too_large"
    http_status = 413


def create_body() -> dict:
    """The optional JSON object of POST /sessions: nothing, or a JSON object. Anything else is refused,
    naming the problem, rather than ignored (a client would get a session it did not ask for)."""
    raw = request.stream.read(MAX_CREATE_BODY_BYTES + 1)
    if not raw:
        return {}
    if len(raw) > MAX_CREATE_BODY_BYTES:
        raise BodyTooLargeError(f"the body of POST /sessions is at most {MAX_CREATE_BODY_BYTES} bytes")
    if not request.is_json:
        raise UnsupportedBodyError(
            f"POST /sessions takes a JSON body with Content-Type: application/json, not "
            f"{request.mimetype or 'no Content-Type'!r}")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as e:  # RecursionError: nesting thousands deep
        raise InvalidRequestError("the request body is not valid JSON", code="invalid_json") from e
    if not isinstance(body, dict):
        raise InvalidRequestError('the request body must be a JSON object, e.g. {"session_id": "my-id"}',
                                  code="invalid_json")
    known_keys(body, CREATE_KEYS, "POST /sessions")
    return body


@bp.post("/sessions")
def create_session():
    body = create_body()
    given = body.get("session_id")  # null: a new random id, as for an option; "" is no id (it had made a random one)
    session_id = check_session_id(given) if given is not None else uuid.uuid4().hex[:16]
    store = access.new_sessions()
    if store.exists(session_id):  # only the caller's own ids: another user's never conflict
        raise ConflictError(f"session {session_id!r} already exists", code="session_exists")
    require_session_room(store)
    # below MIN_FREE_DISK_MB as an upload is: a stranger's POSTs had made empty sessions with 24 KB left
    require_room(data_dir(current_app.config), min_free_mb=float(current_app.config["MIN_FREE_DISK_MB"]))
    store.create(session_id, max_sessions=session_limit(store))
    return jsonify({"session_id": session_id}), 201


@bp.get("/sessions")
def list_sessions():
    """The caller's sessions (an admin: `?owner=`'s) by id, or the most recently modified first (`order=modified`,
    api/session_order.py), a page at a time (`limit`, `cursor`)."""
    known_params(LIST_PARAMS)  # a misspelt parameter had been ignored, as on the other listings before
    order = read_order(request.args.get("order"))
    store = access.new_sessions()
    limit = page_limit(100, 1000)
    after = request.args.get("cursor") or ""
    if order == "modified":
        page, next_cursor = page_by_modified(store, limit=limit, cursor=after)
    else:
        if after and not SESSION_ID_RE.fullmatch(after):  # the cursor is the page's last session id (keyset paging)
            raise InvalidRequestError("cursor must be a next_cursor this listing gave", code="invalid_cursor")
        ids = [i for i in store.session_ids() if i > after]
        page = ids[:limit]
        next_cursor = page[-1] if len(ids) > limit else None
    # `owner`: whose sessions these are (the caller, or an admin's `?owner=`): the page tells by it the caller's
    # own sessions from another user's an admin opened by its link
    return jsonify({"sessions": [session_summary(store, i) for i in page], "next_cursor": next_cursor,
                    "owner": store.owner, "storage": usage(store)})


def session_summary(store: SessionStore, session_id: str) -> dict:
    return {"session_id": session_id, "owner": store.owner,
            "files": len(store.list_files(session_id, "uploads")),
            "results": len(store.list_files(session_id, "results")),
            "modified_at": iso(modified_time(store, session_id))}


@bp.post("/sessions/<session_id>/files")
def upload_files(session_id: str):
    if request.mimetype != "multipart/form-data":  # a stranger's JSON body was told `no_file` (400)
        raise UnsupportedMediaError(f"uploads are sent as multipart/form-data (field 'file'), not "
                                    f"{request.mimetype[:100] or 'a body without a Content-Type'}",
                                    code="unsupported_content_type")
    # before a byte of the body is read: an upload that would take the disk under MIN_FREE_DISK_MB is a 507
    require_room(data_dir(current_app.config), min_free_mb=float(current_app.config["MIN_FREE_DISK_MB"]),
                 incoming_bytes=request.content_length or 0)
    try:
        store = access.session_for_upload(session_id)
        if not store.exists(session_id):  # an upload to a new id makes the session
            require_session_count(store)
        # the owner's quota, also before the body is read (without a Content-Length: only a quota already full)
        require_quota(store, incoming_bytes=request.content_length or 0)
        shares = uploads()  # its files' check holds this thread for seconds: one user may not hold them all
        with shares.share(access.caller().name) if shares is not None else nullcontext(True) as held:
            if not held:  # before the body is read: nothing stored
                raise TooManyUploadsError(int(current_app.config["UPLOADS_PER_USER"]))
            saved = save_uploads(store, session_id, request.files.getlist("file"),
                                 allowed=set(AUDIO_FILE_TYPES),
                                 limits=upload_limits(current_app.config),
                                 max_image_pixels=int(current_app.config["MAX_IMAGE_PIXELS"]),
                                 max_samples=float(current_app.config["MAX_REQUEST_SAMPLES"]),
                                 max_sessions=session_limit(store))
    finally:
        discard_spool()
    metrics.UPLOAD_BYTES.inc(sum(f["bytes"] for f in saved))
    return jsonify({"session_id": session_id, "files": saved}), 201


@bp.get("/sessions/<session_id>")
def get_session(session_id: str):
    store = access.session(session_id)
    uploads = [{**f, **upload_info(store, session_id, f["name"])}
               for f in store.list_files(session_id, "uploads")]
    page = page_jobs(services().jobs, owner=store.owner, session_id=session_id, limit=SESSION_JOBS, cursor=None,
                     where=JobFilter())
    return jsonify({
        "session_id": session_id,
        "owner": store.owner or None,
        "files": uploads,
        "results": with_sources(store.list_files(session_id, "results")),
        # its newest jobs, at most 100 and as many as a page of GET /jobs carries (jobs/listing.py): the rest
        # from GET /jobs?session_id=<id>&cursor=<jobs_next_cursor>
        "jobs": services().queue_positions.add_to([public_view(j) for j in page.jobs]),
        "jobs_next_cursor": page.next_cursor,
    })


@bp.get("/sessions/<session_id>/files/<name>")
def download_file(session_id: str, name: str):
    area = request.args.get("area")
    if area not in (None, "uploads", "results"):  # a typo would otherwise look in both and hide it
        raise InvalidRequestError(f"area must be 'uploads' or 'results', not {area!r}", code="invalid_area")
    path = access.session(session_id).file_path(session_id, name, area=area)
    # a download unless the client asks to show it inline (a player, an image tag); the CSP is set for both.
    mimetype = DOWNLOAD_TYPES.get(path.suffix.lower())
    if any(int(n) > MAX_RANGE_POSITION for n in DIGITS.findall(request.environ.get("HTTP_RANGE", ""))):
        # ignored as a malformed one is (the whole file, 200), behind the front or not: nginx reads the client's own
        # header after the hand-over and answered `bytes=0-<20 digits>` 416 with the file's Content-Disposition
        # (curl -OJ saved the error as the file) where the API alone sent 206
        request.environ["HTTP_RANGE"] = "unreadable"
    suffix = SUFFIX.match(request.environ.get("HTTP_RANGE", ""))
    if suffix and int(suffix.group(1)) > (size := path.stat().st_size) > 0:
        # the last N bytes of a shorter file are all of it (RFC 9110 14.1.1): a 206 of the whole file, where werkzeug
        # answered 416 (a player asking for the last 64 KB of a 30 KB result got an error)
        request.environ["HTTP_RANGE"] = f"bytes=-{size}"
    wanted = request.range
    ignored = "HTTP_RANGE" in request.environ and (wanted is None or wanted.units != "bytes" or len(wanted.ranges) != 1)
    if ignored:
        # a Range that is not one byte range (several, another unit, unparseable) is ignored as RFC 9110 allows:
        # the whole file (200), not werkzeug's 416 for what it cannot serve
        del request.environ["HTTP_RANGE"]
    elif ZERO_SUFFIX.match(request.environ.get("HTTP_RANGE", "")):
        # "the last 0 bytes" is unsatisfiable (RFC 9110 14.1.1); werkzeug reads it as the whole file from byte 0
        raise RequestedRangeNotSatisfiable(length=path.stat().st_size)
    attachment = request.args.get("inline") != "1"
    if handed_to_front():  # nginx sends it from disk (api/front_files.py): no thread or temp file per reader
        size = path.stat().st_size
        if not ignored and wanted is not None and wanted.range_for_length(size) is None:
            # answered here, as without the front: nginx's 416 kept the file's Content-Disposition, and
            # `curl -OJ` saved the error as the file
            raise RequestedRangeNotSatisfiable(length=size)
        response = front_download(path, download_name=name, as_attachment=attachment, mimetype=mimetype,
                                  whole=ignored)
    else:
        response = send_file(path, download_name=name, as_attachment=attachment, mimetype=mimetype)
    # which area served it: without ?area= an upload of a name wins over a result made later with that name
    response.headers["X-File-Area"] = path.parent.name
    return response


@bp.delete("/sessions/<session_id>/files/<name>")
def delete_file(session_id: str, name: str):
    """One upload or result (a stranger on a full disk could delete only whole sessions). An upload a queued or
    running job reads is refused (409 `file_in_use`); its results stay, and its name is not given to a later
    upload (results are named after it)."""
    area = request.args.get("area")
    if area not in (None, "uploads", "results"):
        raise InvalidRequestError(f"area must be 'uploads' or 'results', not {area!r}", code="invalid_area")
    store = access.session(session_id)
    path = store.file_path(session_id, name, area=area)
    where = path.parent.name
    if where == "uploads":
        jobs = services().jobs
        # marked first, as a session's deletion is: a job on it requested from now on is withdrawn (jobs/erasure.py)
        with deleting(jobs.r, owner=store.owner, session_id=session_id, name=name):
            readers = [j["job_id"] for j in jobs.active_jobs(owner=store.owner, session_id=session_id)
                       if name in _input_files(jobs.get(j["job_id"]), store, session_id)]
            if readers:
                raise ConflictError(f"{name!r} is read by {_busy_text(jobs, readers)}", code="file_in_use",
                                    details={"jobs": readers})
            store.delete_upload(session_id, name)
        forget_track(owner=store.owner, session_id=session_id, filename=name)
    else:
        path.unlink(missing_ok=True)
        reread_track(store, session_id=session_id, result=name)
    return jsonify({"session_id": session_id, "name": name, "area": where, "deleted": True})


def _busy_text(jobs: JobStore, ids: list[str]) -> str:
    """What holds a session or an upload, and what to do: "cancel them first" only of jobs nobody canceled yet (a
    stranger's delete right after `ma cancel` was told to cancel the job he had just canceled)."""
    stopping = sum(1 for job_id in ids if jobs.cancel_requested(job_id))
    if stopping == len(ids):
        return (f"{len(ids)} running job(s) canceled but not yet stopped (a job stops at its next progress "
                "checkpoint, mostly within seconds): try again in a moment")
    told = f", {stopping} of them canceled and stopping" if stopping else ""
    return f"{len(ids)} queued or running job(s){told}; cancel them first"


def _input_files(job: dict | None, store: SessionStore, session_id: str) -> list[str]:
    """The uploads a job reads (jobs/record.py files_read); every upload for a record of an older version, which
    names none."""
    params = (job or {}).get("params") or {}
    read = files_read(params)
    return read if params.get("files") else [*store.upload_names(session_id), *read]


@bp.delete("/sessions/<session_id>")
def delete_session(session_id: str):
    store, jobs = access.session(session_id), services().jobs
    # marked first: a job requested from now on is withdrawn (jobs/erasure.py), one requested before is seen here
    with deleting(jobs.r, owner=store.owner, session_id=session_id):
        active = jobs.active_jobs(owner=store.owner, session_id=session_id)
        if active:
            ids = [j["job_id"] for j in active]
            raise ConflictError(f"session {session_id!r} has {_busy_text(jobs, ids)}", code="session_busy",
                                details={"jobs": ids})
        store.delete(session_id)
        # its jobs' records and cached results hold what the files held (transcripts, analyses): gone with them
        # (on a full queue disk once the space the files held lets valkey write again)
        once_writable(lambda: jobs.forget_session(owner=store.owner, session_id=session_id),
                      f"erasing the job records of the deleted session {session_id!r} of {store.owner}")
    once_writable(lambda: services().cache.forget_session(owner=store.owner, session_id=session_id),
                  f"forgetting the cached results of the deleted session {session_id!r} of {store.owner}")
    forget_tracks(owner=store.owner, session_id=session_id)
    return jsonify({"session_id": session_id, "deleted": True})


def forget_track(*, owner: str, session_id: str, filename: str) -> None:
    """A deleted upload's track leaves the library (a database that is down: when it answers again)."""
    from library.extract import track_id

    tid = track_id(owner=owner, session_id=session_id, filename=filename)
    try:
        from library.service import library_for

        library_for(current_app.config).store.remove(owner=owner, track_ids=[tid])
    except Exception:
        log.error("library: could not remove the track of %s in session %s; removed when the database answers",
                  filename, session_id, exc_info=True)
        settings = current_app.config
        once_writable(lambda: library_removals.remember(services().redis, settings, owner=owner,
                                                        session_id=session_id, track_id=tid),
                      f"remembering the library's removal of {filename!r} in session {session_id!r}")


def reread_track(store: SessionStore, *, session_id: str, result: str) -> None:
    """The library reads again the track a deleted result was a source of (a stranger's deleted pitch result
    still gave the track its key and tempo until a reindex). No embedding model is loaded here: the passages
    left already have their vectors."""
    if not result.endswith(".json"):
        return
    source = upload_stem(result)  # read as the session's results are listed (a name ending in _x is not x's)
    for upload in store.upload_names(session_id):
        stem = upload.rsplit(".", 1)[0] if "." in upload else upload
        if source is not None and stem == source:
            try:
                from library.service import library_for

                library_for(current_app.config).index_file(owner=store.owner, session_id=session_id,
                                                           filename=upload, results_dir=store.results_dir(session_id),
                                                           embed_new=False)
            except Exception:
                log.error("library: could not read %s in session %s again", upload, session_id, exc_info=True)


def forget_tracks(*, owner: str, session_id: str) -> None:
    """The session's tracks leave the library. A database that is down does not stop the deletion: the
    removal is remembered and made before the library is next read (api/library_removals.py)."""
    try:
        from library.service import library_for

        library_for(current_app.config).remove_session(owner=owner, session_id=session_id)
    except Exception:
        log.error("library: could not remove the tracks of session %s; removed when the database answers",
                  session_id, exc_info=True)
        settings = current_app.config
        once_writable(lambda: library_removals.remember(services().redis, settings, owner=owner,
                                                        session_id=session_id),
                      f"remembering the library's removal of session {session_id!r}")
