"""`analyze FILE...`: upload into a new or named session, start the analyses, follow them, summarise."""

from __future__ import annotations

import argparse
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .analyses import Analysis, plan
from .client import MusicAnalyzer
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, MusicAnalyzerError, UsageError
from .model_check import check_models, lyrics_hint
from .summary import summary_lines
from .ui import LineTracker, Output, Tracker
from .watching import Followed, Follower, ask_cancel, wait_all
from .webhooks import check_with_server, webhook_args

ABANDON_WAIT_SECONDS = 30.0  # how long a refused run waits for its canceled jobs to stop before deleting the session


@dataclass
class FileRun:
    """One FILE argument: its upload (or the session's file of that name) and the jobs started on it."""

    given: str
    local: Path | None  # None: a file already in the session, named by FILE
    name: str | None = None  # the name in the session
    upload: dict[str, Any] | None = None
    error: MusicAnalyzerError | None = None
    jobs: list[tuple[Analysis, str]] = field(default_factory=list)  # (analysis, job id)


def run(client: MusicAnalyzer, args: argparse.Namespace, out: Output) -> int:
    analyses = plan(args)
    hook = webhook_args(args)  # every job of the run asks for the same webhook (--webhook-events alone: exit 2)
    if args.out and not args.wait:
        raise UsageError("--out downloads the results once the jobs end: add --wait")
    if args.out and Path(args.out).expanduser().exists() and not Path(args.out).expanduser().is_dir():
        # checked before anything is sent: a stranger's run analysed the file, then failed on "File exists"
        raise UsageError(f"--out {args.out}: not a folder")
    in_session = session_files(client, args.session) if args.session else {}
    runs = [_file_run(given, in_session, args.session) for given in args.files]
    require_job_queue(client)
    now, after_stems = split_after_stems(analyses, waited=args.wait)
    # a --stems model the server cannot run, or --lyrics at once in a new session where it cannot separate the
    # vocals: refused before a session is made or a byte sent
    check_models(client, analyses, now, new_session=not args.session)
    check_with_server(client, hook)  # a URL the server refuses: before a session is made or a file sent
    session_id = args.session or client.create_session()
    out.note(f"session {session_id}")
    tracker: Tracker = out.tracker() if args.wait else LineTracker(out.err, quiet=True)
    follower = Follower(client, tracker)
    try:
        with tracker:
            for item in runs:
                _upload(client, session_id, item, out)
                if item.error is None and not _album_art(item, out):
                    _start(client, session_id, item, now, follower if args.wait else None, out, hook=hook)
            if follower.followed:
                later = f" ({', '.join(a.name for a in after_stems)} once the stems are done)" if after_stems else ""
                out.note(f"{len(follower.followed)} job(s) started{later}; Ctrl-C stops waiting (and asks whether "
                         f"to cancel them)")
            if after_stems:
                _start_after_stems(client, session_id, runs, after_stems, follower, out, hook=hook)
            wait_all(follower.followed)
    except KeyboardInterrupt:
        ask_cancel(client, [f.job_id for f in follower.unfinished()] or _not_waited(runs, args.wait), out)
        return EXIT_INTERRUPTED
    except MusicAnalyzerError as e:
        if not (e.unreachable or e.auth_failed or e.server_unavailable):
            _abandon(client, session_id, runs, made=not args.session, out=out)
        raise
    # the session this run made is not left behind holding nothing of use: every upload refused, or every job (a
    # stranger's `--llm analyze` without the model's weights left a session with the file and no job, each try)
    nothing = ("no file was uploaded into it" if all(item.upload is None for item in runs)
               else "no job was started in it" if not any(item.jobs for item in runs) else None)
    deleted = not args.session and nothing is not None
    if deleted:
        _forget_session(client, session_id, out, why=str(nothing))
    records = {f.job_id: f for f in follower.followed}
    written = _download(client, session_id, records, Path(args.out), out) if args.out and args.wait else []
    report(out, session_id, runs, records, written, waited=args.wait, deleted=deleted)
    failed = any(r.error for r in runs) or any(f.state != "succeeded" for f in records.values())
    return EXIT_FAILED if failed else EXIT_OK


