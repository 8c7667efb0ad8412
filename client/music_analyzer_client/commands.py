"""The small commands: jobs, cancel, download, sessions, models, health (its worker table: health_table.py)."""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .client import MusicAnalyzer
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_UNAVAILABLE, MusicAnalyzerError, UsageError, busy_hint
from .health_table import show_workers
from .kept import kept_result, stopped_note, with_error
from .records import Job, SessionFile, Upload
from .retries import attempt_text
from .ui import STATE_STYLE, Output, eta_text, generation_text, place_text
from .watching import CommandFollow, Followed, Follower, ask_cancel, wait_all
from .webhooks import webhook_args

ACTIVE = ["queued", "running"]


def _short_time(iso: str | None) -> str:
    return (iso or "")[:19].replace("T", " ")


ERROR_SHOWN_CHARS = 80  # of a failed job's error message, in the stage column


def _job_row(job: Job | dict[str, Any]) -> list[str]:
    progress = job.get("progress")
    # what it ran (`type` is its route's name: a REPET separation is `demucs`), and a retried job's attempt
    attempt = attempt_text(dict(job))
    return [str(job.get("job_id")), str(job.get("type")), str(job.get("method") or "-"),
            str(job.get("session_id") or "-"), f"{job.get('state')} ({attempt})" if attempt else str(job.get("state")),
            f"{100 * float(progress):.0f}%" if progress is not None else "", _stage(job),
            _short_time(job.get("created_at"))]


def _stage(job: Job | dict[str, Any]) -> str:
    """The stage; for a failed job its error's code and message (a stranger's table read "failed / failed", the
    reason in no command's output but --json)."""
    error = job.get("error") or {}
    if job.get("state") == "queued":  # its place in the queue and when it may start (a server before them: none)
        return f"{job.get('stage') or 'queued'}{place_text(dict(job), start=True)}"
    if job.get("state") not in ("failed", "unknown") or not error:  # unknown: why it could not be followed
        # a text generation under way: its tokens of the budget, rate and time left; else the job's time left
        left = f" · {left}" if (left := eta_text(dict(job))) else ""
        return generation_text(dict(job)) or f"{job.get('stage') or ''}{left}"
    message = str(error.get("message") or "")
    cut = message if len(message) <= ERROR_SHOWN_CHARS else message[:ERROR_SHOWN_CHARS - 1] + "…"
    return f"{error.get('code') or 'failed'}: {cut}" if cut else str(error.get("code") or "failed")


JOB_COLUMNS = ["job", "type", "method", "session", "state", "progress", "stage", "created"]


def _job_table(out: Output, jobs: Sequence[Job | dict[str, Any]], *, caller: str | None) -> None:
    """The jobs' table; with an owner column where one of them is not the caller's (an admin's listing: a
    stranger could not tell bob's job in his session `al1` from alice's in hers of the same name)."""
    if any(j.get("owner") and j.get("owner") != caller for j in jobs):
        out.table(["owner", *JOB_COLUMNS], [[str(j.get("owner") or "-"), *_job_row(j)] for j in jobs])
    else:
        out.table(JOB_COLUMNS, [_job_row(j) for j in jobs])


def jobs(client: MusicAnalyzer, args: argparse.Namespace, out: Output) -> int:
    filters: dict[str, Any] = {"session_id": args.session, "types": args.type, "states": args.state}
    if args.watch:
        return _watch(client, {**filters, "states": args.state or ACTIVE}, out)
    # --limit counts jobs, not pages: a page ends early once its results are big (the server's 8 MB)
    # one past the limit: a listing cut at --limit says so, as `library tracks` does (it had ended without a word)
    found = list(client.jobs(**filters) if args.all
                 else itertools.islice(client.jobs(page_size=min(args.limit + 1, 1000), **filters), args.limit + 1))
    more = not args.all and len(found) > args.limit
    found = found[:args.limit] if more else found
    if out.json:
        out.emit(found)
    elif not found:
        out.note("no jobs")
    else:
        _job_table(out, found, caller=client.user)
    if more:
        out.note(f"the first {args.limit} job{'s' if args.limit != 1 else ''}: more match (--all lists every one, "
                 "--limit N more of them)")
    return EXIT_OK


