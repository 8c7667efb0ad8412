"""`batch DIR`: every audio file of a folder into one session, N jobs in flight at once, a summary table at the end,
and a progress file (batch_state.py) that lets `--resume` skip what is done after a stop, a crash or a failure."""

from __future__ import annotations

import argparse
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .analyses import AUDIO_SUFFIXES, Analysis, plan
from .analyze import about, require_job_queue, session_files, split_after_stems, uploaded_as
from .batch_state import BatchState, default_state_path, file_stamp, held
from .client import MusicAnalyzer, new_idempotency_key
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_UNAVAILABLE, MusicAnalyzerError, UsageError
from .model_check import check_models
from .records import TERMINAL_STATES
from .summary import brief, partial_kept
from .ui import Output, Tracker
from .watching import Follower, ask_cancel
from .webhooks import check_with_server, webhook_args

ANALYSIS_FLAGS = ("features", "pitch", "stems", "lyrics", "transcribe", "llm")


@dataclass
class Batch:
    client: MusicAnalyzer
    folder: Path
    state: BatchState
    analyses: list[Analysis]
    follower: Follower
    tracker: Tracker
    out: Output
    stop: threading.Event = field(default_factory=threading.Event)
    fatal: list[MusicAnalyzerError] = field(default_factory=list)
    skipped: set[str] = field(default_factory=set)  # done by an earlier run: nothing sent this time
    reached: set[str] = field(default_factory=set)
    in_session: dict[str, str | None] = field(default_factory=dict)  # its uploads as the run began: name -> sha256
    hook: dict[str, Any] = field(default_factory=dict)  # --webhook: start_job's webhook keywords, for every job


