"""Uploads streamed straight to disk, validated by decoding, then moved into the session.

Audio, and images (album art: PNG, JPEG, WebP) that the models which see images get with `image`.

Werkzeug's default keeps small parts in memory and spools larger ones to an
anonymous temp file that must then be copied. Here every file part is written
to a named file in DATA_DIR/tmp (the same filesystem as the sessions), so the
API's memory stays flat whatever the size and the final move is a rename.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask, Request, Response, current_app, g, request

from api.decode_cost import format_weight, weighted_samples
from jobs.cache import content_digest, remembered_digest
from storage import SessionStore, upload_description
from worker.audio_formats import spoken
from worker.audio_io import AudioInfo, BeforeDecode, probe
from worker.audio_limits import AudioLimits
from worker.errors import ConflictError, InvalidRequestError, MusicAnalyzerError, PayloadTooLargeError
from worker.files import MAX_NAME_LENGTH, is_image_name, safe_name, write_json_atomic
from worker.image_io import ImageInfo, probe_image

log = logging.getLogger(__name__)


# a spooled part nothing has written to for this long belongs to a request whose API process died (kill -9, the
# OOM killer): its `discard_spool` never ran (a stranger's 42 MB part outlived restarts). A live upload writes
# as its bytes arrive; one stalled this long has long been cut off by the front's and the server's timeouts.
SPOOL_STALE_SECONDS = 3600.0


# what is read at a time of a body the app left unread (init_unread_body_drain)
DRAIN_CHUNK_BYTES = 1 << 20


def init_unread_body_drain(app: Flask) -> None:
    """Behind the front (TRUSTED_PROXY_HOPS > 0: run.py's nginx, Compose's), a request body the app left unread is
    read to its end, and dropped, before the answer goes. An upload refused before its body is read (507 a disk under
    MIN_FREE_DISK_MB, 401) had been answered 502 "the API is not answering (restarting?)" in 3 of 10 of a stranger's
    tries: gunicorn drains at most 64 KB of such a body and closes the connection, and nginx, still sending the body
    it had buffered, got a broken pipe instead of the answer. nginx has the whole body already, on this machine, so
    reading it costs little. Without a front gunicorn's own bounded drain stands: a slow direct client must not hold
    an API thread (tests/test_front_early_refusal.py)."""
    if int(app.config["TRUSTED_PROXY_HOPS"]) <= 0:
        return

    @app.after_request
    def drain_unread_body(response: Response) -> Response:
        body = request.environ.get("wsgi.input") if request.content_length else None
        try:
            while body is not None and body.read(DRAIN_CHUNK_BYTES):
                pass
        except (OSError, ValueError) as e:  # the front went away meanwhile: gunicorn closes the connection
            log.info("the rest of a request's body could not be read: %s", e)
        return response


class StreamingRequest(Request):
    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        tmp_dir = Path(current_app.config["DATA_DIR"]).resolve() / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        if "upload_spool" not in g:  # once per request: the folder holds a few live parts at most
            sweep_stale_spool(tmp_dir)
        fh = tempfile.NamedTemporaryFile(dir=tmp_dir, prefix="upload-", suffix=".part", delete=False)
        g.setdefault("upload_spool", []).append(fh.name)
        return fh


def sweep_stale_spool(tmp_dir: Path) -> int:
    """Remove the spooled parts of dead requests (SPOOL_STALE_SECONDS untouched); how many went."""
    cutoff = time.time() - SPOOL_STALE_SECONDS
    removed = 0
    for path in tmp_dir.glob("upload-*.part"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # another process' request finished, or swept it, first
            continue
    if removed:
        log.info("removed %d spooled upload part(s) left by requests that died", removed)
    return removed


def discard_spool() -> None:
    """Remove this request's spooled parts that were not moved into a session."""
    for name in g.pop("upload_spool", []):
        try:
            os.unlink(name)
        except FileNotFoundError:
            pass