def _watch(client: MusicAnalyzer, filters: dict[str, Any], out: Output) -> int:
    """Follow the matching unfinished jobs with a bar each until they have all ended."""
    active = [j for j in client.jobs(**filters) if j.get("state") in ACTIVE]
    if not active:
        out.note("no queued or running jobs")
        if out.json:
            out.emit([])
        return EXIT_OK
    tracker = out.tracker()
    follower = Follower(client, tracker)
    try:
        with tracker:
            for job in reversed(active):  # oldest first, as they will finish
                follower.follow(job["job_id"], f"{job.get('type')} {job['job_id'][:8]}")
            wait_all(follower.followed)
    except KeyboardInterrupt:
        ask_cancel(client, [f.job_id for f in follower.unfinished()], out)
        return EXIT_INTERRUPTED
    listed = {j["job_id"]: j for j in active}
    records = [f.record or _unfollowed(listed[f.job_id], f) for f in follower.followed]
    if out.json:
        out.emit(records)
    else:
        _job_table(out, records, caller=client.user)
    return EXIT_FAILED if any(r.get("state") != "succeeded" for r in records) else EXIT_OK


def _unfollowed(listed: Job | dict[str, Any], followed: Followed) -> dict[str, Any]:
    """A job whose end could not be read, as listed when the watch began, with why: its record gone from the server
    (a Redis that came back empty) had read "None  -  unknown" in the table, the reason in no output."""
    record: dict[str, Any] = {**listed, "state": followed.state, "progress": None, "stage": ""}
    if followed.error is not None:
        record["error"] = {"code": followed.error.code,
                           "message": f"could not follow the job: {followed.error.message}"}
    return record


def cancel(client: MusicAnalyzer, args: argparse.Namespace, out: Output) -> int:
    return _each(args.job_ids, client.cancel, lambda job_id, answer: (
        f"{job_id}: {answer['state'].replace('_', ' ')}"), key="job_id", out=out, style="yellow")


def _each(items: Sequence[str], act: Callable[[str], dict[str, Any]], said: Callable[[str, dict[str, Any]], str], *,
          key: str, out: Output, style: str | None = None) -> int:
    """One request per item, in turn: a line per answer; a refusal is that item's error and the rest go on (exit 1);
    no server or no login ends the command. --json: the answers and errors as a list."""
    results: list[dict[str, Any]] = []
    code = EXIT_OK
    for item in items:
        try:
            answer = act(item)
            results.append(answer)
            out.note(said(item, answer), style=style)
        except MusicAnalyzerError as e:
            if e.unreachable or e.auth_failed:
                raise
            results.append({key: item, "error": e.to_dict()})
            out.err.print(f"{item}: {e.message}", style="red")
            if hint := busy_hint(e):
                out.warn(hint)
            code = EXIT_FAILED
    if out.json:
        out.emit(results)
    return code


