"""`login`: ask for the server, user and password, check them against the server, remember the server and user in
the config file and the password in the OS keyring (never in the file). `logout` forgets them."""

from __future__ import annotations

import getpass
import os
import sys

from .client import MusicAnalyzer
from .config import DEFAULT_URL, config_path, forget_password, keyring_name, read_config, store_password, write_config
from .errors import EXIT_OK, MusicAnalyzerError, UsageError
from .paths import path_of, server_url
from .ui import Output


def _ask(prompt: str, default: str | None) -> str | None:
    """A value typed on the terminal (Enter keeps `default`); without a terminal, `default`."""
    if not sys.stdin.isatty():
        return default
    typed = input(f"{prompt}{f' [{default}]' if default else ''}: ").strip()
    return typed or default


def _password(user: str, url: str, password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if os.environ.get("MA_PASSWORD"):
        return os.environ["MA_PASSWORD"]
    if sys.stdin.isatty():
        return getpass.getpass(f"password of {user} at {url}: ")
    raise UsageError("no password: type it on a terminal, pass --password-stdin, or set MA_PASSWORD")


def login(url: str | None, user: str | None, *, password_stdin: bool, out: Output) -> int:
    config = read_config()
    url = url or os.environ.get("MA_URL") or _ask("server", config.get("url") or DEFAULT_URL)
    user = user or os.environ.get("MA_USER") or _ask("user", config.get("user"))
    if not url or not user:
        raise UsageError("login needs a server and a user: --url and --user, or MA_URL and MA_USER")
    url = server_url(url)
    password = _password(user, url, password_stdin)
    try:
        MusicAnalyzer(url, user, password).jobs_page(limit=1)  # a route that needs the login: refused -> exit 3
    except MusicAnalyzerError as e:
        raise _at_a_route(e, url) from None
    stored = store_password(url, user, password)
    path = write_config(url, user)
    if out.json:
        out.emit({"url": url, "user": user, "config": str(path), "password": "keyring" if stored else None})
        return EXIT_OK
    out.out.print(f"logged in to {url} as {user}; remembered in {path}")
    if stored:
        out.out.print(f"the password is in the keyring ({keyring_name()})")
    else:
        out.out.print("no OS keyring here (pip install 'music-analyzer-client[keyring]'): the password is not "
                      "stored; commands ask for it, or read MA_PASSWORD")
    return EXIT_OK


def _at_a_route(error: MusicAnalyzerError, url: str) -> MusicAnalyzerError:
    """A server address with a path that the check found no API at (a 404, or a page rather than JSON) names the
    likely cause: the address of one of the server's pages, such as `http://studio:8000/docs` or `.../sessions`,
    had read "no docs file 'jobs'" or "session 'jobs' does not exist"."""
    if path_of(url) and (error.status == 404 or error.code == "not_json"):
        root = url[: len(url) - len(path_of(url))].rstrip("/")
        error.message = (f"{error.message}; {url} is not where the server's API starts (its path names one of the "
                         f"server's pages or routes): give the server's address without it, such as {root}")
    return error


def logout(out: Output) -> int:
    config = read_config()
    url, user = config.get("url"), config.get("user")
    forgot = bool(url and user and forget_password(url, user))
    path = config_path()
    removed = path.exists()
    path.unlink(missing_ok=True)
    if out.json:
        out.emit({"config_removed": removed, "keyring_cleared": forgot})
    else:
        out.out.print(f"forgot {user or 'nobody'} at {url or 'no server'}" + (" and the stored password" if forgot
                                                                             else ""))
    return EXIT_OK