def save_uploads(store: SessionStore, session_id: str, files: list, *, allowed: set[str],
                 limits: AudioLimits, max_image_pixels: int, max_samples: float,
                 max_sessions: int | None = None) -> list[dict]:
    """Validate every part, then move them all in; one bad file rejects the whole request.

    `max_samples` (MAX_REQUEST_SAMPLES): the audio the request's files hold together, frames x channels, each
    file's weighted by its type's decode cost over FLAC's (api/decode_cost.py). Every file is decoded to check it,
    so a request past it is refused without decoding its next file: a request of many small files that each
    declare an hour of 8-channel 192 kHz silence cost an API thread ~4 s per file (a security trial; 1,000 of them
    would have been an hour), and 2 x 10^9 raw samples of 8 kHz AAC ~34 s where FLAC's cost ~15 s (a reliability
    trial). A file whose header declares its length is counted from it before it is decoded (`refuse_past_budget`),
    so its cost is at most that, plus one file whose length is not declared.
    `max_sessions`: the owner's session limit, where the request makes the session (None: no limit).
    """
    if not files:
        # a part whose filename is not UTF-8 never reaches here (the multipart parser drops it): say so too
        raise InvalidRequestError("no file in the request: send multipart field 'file' with a filename "
                                  "(in UTF-8: a part whose filename is not is not read)", code="no_file")
    checked: list[tuple[str, str, AudioInfo | ImageInfo, int]] = []
    samples = 0.0  # weighted: FLAC's samples
    for part in files:
        declared = part.filename or ""
        name = safe_name(declared, max_length=MAX_NAME_LENGTH)
        spool = getattr(part.stream, "name", None)
        part.stream.close()
        if not spool:
            raise InvalidRequestError(f"{declared!r}: upload was not received as a file", code="bad_upload")
        try:
            info: AudioInfo | ImageInfo = (
                probe_image(spool, declared_name=declared, max_pixels=max_image_pixels) if is_image_name(declared)
                else probe(spool, allowed=allowed, declared_name=declared, limits=limits,
                           before_decode=refuse_past_budget(samples, max_samples)))
        except MusicAnalyzerError as e:
            if not e.message.startswith(repr(declared)):  # some messages name the file already
                e.message = f"{declared!r}: {e.message}"
            raise
        checked.append((name, spool, info, os.path.getsize(spool)))
        if isinstance(info, AudioInfo):
            samples += weighted_samples(info)
            if samples > max_samples:  # no further file is decoded
                raise PayloadTooLargeError(
                    f"the files of this request hold more than {max_samples:.3g} samples of audio "
                    "(MAX_REQUEST_SAMPLES: frames x channels, every file is decoded to check it, and a sample of "
                    "a type dearer to decode than FLAC counts as more than one); send them in several requests",
                    code="request_audio_too_long")
    created = not store.exists(session_id)
    store.create(session_id, max_sessions=max_sessions)  # a new session counts against the owner's limit
    out = []
    claimed: list[Path] = []
    try:
        for name, spool, info, size in checked:
            dest = store.claim_upload_path(session_id, name)
            claimed.append(dest)
            if (store.results_dir(session_id) / dest.name).exists():
                # GET/DELETE .../files/<name> without ?area= look in the uploads first: album art named
                # features_x.png would have hidden the result of that name (a security trial)
                raise ConflictError(f"{dest.name!r} is the name of a result of this session: rename the file "
                                    "and upload it again", code="name_is_a_result",
                                    details={"name": dest.name})
            os.replace(spool, dest)
            write_json_atomic(upload_description(dest), info.to_dict())
            # its content digest now (the file is in the page cache), remembered beside it: clients find what
            # they already uploaded, and the result cache need not read the file again
            out.append({"name": dest.name, "bytes": size, **info.to_dict(), "sha256": content_digest(dest)})
    except BaseException:  # e.g. the disk filled up midway: none of this request's files stays
        if created:
            store.delete(session_id)
        else:
            for dest in claimed:
                store.discard_upload(dest)
        raise
    return out


def refuse_past_budget(so_far: float, max_samples: float) -> BeforeDecode:
    """The check `probe` makes of a file's declared length before decoding it: refused 413 if its samples, weighted
    by its type's decode cost, take the request's (`so_far`, weighted) past `max_samples`, and the file bears that
    length out (a header's length is a claim: one that is not borne out is left to the decode to count). One CAF
    IMA4 file of an hour at 48 kHz stereo had held an API thread ~46 s decoding it, then been refused all the same."""
    def check(fmt: str, frames: int, channels: int, borne_out: Callable[[], bool]) -> None:
        raw = frames * channels
        weighted = raw * format_weight(fmt)
        if so_far + weighted <= max_samples or not borne_out():
            return
        before = f" with the request's files before it ({so_far:,.0f})" if so_far else ""
        raise PayloadTooLargeError(
            f"its header declares {raw:,} samples of {spoken(fmt)} audio (frames x channels), which count as "
            f"{weighted:,.0f}{before}, more than the {max_samples:,.0f} samples of audio one request may hold "
            "(MAX_REQUEST_SAMPLES: a sample of a type dearer to decode than FLAC counts as more than one); refused "
            "before decoding it: send a shorter file, or the files in several requests",
            code="request_audio_too_long", details={"declared_samples": raw, "counted_samples": round(weighted),
                                                     "max_samples": round(max_samples)})
    return check


def upload_limits(config: dict) -> AudioLimits:
    """The settings' limits on an uploaded stream (checked from its header first, see worker/audio_limits.py)."""
    return AudioLimits(max_duration=float(config["MAX_DURATION_SECONDS"]),
                       max_sample_rate=int(config["MAX_SAMPLE_RATE"]), max_channels=int(config["MAX_CHANNELS"]),
                       min_sample_rate=int(config["MIN_SAMPLE_RATE"]))


def upload_info(store: SessionStore, session_id: str, name: str) -> dict:
    """What decoding the upload found, and its SHA-256 where the one taken at upload still matches the file (a
    file changed on the server's disk since has none: it is not hashed on a listing)."""
    meta = upload_description(store.uploads_dir(session_id) / name)
    try:
        info = json.loads(meta.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    digest = remembered_digest(store.uploads_dir(session_id) / name)
    return {**info, "sha256": digest} if digest else info