def download(client: MusicAnalyzer, args: argparse.Namespace, out: Output) -> int:
    """A session's results (and with --uploads its uploads) into a folder. A file already there is kept (a
    stranger's edited .txt was replaced because its size had changed); --overwrite replaces one that differs.
    An upload named like a result goes into the folder's `uploads/` (a stranger's album art features_s.png was
    never saved, and the result written a moment before was reported as "already there")."""
    folder = Path(args.out or args.session).expanduser()
    if folder.exists() and not folder.is_dir():  # before any request, as `analyze --out` checks it
        # it had read "error: x.mp3: File exists (local_error)" and exit 1, after asking the server
        raise UsageError(f"--out {folder}: not a folder" if args.out else
                         f"{folder} is a file here: give the folder to download into with --out DIR")
    session = client.session(args.session)
    folder.mkdir(parents=True, exist_ok=True)
    wanted: list[tuple[str, SessionFile | Upload]] = [("results", f) for f in session.get("results", [])]
    result_names = {f["name"] for f in session.get("results", [])}
    if args.uploads:
        wanted += [("uploads", f) for f in session.get("files", [])]
    done = []
    for area, f in wanted:
        dest = folder / f["name"]
        if area == "uploads" and f["name"] in result_names:
            (folder / "uploads").mkdir(exist_ok=True)
            dest = folder / "uploads" / f["name"]
        same_size = dest.is_file() and dest.stat().st_size == f.get("bytes")
        skipped = dest.exists() and not args.overwrite  # sizes cannot tell an edit that kept the size
        if not skipped:
            client.download(args.session, f["name"], dest, area=area)
            out.note(f"wrote {dest}")
        elif not same_size:
            out.warn(f"kept {dest}: it differs from the server's {f['name']} (--overwrite replaces it)")
        done.append({"name": f["name"], "area": area, "path": str(dest), "bytes": f.get("bytes"),
                     "skipped": skipped})
    if out.json:
        out.emit({"session_id": args.session, "out": str(folder), "files": done})
    else:
        kept = sum(1 for d in done if d["skipped"])
        out.out.print(f"{len(done) - kept} file(s) written to {folder}" + (f", {kept} already there" if kept else ""))
    return EXIT_OK


def sessions(client: MusicAnalyzer, args: argparse.Namespace, out: Output) -> int:
    # the last changed first, as `jobs` lists the newest first: by id, a stranger's session of a moment ago was
    # somewhere in the middle of the list; the server's order (--json too) where it has it
    try:
        found, ordered = list(client.sessions(order="modified")), True
    except MusicAnalyzerError as e:
        if e.code != "invalid_filter":
            raise
        found, ordered = list(client.sessions()), False  # a server without ?order= (400): sorted here
    if out.json:
        out.emit(found)
    elif not found:
        out.note("no sessions: start one with `music-analyzer analyze FILE`")
    else:
        newest = found if ordered else sorted(found, key=lambda s: str(s.get("modified_at") or ""), reverse=True)
        out.table(["session", "uploads", "results", "modified"],
                  [[s["session_id"], str(s.get("files")), str(s.get("results")), _short_time(s.get("modified_at"))]
                   for s in newest])
    if not out.json:
        storage = client.storage()
        if storage is not None:
            out.note(_storage_line(storage, whose=f"{client.owner}'s" if client.owner else "your"))
    return EXIT_OK


def _storage_line(storage: dict[str, Any], *, whose: str = "your") -> str:
    used, quota = int(storage.get("used_bytes") or 0), storage.get("quota_bytes")
    if quota is None:
        return f"{whose} sessions hold {_bytes(used)} (no storage quota)"
    share = used / max(int(quota), 1)
    reserved = int(storage.get("reserved_bytes") or 0)  # what queued and running jobs will write: counted too
    pending = f"; queued and running jobs will write about {_bytes(reserved)} more" if reserved else ""
    return (f"{whose} sessions hold {_bytes(used)} of {whose} {_bytes(int(quota))} storage quota "
            f"({share:.0%}){pending}")


