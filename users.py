"""Users and roles: who may log in (AUTH_USERS), who is an admin (ADMIN_USERS), and who is calling.

Every session and job has an owner, the name of the user who made it. An ordinary user reaches only
their own; an admin reaches everyone's. Roles are a setting: `ADMIN_USERS=alice,bob` (`python manage.py
add-user NAME --admin` writes it). With AUTH_DISABLED (local use only) the one caller is `LOCAL_USER`,
an admin.
"""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.security import generate_password_hash

log = logging.getLogger(__name__)

LOCAL_USER = "local"  # the caller when AUTH_DISABLED
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
