"""Users and roles: who may log in (AUTH_USERS), who is an admin (ADMIN_USERS), and who is calling.

Every session and job has an owner, the name of the user who made it. An ordinary user reaches only
their own; an admin reaches everyone's. Roles are a setting: `ADMIN_USERS=alice,bob` (`python manage.py
add-user NAME --admin` writes it). With AUTH_DISABLED (local use only) the one caller is `LOCAL_USER`,
an admin.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.security import generate_password_hash

log = logging.getLogger(__name__)

LOCAL_USER = "local"  # the caller when AUTH_DISABLED
# What a canceled job's `canceled_by` says besides its owner's own name: the service itself, or an admin who is not
# its owner (jobs/record.py). A user of either name made that ambiguous: no new one is made (manage.py add-user), in
# any case; one already in AUTH_USERS keeps working, with a warning at start.
SYSTEM_CANCELER, ADMIN_CANCELER = "system", "admin"
RESERVED_NAMES = (ADMIN_CANCELER, SYSTEM_CANCELER)


def reserved(name: str) -> bool:
    return name.casefold() in RESERVED_NAMES


def reserved_name_note(names: list[str]) -> str | None:
    """The warning for users of AUTH_USERS with a reserved name (None when there is none)."""
    if not names:
        return None
    listed = ", ".join(repr(n) for n in names)
    return (f"AUTH_USERS has user(s) named {listed}, a name reserved for a canceled job's canceled_by ('admin': an "
            "admin canceled another user's job; 'system': the service did): they keep working, but a job of theirs "
            "that they cancel reads the same; rename them (manage.py add-user NEW, then remove-user OLD)")
MAX_USERNAME_CHARS = 100  # names become folder names (hex-encoded when unusual): stay far below 255 bytes


@dataclass(frozen=True)
class Caller:
    """The user a request acts for."""

    name: str
    admin: bool = False

    def may_see(self, owner: str) -> bool:
        """Whether data owned by `owner` is visible to this caller ('' = owner-less data of old versions)."""
        return self.admin or (bool(owner) and owner == self.name)


def parse_users(spec: str) -> dict[str, str]:
    """'alice:scrypt:...$...,bob:pbkdf2:...' -> {name: hash} (hashes contain ':' but never ',')."""
    users = {}
    for item in (spec or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, hashed = item.partition(":")
        if not sep or not name or not hashed:
            raise RuntimeError(f"AUTH_USERS entry {item[:20]!r}... is not 'name:hash'")
        if len(name) > MAX_USERNAME_CHARS:
            raise RuntimeError(f"AUTH_USERS name {name[:20]!r}... is longer than {MAX_USERNAME_CHARS} characters")
        users[name] = hashed
    return users


def parse_names(spec: str) -> tuple[str, ...]:
    """'alice, bob' -> ('alice', 'bob'), order kept, duplicates dropped."""
    return tuple(dict.fromkeys(n.strip() for n in (spec or "").split(",") if n.strip()))


@dataclass(frozen=True)
class UserDirectory:
    hashes: Mapping[str, str]
    admins: tuple[str, ...]  # configured users named in ADMIN_USERS, in that order
    auth_disabled: bool = False
    unknown_admins: tuple[str, ...] = field(default=())  # ADMIN_USERS names that are not users

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> UserDirectory:
        hashes = parse_users(config.get("AUTH_USERS", ""))
        named = parse_names(config.get("ADMIN_USERS", ""))
        directory = cls(hashes=hashes, admins=tuple(n for n in named if n in hashes),
                        auth_disabled=bool(config.get("AUTH_DISABLED")),
                        unknown_admins=tuple(n for n in named if n not in hashes))
        if (note := reserved_name_note([n for n in hashes if reserved(n)])) is not None:
            log.warning("%s", note)
        if directory.unknown_admins and not directory.auth_disabled:
            log.warning("ADMIN_USERS names %s, which AUTH_USERS does not define: no admin role for them",
                        ", ".join(repr(n) for n in directory.unknown_admins))
        return directory

    def caller(self, name: str) -> Caller:
        return Caller(name, admin=self.auth_disabled or name in self.admins)

    def local_caller(self) -> Caller:
        """The caller of every request when AUTH_DISABLED."""
        return Caller(LOCAL_USER, admin=True)

    def known(self, name: str) -> bool:
        return name in self.hashes or (self.auth_disabled and name == LOCAL_USER)

    @property
    def heir(self) -> str | None:
        """Who receives the owner-less data of older versions: the first admin (the local user when
        AUTH_DISABLED and no admin is named), or nobody."""
        if self.admins:
            return self.admins[0]
        return LOCAL_USER if self.auth_disabled else None

    def dummy_hash(self) -> str:
        """A hash of a random password with the configured users' most common method and cost: an unknown
        name is checked against it, so it answers as slowly as a known name with a wrong password."""
        methods = Counter(h.partition("$")[0] for h in self.hashes.values())
        method = methods.most_common(1)[0][0] if methods else "scrypt"
        try:
            return generate_password_hash(secrets.token_hex(16), method=method)
        except (ValueError, TypeError):  # a method this werkzeug cannot make: its default
            return generate_password_hash(secrets.token_hex(16))


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


class UsersFile:
    """The users as the settings file says now: `manage.py add-user` and `remove-user` count at the next request.

    The processes had read AUTH_USERS and ADMIN_USERS once, at start: a removed user (a leaked password) kept
    every access, open event streams included, until the whole run was restarted, which stopped every other
    user's running jobs. Each look at the users now costs one stat of the file; a changed file is read again
    (python-dotenv, as config.py reads it). A file that no longer parses keeps the users it had, with a warning.
    """

    def __init__(self, directory: UserDirectory, path: Path | None = None):
        self._directory = directory
        self._path = path
        self._stamp = _stamp(path) if path is not None else None
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Mapping[str, Any], path: Path | None) -> UsersFile:
        """Watch `path` when the configured users are the ones it holds (read from it, directly or by systemd's
        EnvironmentFile); not when they came from elsewhere (an app's own settings, compose's environment)."""
        directory = UserDirectory.from_config(config)
        if path is None or directory.auth_disabled:
            return cls(directory)
        try:
            held = _read(path)
        except (OSError, RuntimeError):
            return cls(directory)
        same = (held is not None and held.hashes == directory.hashes and held.admins == directory.admins)
        return cls(directory, path if same else None)

    @property
    def watched(self) -> Path | None:
        return self._path

    def current(self) -> UserDirectory:
        if self._path is None:
            return self._directory
        stamp = _stamp(self._path)
        if stamp == self._stamp:
            return self._directory
        with self._lock:
            if stamp != self._stamp:
                self._reload(stamp)
        return self._directory

    def _reload(self, stamp: tuple[int, int, int] | None) -> None:
        assert self._path is not None
        try:
            found = _read(self._path)
        except (OSError, RuntimeError) as e:
            log.warning("users: %s changed but cannot be read (%s); the users stay as they were", self._path, e)
            found = self._directory
        self._stamp = stamp
        if found is None:  # the file is gone: keep the users (a stranger's editor renames it away and back)
            return
        old = self._directory
        if found.hashes == old.hashes and found.admins == old.admins:
            return
        added = sorted(set(found.hashes) - set(old.hashes))
        removed = sorted(set(old.hashes) - set(found.hashes))
        changed = sorted(n for n in set(found.hashes) & set(old.hashes) if found.hashes[n] != old.hashes[n])
        log.warning("users read again from %s: added %s, removed %s, password changed %s, admins %s", self._path,
                    added or "none", removed or "none", changed or "none", ", ".join(found.admins) or "none")
        self._directory = found


def _read(path: Path) -> UserDirectory | None:
    """The users `path` names (None when it does not exist)."""
    if not path.exists():
        return None
    from dotenv import dotenv_values

    values = {k: v or "" for k, v in dotenv_values(path).items()}
    config = {key: values.get(key, "") for key in ("AUTH_USERS", "ADMIN_USERS")}
    return UserDirectory.from_config(config)