def split_after_stems(analyses: list[Analysis], *, waited: bool) -> tuple[list[Analysis], list[Analysis]]:
    """(started at once, started once the file's --stems job has succeeded). --lyrics transcribes the vocal stem:
    started beside --stems (a stranger's `--stems --model repet --lyrics`) it was refused (409) where no
    htdemucs weights could separate it first, or separated a second time where they could. Without --wait
    nothing waits: all start at once."""
    if not waited or not any(a.name == "stems" for a in analyses):
        return analyses, []
    return [a for a in analyses if a.name != "lyrics"], [a for a in analyses if a.name == "lyrics"]


def _start_after_stems(client: MusicAnalyzer, session_id: str, runs: list[FileRun], analyses: list[Analysis],
                       follower: Follower, out: Output, *, hook: dict[str, Any]) -> None:
    """Start each file's `analyses` once its own --stems job has succeeded, in the order the stems jobs end: taken
    in file order, a file whose stems were done first waited for every file before it (a stranger's three files
    with two workers: 3 minutes)."""
    waiting: dict[str, FileRun] = {}
    for item in runs:
        stems_job = next((job_id for a, job_id in item.jobs if a.name == "stems"), None)
        if stems_job is not None:
            waiting[stems_job] = item
        elif item.name is not None and item.error is not None:  # its stems job was refused: say what did not start
            out.err.print(about(item.given, f"{', '.join(a.name for a in analyses)} not started: it needs the stems"),
                          style="red")
    while waiting:
        ended = follower.ended.get()  # every started job is followed, so each stems job ends here once
        if ended.job_id not in waiting:
            continue
        item = waiting.pop(ended.job_id)
        if ended.state == "succeeded":
            _start(client, session_id, item, analyses, follower, out, hook=hook)
            continue
        names = ", ".join(a.name for a in analyses)
        item.error = item.error or MusicAnalyzerError(f"{names} not started: the stems job {ended.state}",
                                                      code="not_started")
        out.err.print(about(item.given, item.error.message), style="red")


def _abandon(client: MusicAnalyzer, session_id: str, runs: list[FileRun], *, made: bool, out: Output) -> None:
    """A request of the command line refused as wrong (400: an option, the same for every file) ends the run, and
    nothing of it is left running: its jobs are canceled and the session it made is deleted (a stranger's
    `--features --stems --model foo` left the session, the upload and a running features job, unnamed)."""
    stopping = []
    for item in runs:
        for analysis, job_id in item.jobs:
            try:
                answer = client.cancel(job_id)
                out.note(f"canceled {analysis.name} on {item.name}: job {job_id}")
                if answer.get("state") != "canceled":  # running: it stops at its next checkpoint
                    stopping.append(job_id)
            except MusicAnalyzerError as e:
                if e.code != "job_finished":
                    out.note(f"job {job_id} ({analysis.name} on {item.name}) could not be canceled: {e}")
    if made:  # a session is deleted only once no job of it runs (409 before): a running job is waited for
        deadline = time.monotonic() + ABANDON_WAIT_SECONDS
        for job_id in stopping:
            try:
                client.wait(job_id, timeout=max(deadline - time.monotonic(), 0.0))
            except MusicAnalyzerError:
                break
        _forget_session(client, session_id, out, why="the command was refused")
    elif any(item.upload for item in runs):
        out.note(f"the files uploaded stay in session {session_id}")


def _forget_session(client: MusicAnalyzer, session_id: str, out: Output, *, why: str) -> None:
    """The session this run made and left with nothing of use (`why`): deleted, not left behind."""
    try:
        client.delete_session(session_id)
        out.note(f"session {session_id} deleted: {why}")
    except MusicAnalyzerError as e:
        out.note(f"session {session_id} ({why}) could not be deleted: {e}")


def _not_waited(runs: list[FileRun], waited: bool) -> list[str]:
    """Without --wait, Ctrl-C while starting: the jobs started so far (nothing follows them)."""
    return [] if waited else [job_id for item in runs for _, job_id in item.jobs]


def session_files(client: MusicAnalyzer, session_id: str) -> dict[str, str | None]:
    """Upload names of an existing session and their SHA-256 (None from servers that do not give it); none when
    the session does not exist yet (the first upload creates it)."""
    try:
        session = client.session(session_id)
    except MusicAnalyzerError as e:
        if e.status == 404:
            return {}
        raise
    owner, meant = session.get("owner"), client.owner or client.user
    if owner and meant and owner != meant:
        # an admin reaches every user's sessions: a stranger's `analyze --session al1` as alice started a job in
        # bob's al1, owned by bob, where "made if new" had promised her own
        raise UsageError(f"session {session_id} is {owner}'s: analyze works in your own sessions (an admin: "
                         f"--owner {owner} for theirs); choose another --session name")
    return {f["name"]: f.get("sha256") for f in session.get("files", [])}