def find_files(folder: Path, pattern: str | None) -> list[Path]:
    """`pattern` (a glob under `folder`, `**` for subfolders), else the folder's audio files; no hidden files."""
    if pattern:
        found = folder.glob(pattern)
    else:
        found = (p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    return sorted(p for p in found if p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def in_subfolders(folder: Path, top: list[Path]) -> tuple[int, str]:
    """How many audio files (by name) the folder's subfolders hold, at any depth, and the --pattern that takes them
    with the `top` ones: an album ripped as CD1/ and CD2/ had been "no audio files in DIR", without a word of them."""
    found = [p for p in folder.glob("*/**/*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()
             and not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    suffixes = {p.suffix for p in found + top}
    # one kind of file: exactly those; several: every file, the server refusing (and the run reporting) the rest
    return len(found), f"**/*{suffixes.pop()}" if len(suffixes) == 1 else "**/*"


def run(client: MusicAnalyzer, args: argparse.Namespace, out: Output) -> int:
    folder = Path(args.folder).expanduser()
    if not folder.is_dir():  # a mistyped folder had read "not a folder", as if it were a file
        raise UsageError(f"{args.folder}: " + ("not a folder" if folder.exists() else "no such folder"))
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    files = find_files(folder, args.pattern)
    if not files:
        deeper, pattern = (0, "") if args.pattern else in_subfolders(folder, [])
        raise UsageError(f"no audio files in {folder}" + (f" matching {args.pattern!r}" if args.pattern else "")
                         + (f"; {deeper} in its subfolders: --pattern '{pattern}' takes them" if deeper else ""))
    hook = webhook_args(args)  # --webhook-events without --webhook: exit 2 before anything is sent
    require_job_queue(client)  # before a session is made or a file sent (see analyze.require_job_queue)
    path = Path(args.state).expanduser() if args.state else default_state_path(folder)
    with held(path):
        # a new batch (--resume with no earlier run of this folder is one too: a stranger's `batch DIR --stems
        # --resume` had uploaded every file, each then refused 409): a --stems model the server cannot run, or
        # --lyrics that needs one, is refused before a session is made or a file sent
        if not (args.resume and BatchState.load(path) is not None):
            analyses = plan(args)  # each file's jobs run in turn: --lyrics after --stems has its vocal stem
            check_models(client, analyses, split_after_stems(analyses, waited=True)[0], new_session=not args.session)
        check_with_server(client, hook)  # a URL the server refuses: before a session is made or a file sent
        return _run(client, args, folder, files, path, out)


def _run(client: MusicAnalyzer, args: argparse.Namespace, folder: Path, files: list[Path], path: Path,
         out: Output) -> int:
    state, analyses, made = open_state(client, args, folder, path, out)
    tracker = out.tracker(keep_finished=False)
    batch = Batch(client, folder, state, analyses, Follower(client, tracker), tracker, out,
                  in_session=session_files(client, state.session_id), hook=webhook_args(args))
    skipped = sum(1 for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")) - len(files) \
        if not args.pattern else 0
    if skipped > 0:  # said, not silent: a stranger's .aiff and .opus files were passed over without a word
        out.note(f"{skipped} other file(s) in {folder} are not taken (not audio by their names; --pattern takes "
                 f"them)")
    deeper, pattern = (0, "") if args.pattern else in_subfolders(folder, files)
    if deeper:
        out.note(f"{deeper} audio file(s) in subfolders of {folder} are not taken (--pattern '{pattern}' takes them "
                 f"with these)")
    out.note(f"{len(files)} file(s) into session {state.session_id}, {args.jobs} job(s) at a time; "
             f"progress in {state.path}")
    try:
        with tracker:
            tracker.overall("files", len(files))
            run_all(batch, files, args.jobs)
    except KeyboardInterrupt:
        batch.stop.set()
        ask_cancel(client, [f.job_id for f in batch.follower.unfinished()], out)
        out.warn(f"continue later with: music-analyzer batch {args.folder} --resume")
        return EXIT_INTERRUPTED
    if batch.fatal:
        raise batch.fatal[0]
    if made and not any(entry.get("name") for entry in state.data["files"].values()):
        forget_batch(client, state, out)
    rows = [outcome(batch, f) for f in files]
    report(batch, rows)
    return EXIT_FAILED if any(r["status"] in ("failed", "canceled") for r in rows) else EXIT_OK


def open_state(client: MusicAnalyzer, args: argparse.Namespace, folder: Path, path: Path,
               out: Output) -> tuple[BatchState, list[Analysis], bool]:
    """The earlier run's state with --resume (its session, and its analyses unless flags name others), else a
    new batch in a new (or the named) session; and whether this run made the session. The progress file is
    replaced only once the named session is known to be usable: a stranger's `--session` of another user's (or a
    malformed one) had replaced it, refused, and no --resume could continue the earlier run after that."""
    flags_given = any(getattr(args, flag) for flag in ANALYSIS_FLAGS)
    previous = BatchState.load(path) if args.resume else None
    if previous is not None:
        if (previous.data.get("url"), previous.data.get("user")) != (client.base_url, client.user):
            raise UsageError(f"{path} records a batch of {previous.data.get('user')} at {previous.data.get('url')}; "
                             f"resume it with that server and user, or drop --resume to start over")
        analyses = plan(args) if flags_given else previous.analyses()
        return previous, analyses, False
    analyses = plan(args)
    if args.session:
        session_files(client, args.session)  # raises for another user's session or a malformed name
    if args.resume:
        out.note(f"no earlier batch of {folder} in {path}: starting one")
    elif path.exists():
        out.note(f"starting over (--resume would continue the run recorded in {path})")
    session_id = args.session or client.create_session()
    return BatchState.new(path, folder=folder, url=client.base_url, user=client.user, session_id=session_id,
                          analyses=analyses), analyses, not args.session


def forget_batch(client: MusicAnalyzer, state: BatchState, out: Output) -> None:
    """The session this run made, when no file went into it (every upload refused), goes with the progress file
    that names it (as `analyze` does: a stranger's refused batch left an empty session behind)."""
    try:
        client.delete_session(state.session_id)
    except MusicAnalyzerError as e:
        out.note(f"session {state.session_id} (no file went into it) could not be deleted: {e}")
        return
    state.path.unlink(missing_ok=True)
    out.note(f"session {state.session_id} deleted: no file went into it")


def run_all(batch: Batch, files: list[Path], workers: int) -> None:
    """`workers` threads take files from a queue, each following one file's jobs at a time: at most `workers`
    jobs are in flight. Returns when every file is handled, or at once when the server is lost."""
    work: queue.Queue[Path] = queue.Queue()
    for path in files:
        work.put(path)
    finished = threading.Event()
    remaining = [len(files)]
    lock = threading.Lock()

    def worker() -> None:
        while not batch.stop.is_set():
            try:
                path = work.get_nowait()
            except queue.Empty:
                return
            try:
                try:
                    process(batch, path)
                except OSError as e:  # this file only: gone or unreadable since the folder was listed
                    local_error(batch, path, e)
            except MusicAnalyzerError as e:  # the server is gone or refuses us, or the progress file cannot be
                batch.fatal.append(e)        # written: stop the whole batch
                batch.stop.set()
                finished.set()
            finally:
                batch.tracker.advance_overall()
                with lock:
                    remaining[0] -= 1
                    if remaining[0] == 0:
                        finished.set()

    for _ in range(min(workers, len(files))):
        threading.Thread(target=worker, name="batch", daemon=True).start()
    finished.wait()


def local_error(batch: Batch, path: Path, e: OSError) -> None:
    rel = path.relative_to(batch.folder).as_posix()
    message = f"cannot read it: {e.strerror or e}"
    with batch.state.lock:
        batch.state.data["files"].setdefault(rel, {"stamp": None, "name": None, "jobs": {}})
        batch.state.update(rel, error={"code": "local_error", "message": message})
    batch.reached.add(rel)
    batch.out.err.print(f"{rel}: {message}", style="red")


WEBHOOK_REFUSED = ("invalid_webhook", "webhook_not_allowed")  # --webhook refused: the same for every job


def fatal(e: MusicAnalyzerError) -> bool:
    """An error that stops the whole batch (no later file could fare better): the rule the exit code follows,
    so a front's 502/504 that outlasts the client's retries stops it as the API's own 503 does; and a --webhook
    the server refuses, which every file's job would meet after its upload."""
    return e.exit_code() == EXIT_UNAVAILABLE or e.code in WEBHOOK_REFUSED


def process(batch: Batch, path: Path) -> None:
    rel = path.relative_to(batch.folder).as_posix()
    state = batch.state
    entry = state.entry(rel, file_stamp(path))
    batch.reached.add(rel)
    if entry.get("error"):  # tried again now: a refused upload or a read error records itself again if it recurs
        state.update(rel, error=None)
    if entry["name"] and all(entry["jobs"].get(a.name, {}).get("state") == "succeeded" for a in batch.analyses):
        batch.skipped.add(rel)
        return
    name = entry["name"]
    if name is None and (name := uploaded_as(batch.in_session, path)) is not None:
        # an earlier run uploaded it and was stopped before it noted the name (a stranger's kills mid-upload left
        # battle.ogg, battle-1.ogg and battle-2.ogg, the same bytes, and results under the last name)
        state.update(rel, name=name, error=None)
    if name is None:
        try:
            name = batch.client.upload(state.session_id, path)["name"]
        except MusicAnalyzerError as e:
            if fatal(e):
                raise
            state.update(rel, error=e.to_dict())
            batch.out.err.print(about(rel, str(e)), style="red")  # with its code and request id
            return
        state.update(rel, name=name, error=None)
    for analysis in batch.analyses:
        if batch.stop.is_set():
            return
        run_job(batch, rel, name, analysis)


def run_job(batch: Batch, rel: str, name: str, analysis: Analysis) -> None:
    """Start (or find again) the job of `analysis` on the file, follow it to its end, record how it ended.

    A job an earlier run left running and that ended canceled (Ctrl-C, then "cancel them") is started again:
    --resume means finish the batch (a stranger's first resume reported them failed, the second ran them)."""
    state = batch.state
    while True:
        known = state.job(rel, analysis.name)
        if known.get("state") == "succeeded":
            return
        job_id: str | None = known.get("job_id")
        started_now = not job_id or known.get("state") in TERMINAL_STATES
        if started_now:  # never started, or failed/canceled: (re)start
            job_id = start(batch, rel, name, analysis, known)
        if job_id is None:
            return
        followed = batch.follower.follow(job_id, f"{rel} {analysis.name}")
        followed.done.wait()
        if followed.record is None:
            raise followed.error or MusicAnalyzerError(f"lost job {job_id}", code="unreachable")
        record: dict[str, Any] = dict(followed.record)
        # `kept`: what a job stopped midway (time limit, cancel) kept of its text, which the cell says too
        state.update_job(rel, analysis.name, state=record["state"], error=record.get("error"), brief=brief(record),
                         kept=partial_kept(record))
        if started_now or record["state"] != "canceled" or batch.stop.is_set():
            return


def start(batch: Batch, rel: str, name: str, analysis: Analysis, known: dict[str, Any]) -> str | None:
    """The new job's id (recorded), or None where the server refused it (recorded as failed)."""
    state = batch.state
    # a key recorded without a job id: the request may have reached the server; the same key finds its job
    key = known.get("key") if not known.get("job_id") else None
    key = key or new_idempotency_key()
    state.update_job(rel, analysis.name, key=key, job_id=None, state=None, error=None, kept=None)
    try:
        created = batch.client.start_job(analysis.job_type, state.session_id, file=name,
                                         options=analysis.options, idempotency_key=key, **batch.hook)
    except MusicAnalyzerError as e:
        if fatal(e):
            raise
        state.update_job(rel, analysis.name, state="failed", error=e.to_dict(), brief=f"failed: {e.message}")
        batch.out.err.print(f"{rel} {analysis.name}: {e}", style="red")
        return None
    job_id = str(created["job_id"])
    # an end (a cached answer is one) is recorded once followed, with its summary: recorded here, a run stopped
    # before the follow left "succeeded" with no summary, and --resume showed "done earlier" with an empty column
    now = created.get("state")
    state.update_job(rel, analysis.name, job_id=job_id, state=None if now in TERMINAL_STATES else now)
    return job_id


def outcome(batch: Batch, path: Path) -> dict[str, Any]:
    rel = path.relative_to(batch.folder).as_posix()
    entry = batch.state.data["files"].get(rel) or {"name": None, "error": None, "jobs": {}}
    jobs = {a.name: entry["jobs"].get(a.name) or {} for a in batch.analyses}
    if rel not in batch.reached:
        status = "not reached"
    elif entry.get("error") or any(j.get("state") == "failed" for j in jobs.values()):
        status = "failed"
    elif any(j.get("state") == "canceled" for j in jobs.values()):  # the user's choice: not called a failure
        status = "canceled"
    else:
        status = "done earlier" if rel in batch.skipped else "done"
    return {"file": rel, "name": entry.get("name"), "status": status, "skipped": rel in batch.skipped,
            "error": entry.get("error"),
            "jobs": {n: {k: j.get(k) for k in ("job_id", "state", "brief", "error", "kept")} for n, j in jobs.items()}}


def report(batch: Batch, rows: list[dict[str, Any]]) -> None:
    out = batch.out
    counts = {s: sum(r["status"] == s for r in rows)
              for s in ("done", "done earlier", "failed", "canceled", "not reached")}
    if out.json:
        out.emit({"session_id": batch.state.session_id, "state_file": str(batch.state.path), "counts": counts,
                  "files": rows})
        return
    names = [a.name for a in batch.analyses]
    table = []
    for r in rows:
        cells = [r["jobs"][n].get("brief") or "" for n in names]
        if r["error"]:  # the upload was refused: no job ran
            cells = [r["error"]["message"]] + [""] * (len(names) - 1)
        # the name the server gave, where it differs (a clash: a_b.wav stored as a_b-1.wav, whose results are named
        # after it; a stranger found the mapping only in --json)
        shown = r["file"] if not r["name"] or r["name"] == Path(r["file"]).name else f"{r['file']} → {r['name']}"
        table.append([shown, r["status"], *cells])
    out.table(["file", "status", *names], table, title=f"session {batch.state.session_id}")
    out.out.print(", ".join(f"{n} {s}" for s, n in counts.items() if n))