def _bytes(n: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


CANCELED_TEXT_WAIT_SECONDS = 60.0  # a canceled generation ends at its next token (a long prompt: its next layer)


def models(client: MusicAnalyzer, args: argparse.Namespace, out: Output) -> int:
    if args.models_command == "status":
        status = client.model_status()
        if out.json:
            out.emit(status)
        else:
            _print_models(status, out)
        return EXIT_OK
    follow = CommandFollow(out, args.models_command)
    code = EXIT_OK
    hook = webhook_args(args)
    try:
        if args.models_command == "load":
            result = follow.run(lambda queued, heard: client.load_model(args.name, on_queued=queued, on_event=heard,
                                                                        **hook))
        elif args.models_command == "unload":
            result = follow.run(lambda queued, heard: client.unload_model(on_queued=queued, on_event=heard, **hook))
        else:
            options = {k: v for k, v in (("model_type", args.model), ("max_length", args.max_length),
                                         ("temperature", args.temperature), ("system", args.system),
                                         ("seed", args.seed)) if v is not None}
            result = follow.run(lambda queued, heard: client.generate(args.prompt, on_queued=queued, on_event=heard,
                                                                      **hook, **options))
    except KeyboardInterrupt:
        canceled = ask_cancel(client, follow.queued, out)
        if args.models_command == "generate" and canceled:  # it stops at its next token: what it wrote is shown
            kept = client.wait(canceled[0], timeout=CANCELED_TEXT_WAIT_SECONDS).get("result") or {}
            if kept.get("response"):
                out.warn("the text written before the cancel:")
                out.out.print(str(kept["response"]))
        return EXIT_INTERRUPTED
    except MusicAnalyzerError as e:  # a generation canceled or time-limited midway: its text is still the user's
        if (partial := kept_result(e, "response")) is None:
            raise
        out.warn(stopped_note(args.models_command, e))
        result, code = with_error(partial, e), EXIT_FAILED
    if out.json:
        out.emit(result)
    elif args.models_command == "generate":
        out.out.print(str(result.get("response", "")))
        out.note(f"{result.get('model')}: {result.get('tokens_generated')} tokens in {result.get('seconds')} s")
    else:
        out.out.print(", ".join(f"{k}: {v}" for k, v in result.items() if not isinstance(v, dict | list)))
    return code


def _mib(value: Any) -> str:
    return f"{value / 2**20:.0f} MiB" if isinstance(value, int | float) and value else ""


def _print_models(status: dict[str, Any], out: Output) -> None:
    # the GPU worker's device, once it has published its status (before that it had read "device: ?")
    device = status.get("device") or "not reported yet (no GPU worker has published its status)"
    out.out.print(f"current model: {status.get('current_model') or 'none'} · device: {device}"
                  f" · GPU queue: {status.get('queue_depth', 0)} waiting")
    _print_gpu_workers(status.get("gpu_workers"), out)
    rows = []
    for m in status.get("models", []):
        memory = m.get("memory") or {}
        rows.append([str(m.get("name")), str(m.get("model_type") or ""), "yes" if m.get("downloaded") else "no",
                     _present(m.get("present")), "yes" if m.get("loaded") else "",
                     _mib(memory.get("gpu_allocated_bytes")) or _mib(memory.get("cpu_rss_bytes"))])
    # `present` beside `downloaded`: the API's own look for the weights, which decides whether a job naming the model
    # is refused before it is queued (409); `downloaded` is the publishing worker's view, and the two can differ
    out.table(["model", "type", "downloaded", "present", "loaded", "memory"], rows)


def _print_gpu_workers(workers: Any, out: Output) -> None:
    """A line per GPU worker where two or more serve the queue: which holds what and which can load what (the status'
    `gpu_workers`; names to admins, a number otherwise). The one `current model` line hid where each model was."""
    if not isinstance(workers, list) or len(workers) < 2:
        return
    for i, w in enumerate(w for w in workers if isinstance(w, dict)):
        usable = ", ".join(str(m) for m in w.get("models_usable") or []) or "none"
        out.out.print(f"  GPU worker {w.get('worker') or i + 1}: resident {w.get('current_model') or 'none'}"
                      f" · can load {usable}")


def _present(value: Any) -> str:
    """A row's `present`: "?" where the server does not say (one older than the field, or a model it does not
    register), not a "no" it never answered."""
    return "?" if value is None else "yes" if value else "no"


def health(client: MusicAnalyzer, args: argparse.Namespace, out: Output) -> int:
    h = client.health()
    code = EXIT_UNAVAILABLE if h.get("status") == "unavailable" else EXIT_OK
    if out.json:
        out.emit(h)
        return code
    style = STATE_STYLE["succeeded"] if h.get("status") == "ok" else "yellow" if code == EXIT_OK else "bold red"
    out.out.print(f"{client.base_url}: {h.get('status')}", style=style)
    redis = h.get("redis") or {}
    if not redis.get("ok"):
        out.out.print(f"  redis     down: {redis.get('error') or 'not reachable'}", style="bold red")
        return code
    if redis.get("writable") is False:  # up and read from, but no job can be queued (a full disk under valkey)
        out.out.print(f"  redis     refuses writes: {redis.get('error') or 'its disk is full'}", style="yellow")
    else:
        out.out.print(f"  redis     ok ({redis.get('latency_ms')} ms)")
    out.out.print(f"  workers   {h.get('workers_alive')} alive; queue depth {h.get('queue_depth')}")
    missing = h.get("queues_without_worker") or []
    if missing:
        out.out.print(f"  no worker serves: {', '.join(missing)}", style="yellow")
    for stopped in h.get("stopped_workers") or []:  # a worker its supervisor leaves down (exit status 78), and why
        who = stopped.get("name") or f"a {'/'.join(stopped.get('queues') or [])} worker"
        out.out.print(f"  stopped   {who}: {stopped.get('reason')} (exit status {stopped.get('exit_status')}, not "
                      "restarted; its log says more)", style="yellow")
    if h.get("mixed_code_versions"):  # a worker from another checkout: the reason a server is degraded, said
        out.out.print("  code      the workers run different versions of the analysis code (each worker's "
                      "code_version: --json); start every worker from the same commit", style="yellow")
    disk = h.get("disk") or {}
    if disk.get("ok") is False:  # the reason a server is degraded was not printed (uploads then get 507)
        free, kept = disk.get("free_bytes"), disk.get("min_free_bytes")
        why = (f"{_bytes(int(free))} free, below the {_bytes(int(kept))} the server keeps free; uploads and jobs "
               "are refused" if free is not None and kept is not None else "the data directory cannot be read")
        out.out.print(f"  disk      low: {why}", style="yellow")
    show_workers(out, h)  # after the lines above, unchanged: scripts read them
    return EXIT_OK


def webhook_secret(client: MusicAnalyzer, args: argparse.Namespace, out: Output) -> int:
    """The key to verify your webhook deliveries with, alone on stdout (for a receiver's configuration)."""
    secret = client.webhook_secret()
    if out.json:
        out.emit({"secret": secret})
    else:
        sys.stdout.write(secret + "\n")  # exactly the key: no console wrapping or markup
    return EXIT_OK


def delete(client: MusicAnalyzer, args: argparse.Namespace, out: Output) -> int:
    """Delete a session, or files of it (uploads; results with --results). A whole session is asked about on a
    terminal, and needs --yes otherwise (the page and the CLI had no way to delete anything, while the quota note
    told users to delete sessions)."""
    area = "results" if args.results else None
    if not args.files:
        session = client.session(args.session)  # 404 before any question: a session that is not there
        if not args.yes:
            held = f"{len(session.get('files', []))} uploads, {len(session.get('results', []))} results"
            if not sys.stdin.isatty():
                raise UsageError(f"deleting session {args.session} ({held}) needs --yes when no terminal can ask")
            out.err.print(f"delete session {args.session} ({held})? [y/N] ", end="")
            if sys.stdin.readline().strip().lower() not in ("y", "yes"):
                out.note("nothing deleted")
                return EXIT_OK
        client.delete_session(args.session)
        if out.json:
            out.emit({"session_id": args.session, "deleted": True})
        else:
            out.note(f"session {args.session} deleted")
        return EXIT_OK
    return _each(args.files, lambda name: client.delete_file(args.session, name, area=area), lambda name, answer: (
        f"{args.session}/{answer.get('area', 'uploads')}/{name}: deleted"), key="name", out=out)