def require_job_queue(client: MusicAnalyzer) -> None:
    """Raise (exit 3) before anything is created or uploaded when the server says its job queue is down: a
    stranger's `analyze` during a Redis outage made a session and uploaded the file, then met the 503 and left them
    behind (the session cannot be deleted while Redis is down either)."""
    health = client.health()
    if health.get("status") == "unavailable":
        reason = (health.get("redis") or {}).get("error") or "the job queue is not reachable"
        raise MusicAnalyzerError(f"the server cannot take jobs now: {reason}; nothing was uploaded",
                                 code="redis_unavailable", status=503)


def uploaded_as(in_session: dict[str, str | None], path: Path) -> str | None:
    """The name under which the session holds `path`'s bytes already (its own name first), or None. The file is
    read only when the session gives digests."""
    if not any(in_session.values()):
        return None
    digest = file_sha256(path)
    same = sorted(name for name, known in in_session.items() if known == digest)
    return path.name if path.name in same else (same[0] if same else None)


def _file_run(given: str, in_session: dict[str, str | None], session_id: str | None) -> FileRun:
    path = Path(given).expanduser()
    if path.is_file():
        same = uploaded_as(in_session, path)
        if same is not None:  # these bytes are there already (a stranger's session filled with name-1, name-2)
            return FileRun(given, None, name=same)
        return FileRun(given, path)
    if given in in_session:  # analyse again what an earlier run uploaded, without sending it again
        return FileRun(given, None, name=given)
    if path.is_dir():
        raise UsageError(f"{given} is a folder: `music-analyzer batch {given}` analyses the audio files in it")
    where = f" and session {session_id} has no upload of that name" if session_id else ""
    raise UsageError(f"{given}: no such file{where}")


def _upload(client: MusicAnalyzer, session_id: str, item: FileRun, out: Output) -> None:
    if item.local is None:
        out.note(f"{item.given}: already in the session" + (f" as {item.name}" if item.name != item.given else ""))
        return
    try:
        item.upload = dict(client.upload(session_id, item.local))
    except MusicAnalyzerError as e:
        if e.unreachable or e.auth_failed:
            raise
        item.error = e
        out.err.print(about(item.given, str(e)), style="red")  # with its code and request id, as every error
        return
    item.name = item.upload["name"]
    out.note(f"uploaded {item.given} as {item.name} ({describe_audio(item.upload)})")


def _album_art(item: FileRun, out: Output) -> bool:
    """An image among the FILEs (`analyze *` in an album's folder takes its cover.jpg) is album art: kept in the
    session, no job started on it. Each had been refused 415 "is an image", and the run exited 1 for the cover of
    an album whose every track had succeeded."""
    if (item.upload or {}).get("kind") != "image":
        return False
    out.note(f"{item.name}: an image (album art), kept in the session; the analyses run on the audio files")
    return True


def _start(client: MusicAnalyzer, session_id: str, item: FileRun, analyses: list[Analysis],
           follower: Follower | None, out: Output, *, hook: dict[str, Any]) -> None:
    """Start the analyses on the file; `hook`: the webhook keywords of start_job (a refused URL is a 400: the run
    ends, as on any option refused as wrong)."""
    assert item.name is not None
    for analysis in analyses:
        try:
            job = client.start_job(analysis.job_type, session_id, file=item.name, options=analysis.options, **hook)
        except MusicAnalyzerError as e:
            if not refused_for_this_file(e):
                raise
            # the file's error, as a refused upload is: the jobs started so far are followed and reported with
            # the session (a stranger's run at 429 too_many_jobs, and at --lyrics' 409 with no htdemucs weights,
            # ended on the error alone, naming neither and leaving the features and pitch jobs running unsaid)
            item.error = e
            out.err.print(about(item.given, str(e)), style="red")
            if analysis.name == "lyrics" and e.code == "model_not_downloaded":  # the server's hint names its API
                out.err.print("  in this command: " + lyrics_hint(analyses))
            return
        item.jobs.append((analysis, job["job_id"]))
        if follower is not None:
            follower.follow(job["job_id"], f"{item.name} {analysis.name}")
        else:
            out.note(f"started {analysis.name} on {item.name}: job {job['job_id']}")


