"""`music-analyzer` (alias `ma`): the command line. Exit codes: 0 ok, 1 a job failed, 2 usage, 3 server
unreachable or credentials refused, 130 interrupted. Errors are the server's messages, never a traceback."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable

from . import analyze, batch, commands, library_cli, login, tokens
from ._version import __version__
from .analyses import add_analysis_flags
from .client import MusicAnalyzer
from .config import resolve
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, MusicAnalyzerError, busy_hint
from .ui import Output
from .webhooks import add_webhook_flags

HINTS: dict[object, str] = {
    "unreachable": "is the server running? Give its address with --url, MA_URL or `music-analyzer login`",
    401: "log in with `music-analyzer login`, or set MA_USER and MA_PASSWORD",
    # a revoked or mistyped MA_TOKEN had been told to set MA_USER and MA_PASSWORD
    "token": "the API token in MA_TOKEN was refused (revoked, or not this server's): make a new one with "
             "`music-analyzer token create NAME` (with your password), or unset MA_TOKEN to use a password",
}
Command = Callable[[MusicAnalyzer, argparse.Namespace, Output], int]

EPILOG = """\
server and user: --url/--user, else MA_URL/MA_TOKEN/MA_USER/MA_PASSWORD, else the config `music-analyzer login` writes.
exit codes: 0 ok, 1 a job failed, 2 usage, 3 server unreachable or credentials refused, 130 interrupted.
"""


def _common() -> argparse.ArgumentParser:
    """Options every command takes, before or after its name (SUPPRESS: an absent one does not overwrite)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=argparse.SUPPRESS, help="server, e.g. http://127.0.0.1:8000 (MA_URL)")
    common.add_argument("--user", default=argparse.SUPPRESS, help="user name (MA_USER)")
    common.add_argument("--owner", default=argparse.SUPPRESS, metavar="USER",
                        help="an admin: work on USER's sessions, jobs and library (the API's ?owner=)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="machine-readable output on stdout (progress and notes stay on stderr)")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(prog="music-analyzer", parents=[common], epilog=EPILOG,
                                     description="Analyse audio on a Music Analyzer server.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, text: str, run: Command | None) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=text, description=text)
        p.set_defaults(run=run)
        return p

    p = add("analyze", "upload files, run analyses, show progress and a summary", analyze.run)
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files (or names already in --session)")
    p.add_argument("--session", metavar="NAME", help="upload into this session (made if new) instead of a new one")
    add_analysis_flags(p)
    p.add_argument("--wait", action="store_true", help="follow the jobs with progress bars and print a summary")
    p.add_argument("--out", metavar="DIR", help="with --wait: download the result files into DIR")
    add_webhook_flags(p)

    p = add("batch", "analyse every audio file of a folder, N jobs at a time, resumable", batch.run)
    p.add_argument("folder", metavar="DIR")
    p.add_argument("--pattern", metavar="GLOB", help="files to take, e.g. '**/*.flac' (default: audio files in DIR)")
    p.add_argument("--jobs", type=int, default=2, metavar="N", help="jobs in flight at once (default 2)")
    p.add_argument("--resume", action="store_true", help="continue the last batch of DIR: skip what is done")
    p.add_argument("--session", metavar="NAME", help="upload into this session (default: a new one)")
    p.add_argument("--state", metavar="FILE", help="the progress file (default: in the user's state folder)")
    add_analysis_flags(p)
    add_webhook_flags(p)

    p = add("jobs", "list your jobs, newest first", commands.jobs)
    p.add_argument("--watch", action="store_true", help="follow the queued and running ones until they end")
    p.add_argument("--session", metavar="NAME")
    p.add_argument("--state", action="append", metavar="STATE", help="queued, running, succeeded, failed, canceled")
    p.add_argument("--type", action="append", metavar="TYPE", help="features, pitch, demucs, whisper, gemma_3n...")
    p.add_argument("--limit", type=library_cli.positive, default=20, metavar="N", help="how many (default 20)")
    p.add_argument("--all", action="store_true", help="every job, page after page")

    p = add("cancel", "cancel jobs (a running one stops at its next checkpoint)", commands.cancel)
    p.add_argument("job_ids", nargs="+", metavar="JOB")

    p = add("download", "download a session's result files", commands.download)
    p.add_argument("session", metavar="SESSION")
    p.add_argument("--out", metavar="DIR", help="folder (default: ./SESSION)")
    p.add_argument("--uploads", action="store_true", help="the uploaded audio too")
    p.add_argument("--overwrite", action="store_true", help="download every file again, replacing local ones")

    p = add("delete", "delete a session, or files of it (uploads; results with --results)", commands.delete)
    p.add_argument("session", metavar="SESSION")
    p.add_argument("files", nargs="*", metavar="FILE", help="uploads (or results) to delete; none: the whole session")
    p.add_argument("--results", action="store_true", help="FILE names results, not uploads")
    p.add_argument("--yes", action="store_true", help="delete a whole session without asking")

    add("sessions", "list your sessions", commands.sessions)
    add("health", "is the server up, are workers serving the queues", commands.health)
    add("webhook-secret", "print your key for checking webhook deliveries (verify_webhook in Python)",
        commands.webhook_secret)
    tokens.add_parser(add("token", "API tokens for scripts and apps: create, list, revoke", tokens.run), common)
    _models_parser(add("models", "LLM status, load, unload, generate", commands.models), common)
    library_cli.add_parser(add("library", "your analysed tracks: list, search, similar, ask, reindex",
                               library_cli.run), common)

    p = add("login", "check and remember the server and user (the password goes to the OS keyring)", None)
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin (scripts)")
    add("logout", "forget the remembered server, user and password", None)
    return parser


def _models_parser(p: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    sub.add_parser("status", parents=[common], help="loaded model, memory, downloaded weights")
    load = sub.add_parser("load", parents=[common], help="load an LLM (unloading the resident one)")
    load.add_argument("name", metavar="MODEL")
    sub.add_parser("unload", parents=[common], help="unload the resident LLM")
    gen = sub.add_parser("generate", parents=[common], help="generate text")
    gen.add_argument("prompt", metavar="PROMPT")
    gen.add_argument("--model", metavar="MODEL", help="the LLM (default: the loaded one, or the server's default)")
    gen.add_argument("--max-length", type=int, metavar="N", help="new tokens at most")
    gen.add_argument("--temperature", type=float, metavar="T", help="0 = greedy")
    gen.add_argument("--system", metavar="TEXT", help="a system prompt")
    gen.add_argument("--seed", type=int)
    for q in (load, gen, sub.choices["unload"]):
        add_webhook_flags(q)
        # the command follows its job to the end (Ctrl-C asks whether to cancel it); scripts may still pass it
        q.add_argument("--wait", type=float, default=None, metavar="SECONDS", help=argparse.SUPPRESS)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # usage errors: argparse prints them and exits 2
    out = Output(json_mode=getattr(args, "json", False))
    try:
        return _run(args, out)
    finally:
        # the program ends: a second Ctrl-C (`timeout` and a terminal signal the whole process group) landing in an
        # exit handler had printed urllib3's KeyboardInterrupt traceback after the clean "interrupted" message
        if argv is None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run(args: argparse.Namespace, out: Output) -> int:
    try:
        return _dispatch(args, out)
    except MusicAnalyzerError as e:
        out.error(e)
        sent_token = e.status == 401 and _token_sent(args)
        hint = HINTS.get("unreachable" if e.unreachable else "token" if sent_token else e.status if e.auth_failed
                         else None) or busy_hint(e)
        if hint:
            out.warn(hint)
        return e.exit_code()
    except KeyboardInterrupt:
        out.warn("interrupted")
        return EXIT_INTERRUPTED
    except EOFError:  # Ctrl-D at a prompt (login's server, user or password; a password asked for): an answer refused
        # it had read "error: unexpected EOFError:  (MA_DEBUG=1 shows where) (client_error)", exit 1, as if a bug
        out.warn("no answer (end of input at the prompt): nothing done")
        return EXIT_INTERRUPTED
    except OSError as e:  # a local file: unreadable, disk full
        out.error(MusicAnalyzerError(f"{e.filename or ''}: {e.strerror or e}".lstrip(": "), code="local_error"))
        return EXIT_USAGE if isinstance(e, FileNotFoundError | IsADirectoryError) else EXIT_FAILED
    except Exception as e:  # a bug of this program: one line, the traceback only on request
        if os.environ.get("MA_DEBUG"):
            traceback.print_exc()
        out.error(MusicAnalyzerError(f"unexpected {type(e).__name__}: {e} (MA_DEBUG=1 shows where)",
                                     code="client_error"))
        return EXIT_FAILED


def _token_sent(args: argparse.Namespace) -> bool:
    """Whether the command authenticated with MA_TOKEN (resolve's rule: a token unless --user is given)."""
    return bool(os.environ.get("MA_TOKEN")) and not getattr(args, "user", None) \
        and args.command not in ("login", "logout")


def _dispatch(args: argparse.Namespace, out: Output) -> int:
    url, user = getattr(args, "url", None), getattr(args, "user", None)
    if args.command == "login":
        return login.login(url, user, password_stdin=args.password_stdin, out=out)
    if args.command == "logout":
        return login.logout(out)
    # GET /health needs no credentials: without a password `health` shows the public view (a stranger's exit 3)
    credentials = resolve(url, user, anonymous=args.command == "health")
    client = MusicAnalyzer(credentials.url, credentials.user, credentials.password, token=credentials.token,
                           owner=getattr(args, "owner", None))
    run: Command = args.run
    return run(client, args, out)


if __name__ == "__main__":
    sys.exit(main())
