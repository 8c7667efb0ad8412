"""Downloads handed to the nginx front (X-Accel-Redirect), where one is in front (FILES_VIA_FRONT).

Through the API a download's bytes went from gunicorn to nginx as fast as nginx took them, and nginx buffered
what its client had not read yet into a temp file on the data disk, up to 1 GB per connection: a stranger's 20
slow downloads (curl --limit-rate 1k) of a 366 MB upload held 7.25 GB of deleted-but-open temp files, and
another user's GET /sessions waited 5-23 s while they were written. Handed over, the API still checks the
caller, the name and the Range, and answers with headers only; nginx sends the file from disk (sendfile), at
the pace of its reader, holding a connection and no thread, copy or temp file.

The site's internal locations (deploy/nginx/music-analyzer.conf.template) map FRONT_FILES to DATA_DIR and serve
one byte range at most (`max_ranges 1`), and FRONT_FILES_WHOLE to the same folder ignoring any Range: where
the API would ignore a Range (several ranges, another unit, one it cannot parse) the whole file is sent, as it
would send it (nginx would answer some of those 416). The response headers nginx would drop on an internal
redirect (the download's Content-Security-Policy, nosniff, Referrer-Policy, the request id) are set again
there from the API's.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import quote

from flask import Response, current_app

from config import data_dir

FRONT_FILES = "/__files/"  # nginx: internal; alias DATA_DIR; max_ranges 1
FRONT_FILES_WHOLE = "/__files-whole/"  # nginx: internal; alias DATA_DIR; max_ranges 0


def handed_to_front() -> bool:
    return bool(current_app.config.get("FILES_VIA_FRONT"))


def front_download(path: Path, *, download_name: str, as_attachment: bool, mimetype: str | None,
                   whole: bool) -> Response:
    """Headers only: nginx sends `path` (inside DATA_DIR). `whole`: the request's Range is to be ignored."""
    relative = path.resolve().relative_to(data_dir(current_app.config))
    response = Response(status=200, mimetype=mimetype or mimetypes.guess_type(download_name)[0]
                        or "application/octet-stream")
    response.headers["X-Accel-Redirect"] = (FRONT_FILES_WHOLE if whole else FRONT_FILES) + quote(relative.as_posix())
    # as send_file writes it; the names are ASCII (storage.safe_name), so no `filename*` is needed
    response.headers.set("Content-Disposition", "attachment" if as_attachment else "inline", filename=download_name)
    return response
