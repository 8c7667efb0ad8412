"""API tokens: long random secrets a user makes for scripts and apps, sent as `Authorization: Bearer <token>`
in place of their password, each revocable on its own.

A token is `ma_<id>_<secret>`: the id (12 hex digits) finds its entry, the secret (32 random bytes) proves it.
DATA_DIR/api-tokens.json (0600) keeps each entry's owner, name, creation time and the secret's SHA-256, never the
token (a digest is enough for 256 random bits; a password needs a slow hash because people choose it). The file
is written whole (beside it, fsync, rename) under a lock every process takes, and read again whenever it changed,
so a token revoked through one API process is refused by every other at its next request. Not in Redis: the job
queue's data may be lost with its server (it keeps nothing on disk here), and tokens must outlive that.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from worker.errors import (
    DISK_FULL_MESSAGE,
    NO_SPACE_ERRNOS,
    ConflictError,
    InsufficientStorageError,
    InvalidRequestError,
    MusicAnalyzerError,
)

log = logging.getLogger(__name__)

TOKENS_FILE = "api-tokens.json"
MAX_TOKENS_PER_USER = 50  # bounds the file (and a stolen password's spree)
MAX_NAME_CHARS = 100
TOKEN_RE = re.compile(r"^ma_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
TOKEN_ID_RE = re.compile(r"^[0-9a-f]{12}$")


class TokensUnavailableError(MusicAnalyzerError):
    """The tokens file is there but cannot be read (a hand edit gone wrong, its permissions): no token changes."""

    code = "tokens_unavailable"
    http_status = 503


@dataclass(frozen=True)
class TokenInfo:
    """What a user sees of a token after it was made: never the secret again."""

    id: str
    user: str
    name: str
    created_at: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    """The tokens of one data directory. Thread-safe; every process on the directory sees the same tokens."""

    def __init__(self, data_dir: str | os.PathLike[str]):
        self.path = Path(data_dir) / TOKENS_FILE
        self._lock = threading.Lock()
        self._seen: tuple[tuple[int, int, int], dict[str, dict[str, Any]]] | None = None

    # -- reading ----------------------------------------------------------------------------------------------
    def _entries(self) -> dict[str, dict[str, Any]]:
        """The file's entries, read again only when it changed (one stat per request)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return {}
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        with self._lock:
            if self._seen is not None and self._seen[0] == stamp:
                return self._seen[1]
        try:
            entries = json.loads(self.path.read_text())["tokens"]
            if not isinstance(entries, dict):
                raise ValueError("tokens is not an object")
        except (OSError, ValueError, KeyError, TypeError) as e:  # refused, not guessed at: no token passes
            log.error("API tokens file %s cannot be read (%s): every token is refused until it is fixed",
                      self.path.name, type(e).__name__)
            return {}
        with self._lock:
            self._seen = (stamp, entries)
        return entries

    def user_of(self, token: str) -> str | None:
        """The user a well-formed, known token belongs to; None for anything else (in constant time per entry)."""
        found = TOKEN_RE.match(token or "")
        if found is None:
            return None
        entry = self._entries().get(found.group(1))
        if entry is None or not hmac.compare_digest(str(entry.get("sha256", "")), _digest(found.group(2))):
            return None
        return str(entry["user"])

    def tokens_of(self, user: str) -> list[TokenInfo]:
        """The user's tokens, oldest first."""
        found = [TokenInfo(id=i, user=e["user"], name=e["name"], created_at=e["created_at"])
                 for i, e in self._entries().items() if e.get("user") == user]
        return sorted(found, key=lambda t: (t.created_at, t.id))

    # -- writing ----------------------------------------------------------------------------------------------
    def create(self, user: str, name: str) -> tuple[TokenInfo, str]:
        """A new token of `user` named `name`: its info and the token itself (shown once, kept nowhere)."""
        name = check_name(name)
        with self._locked() as entries:
            if sum(1 for e in entries.values() if e.get("user") == user) >= MAX_TOKENS_PER_USER:
                raise ConflictError(f"you have {MAX_TOKENS_PER_USER} tokens, the most a user may have: revoke one "
                                    "you no longer use first", code="too_many_tokens")
            token_id = secrets.token_hex(6)
            while token_id in entries:
                token_id = secrets.token_hex(6)
            secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
            created = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            info = TokenInfo(id=token_id, user=user, name=name, created_at=created)
            entries[token_id] = {"user": user, "name": name, "created_at": created, "sha256": _digest(secret)}
            self._write(entries)
        return info, f"ma_{token_id}_{secret}"

    def revoke(self, user: str, token_id: str) -> bool:
        """Remove `user`'s token `token_id`; False when they have no such token."""
        with self._locked() as entries:
            if entries.get(token_id, {}).get("user") != user:
                return False
            del entries[token_id]
            self._write(entries)
        return True

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, dict[str, Any]]]:
        """The file's entries read afresh under the lock every process on the directory takes, held while they
        are changed and written. A file that cannot be read is never written over (its tokens would be lost)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(f".{TOKENS_FILE}.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                entries = json.loads(self.path.read_text())["tokens"]
            except FileNotFoundError:
                entries = {}
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise TokensUnavailableError("the API tokens file cannot be read; an operator must fix it "
                                             "first") from e
            yield entries

    def _write(self, entries: dict[str, dict[str, Any]]) -> None:
        tmp = self.path.with_name(f".{TOKENS_FILE}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump({"tokens": entries}, fh, indent=1, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as e:
            if e.errno in NO_SPACE_ERRNOS:  # nothing changed: the old file stands whole
                raise InsufficientStorageError(DISK_FULL_MESSAGE) from e
            raise
        finally:
            tmp.unlink(missing_ok=True)


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS or not name.isprintable():
        raise InvalidRequestError(f"a token's name is 1-{MAX_NAME_CHARS} printable characters (what it is for: "
                                  "\"ci\", \"my app\")", code="invalid_token_name")
    return name.strip()