def refused_for_this_file(e: MusicAnalyzerError) -> bool:
    """A job the server would not take for this file (409: a model's weights missing or a separation
    needed first, 404, 413, 422; 429 too_many_jobs, a full disk, a server error): that file's error. Not a
    wrong command line (400: the options, the same for every file) or a lost server or login: those end the run."""
    return e.status is not None and e.exit_code() == EXIT_FAILED  # the errors' own classification


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def about(name: str, message: str) -> str:
    """`name: message`, unless the server's message names the file already ("'x.mp3': not audio")."""
    return message if message.startswith((f"'{Path(name).name}'", f'"{Path(name).name}"')) else f"{name}: {message}"


def describe_audio(upload: dict[str, Any]) -> str:
    if upload.get("kind") == "image":  # album art: no length, rate or channels ("0:00.0, 0 kHz None ch")
        return f"image, {upload.get('width')}x{upload.get('height')} {upload.get('format') or ''}".rstrip()
    seconds = float(upload.get("duration_seconds") or 0.0)
    channels = {1: "mono", 2: "stereo"}.get(int(upload.get("channels") or 0), f"{upload.get('channels')} ch")
    rate = float(upload.get("sample_rate") or 0) / 1000
    tenths = round(seconds * 10)  # rounded once: 599.97 s is 10:00.0, not 9:60.0 (a stranger's 10-minute file)
    return f"{tenths // 600}:{tenths % 600 / 10:04.1f}, {rate:g} kHz {channels}"


def _download(client: MusicAnalyzer, session_id: str, records: dict[str, Followed], folder: Path,
              out: Output) -> list[str]:
    """The files the succeeded jobs wrote, into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for followed in records.values():
        record = followed.record or {}
        if record.get("state") != "succeeded":
            continue
        for name in record.get("files") or []:
            written.append(str(client.download(session_id, name, folder / name, area="results")))
    return written  # listed by `report` (a note here had listed them twice)


def report(out: Output, session_id: str, runs: list[FileRun], records: dict[str, Followed], written: list[str],
           *, waited: bool, deleted: bool = False) -> None:
    if out.json:
        out.emit({"session_id": session_id, "files": [_file_json(item, records) for item in runs],
                  "downloaded": written, "session_deleted": deleted})
        return
    for item in runs:
        out.out.print(f"\n{item.name or item.given}", style="bold")
        if item.error is not None:
            out.out.print(f"  error    {item.error.message}", style="red")
        elif (item.upload or {}).get("kind") == "image":
            out.out.print("  image    album art, kept in the session (no analysis runs on an image)")
        files: list[str] = []
        for analysis, job_id in item.jobs:
            followed = records.get(job_id)
            if not waited or followed is None:
                out.out.print(f"  {analysis.name:<8} job {job_id} (started)")
                continue
            record: dict[str, Any] = dict(followed.record or {"state": followed.state})
            if followed.record is None and followed.error is not None:  # why it is unknown, not just that it is
                record["error"] = {"code": followed.error.code, "message": f"could not follow job {job_id}: "
                                   f"{followed.error.message}"}
            files += record.get("files") or []
            for label, text in summary_lines(record, files=False):
                out.out.print(f"  {label:<8} {text}", style={"error": "red", "partial": "yellow"}.get(label))
        if files:
            out.out.print(f"  {'files':<8} {' '.join(files)}")
    if written:
        out.out.print(f"\nwrote {len(written)} file(s) to {Path(written[0]).parent}:\n"
                      + "\n".join(f"  {Path(w).name}" for w in written))
    elif deleted:  # every upload was refused and the session made for them is gone: nothing to download
        return
    elif not any(item.jobs for item in runs):  # every job was refused: nothing to download or follow
        return
    elif waited:
        if any(f.state == "succeeded" for f in records.values()):
            out.note(f"\nresults: music-analyzer download {session_id} --out ./{session_id}")
    else:
        out.note(f"\nfollow them: music-analyzer jobs --watch   (session {session_id})")


def _file_json(item: FileRun, records: dict[str, Followed]) -> dict[str, Any]:
    jobs = []
    for analysis, job_id in item.jobs:
        followed = records.get(job_id)
        record = (followed.record if followed else None) or {"job_id": job_id,
                                                             "state": followed.state if followed else "queued"}
        jobs.append({"analysis": analysis.name, **record})
    return {"file": item.given, "name": item.name, "upload": item.upload,
            "error": item.error.to_dict() if item.error else None, "jobs": jobs}
