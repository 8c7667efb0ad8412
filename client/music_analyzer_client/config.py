"""Where the command line finds the server and the user: flags, then the environment (MA_URL, MA_USER,
MA_PASSWORD), then the config file `music-analyzer login` writes. The password is never written to that file:
it lives in the OS keyring (with the optional `keyring` package and a working backend), or is read from
MA_PASSWORD, or asked for on the terminal each time.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import MusicAnalyzerError

APP = "music-analyzer"
DEFAULT_URL = "http://127.0.0.1:8000"  # run.py's default port


class CredentialsError(MusicAnalyzerError):
    """No password could be found (exit code 3, like refused credentials): no request was sent."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="no_password")

    def __str__(self) -> str:
        return self.message

    def exit_code(self) -> int:
        return 3


def config_path() -> Path:
    """MA_CONFIG, else the platform's per-user config folder."""
    explicit = os.environ.get("MA_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    if os.name == "nt":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / APP / "config.json"


def state_dir() -> Path:
    """The per-user folder for state that is not configuration (batch progress files)."""
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / APP


def read_config() -> dict[str, Any]:
    path = config_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise CredentialsError(f"cannot read the config file {path}: {e}; fix or delete it") from e
    return data if isinstance(data, dict) else {}


def write_config(url: str, user: str | None) -> Path:
    """Write {url, user} (never a password) readable by the user only, atomically."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"url": url, "user": user}, fh, indent=2)
        fh.write("\n")
    tmp.replace(path)
    return path


def _keyring() -> Any | None:
    """The keyring module when it is installed and has a real backend (a headless Linux often has none)."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:  # a broken backend configuration: as good as none
        return None
    return None if isinstance(backend, fail.Keyring) else keyring


def keyring_name() -> str:
    """Where the keyring keeps passwords, in words: an OS service, or keyrings.alt's files (a stranger was told
    "the OS keyring" while the password sat base64-encoded in a file of their home folder)."""
    keyring = _keyring()
    if keyring is None:
        return "none"
    backend = keyring.get_keyring()
    kind = type(backend).__module__ + "." + type(backend).__name__
    if kind.startswith("keyrings.alt.file"):
        where = getattr(backend, "file_path", "a file")
        return f"{type(backend).__name__}: a file, {where}, readable by your user only, not encrypted" \
            if "Plaintext" in type(backend).__name__ else f"{type(backend).__name__}: an encrypted file, {where}"
    return f"{type(backend).__name__}, the OS keyring"


def _keyring_account(url: str, user: str) -> str:
    return f"{user}@{url}"  # one password per user and server


def keyring_password(url: str, user: str) -> str | None:
    keyring = _keyring()
    if keyring is None:
        return None
    try:
        found = keyring.get_password(APP, _keyring_account(url, user))
    except Exception:  # a locked or unreachable keyring: ask instead
        return None
    return str(found) if found is not None else None


def store_password(url: str, user: str, password: str) -> bool:
    """True when the OS keyring now holds the password."""
    keyring = _keyring()
    if keyring is None:
        return False
    try:
        keyring.set_password(APP, _keyring_account(url, user), password)
    except Exception:
        return False
    return True


def forget_password(url: str, user: str) -> bool:
    keyring = _keyring()
    if keyring is None:
        return False
    try:
        keyring.delete_password(APP, _keyring_account(url, user))
    except Exception:  # nothing stored
        return False
    return True


@dataclass(frozen=True)
class Credentials:
    url: str
    user: str | None
    password: str | None
    token: str | None = None  # an API token (MA_TOKEN): sent in place of the user and password


def resolve(url: str | None = None, user: str | None = None, *, ask: bool = True,
            anonymous: bool = False) -> Credentials:
    """Flags first, then MA_URL / MA_TOKEN (an API token: no user or password then) / MA_USER / MA_PASSWORD,
    then the config file and the keyring; a password
    that is still missing is asked for on the terminal (`ask`), else CredentialsError, or with `anonymous`
    (a route that needs no credentials) no user at all."""
    config = read_config()
    url = (url or os.environ.get("MA_URL") or config.get("url") or DEFAULT_URL).rstrip("/")
    token = os.environ.get("MA_TOKEN") or None
    if token is not None and not user:  # an API token stands for its user; --user asks for a password instead
        return Credentials(url, None, None, token)
    user = user or os.environ.get("MA_USER") or config.get("user") or None
    if user is None:  # a server run with AUTH_DISABLED needs no user
        return Credentials(url, None, None)
    password = os.environ.get("MA_PASSWORD") or keyring_password(url, user)
    if password is None and ask and sys.stdin.isatty():
        password = getpass.getpass(f"password of {user} at {url}: ")
    if password is None and anonymous:
        return Credentials(url, None, None)
    if password is None:
        raise CredentialsError(f"no password for {user} at {url}: set MA_PASSWORD, or run `music-analyzer login` "
                               f"where an OS keyring is available (pip install 'music-analyzer-client[keyring]')")
    return Credentials(url, user, password)
