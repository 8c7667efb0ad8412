"""Small admin commands.

    python manage.py hash-password            # prints a hash for AUTH_USERS
    python manage.py add-user NAME            # asks for a password, appends NAME:hash to .env
    python manage.py add-user NAME --admin    # the same, and NAME joins ADMIN_USERS (sees every user's data)
    python manage.py remove-user NAME         # NAME leaves AUTH_USERS and ADMIN_USERS; their data stays
    python manage.py list-users               # the users and their roles, as the service reads them
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from werkzeug.security import generate_password_hash

from config import env_file
from users import MAX_USERNAME_CHARS, RESERVED_NAMES, reserved

RESERVED_MARK = " (a reserved name: rename this user, see README)"
MIN_PASSWORD_CHARS = 8  # what add-user and hash-password accept (the README's examples use such a password)
# the API, its event server and the workers read the users again when the file they were read from changes
RESTART_NOTE = ("a running service that reads this file takes it at its next request, open event streams included "
                "(run.py, the systemd units); where AUTH_USERS is set apart from it, restart the service (`docker "
                "compose up -d` recreates the containers)")


def _ask() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first, second = getpass.getpass("password: "), getpass.getpass("again: ")
    if first != second:
        raise SystemExit("passwords differ")
    return first


def check_name(name: str) -> None:
    """A name the server accepts (users.parse_users): a stranger's ' ' and 300-character names were written, and
    then every API and worker process refused to start, locking everyone out."""
    if not name or name != name.strip() or not name.isprintable() or any(c in name for c in ",:'\""):
        raise SystemExit("a user name is printable text without spaces at its ends and without , : ' or \"")
    if len(name) > MAX_USERNAME_CHARS:
        raise SystemExit(f"a user name has at most {MAX_USERNAME_CHARS} characters")


def add_user(name: str, password: str, env_file: Path, *, admin: bool = False) -> bool:
    """Add NAME (or replace its password) in `env_file`; True when NAME was already there."""
    check_name(name)
    if not env_file.parent.is_dir():
        raise SystemExit(f"{env_file.parent} is not a folder: give --env-file a file in an existing folder")
    lines = env_file.read_text().splitlines() if env_file.exists() else []
    entry = f"{name}:{generate_password_hash(password)}"
    known = False

    def replace(items: list[str]) -> list[str]:
        nonlocal known
        kept = [u for u in items if not u.startswith(name + ":")]
        known = len(kept) < len(items)
        return kept + [entry]

    lines = _set_list(lines, "AUTH_USERS", replace)
    if reserved(name) and not known:
        raise SystemExit(f"{name!r} is a reserved name: a canceled job's canceled_by says 'admin' when an admin "
                         "canceled another user's job and 'system' when the service did, so a user of that name "
                         f"would read the same; names {' and '.join(map(repr, RESERVED_NAMES))} are refused in any "
                         "case. Pick another (an admin is any user added with --admin)")
    if admin:  # never removes a role: editing ADMIN_USERS by hand does that
        lines = _set_list(lines, "ADMIN_USERS", lambda items: items if name in items else items + [name])
    _write(env_file, lines)
    return known


def _write(env_file: Path, lines: list[str]) -> None:
    """Replace `env_file` whole, owner-only (it holds the password hashes; it had been 0644) and with its owner kept:
    the running service reads it again when it changes, and must never read it half written."""
    fd, tmp = tempfile.mkstemp(prefix=f".{env_file.name}.", dir=env_file.parent)  # 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        if env_file.exists():
            st = env_file.stat()
            try:
                os.chown(tmp, st.st_uid, st.st_gid)  # root editing the service user's file leaves it theirs
            except PermissionError:
                pass
        os.replace(tmp, env_file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_user(name: str, env_file: Path) -> bool:
    """Take NAME out of AUTH_USERS and ADMIN_USERS in `env_file`; False when it was in neither. The user's
    sessions and jobs stay in DATA_DIR (an admin reads or deletes them with `?owner=`)."""
    if not env_file.exists():
        return False
    lines = env_file.read_text().splitlines()
    found = False

    def without(items: list[str]) -> list[str]:
        nonlocal found
        kept = [u for u in items if u != name and not u.startswith(name + ":")]
        found = found or len(kept) < len(items)
        return kept

    for key in ("AUTH_USERS", "ADMIN_USERS"):
        if any(_assigns(line, key) for line in lines):
            lines = _set_list(lines, key, without)
    if found:
        _write(env_file, lines)
    return found


def list_users(env_file: Path) -> int:
    """Print each user of `env_file` with its role, and the ADMIN_USERS names that are no user; never a hash. An
    operator had no way to see who may log in but reading the hashes in `.env`."""
    from dotenv import dotenv_values

    from users import UserDirectory

    if not env_file.exists():
        raise SystemExit(f"no {env_file}: add a user with `python manage.py add-user NAME`")
    users = UserDirectory.from_config({k: v or "" for k, v in dotenv_values(env_file).items()})
    for name in users.hashes:
        print(f"{name}\t{'admin' if name in users.admins else 'user'}{RESERVED_MARK if reserved(name) else ''}")
    for name in users.unknown_admins:
        print(f"{name}\tin ADMIN_USERS but not a user (no role until added)")
    if not users.hashes:
        print(f"no users in {env_file}", file=sys.stderr)
    return 0


def _assigns(line: str, key: str) -> bool:
    """Whether a `.env` line sets KEY, in any of dotenv's spellings (`export KEY=`, `KEY = `): a stranger's
    `export AUTH_USERS=` line was not seen, a second one was added, and dotenv kept only the new user."""
    return re.match(rf"\s*(?:export\s+)?{re.escape(key)}\s*=", line) is not None


def _set_list(lines: list[str], key: str, change: Callable[[list[str]], list[str]]) -> list[str]:
    """`.env` lines with the comma list `KEY='a,b'` replaced by `change(['a', 'b'])` (added if missing)."""
    for i, line in enumerate(lines):
        if _assigns(line, key):
            items = [u.strip() for u in line.split("=", 1)[1].strip().strip("'\"").split(",") if u.strip()]
            return lines[:i] + [f"{key}='" + ",".join(change(items)) + "'"] + lines[i + 1:]
    return lines + [f"{key}='" + ",".join(change([])) + "'"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("hash-password")
    add = sub.add_parser("add-user")
    add.add_argument("name")
    add.add_argument("--env-file", default=str(env_file()))  # run.py's
    add.add_argument("--admin", action="store_true", help="also add NAME to ADMIN_USERS")
    remove = sub.add_parser("remove-user", help="take NAME out of AUTH_USERS and ADMIN_USERS (their data stays)")
    remove.add_argument("name")
    remove.add_argument("--env-file", default=str(env_file()))  # run.py's
    listing = sub.add_parser("list-users", help="the users of AUTH_USERS and their roles (no hashes)")
    listing.add_argument("--env-file", default=str(env_file()))  # run.py's
    args = parser.parse_args(argv)
    if args.cmd == "list-users":
        return list_users(Path(args.env_file))
    if args.cmd == "remove-user":
        if not remove_user(args.name, Path(args.env_file)):
            raise SystemExit(f"no user {args.name!r} in {args.env_file}")
        print(f"user {args.name!r} removed from {args.env_file}; their sessions and jobs stay in DATA_DIR (an admin "
              f"reads or deletes them with ?owner={args.name})")
        print(RESTART_NOTE)
        return 0
    password = _ask()
    if len(password) < MIN_PASSWORD_CHARS:
        raise SystemExit(f"use a password of at least {MIN_PASSWORD_CHARS} characters")
    if args.cmd == "hash-password":
        print(generate_password_hash(password))
    else:
        replaced = add_user(args.name, password, Path(args.env_file), admin=args.admin)
        role = " as an admin (ADMIN_USERS)" if args.admin else ""
        done = f"password of {args.name!r} replaced in" if replaced else f"user {args.name!r} added to"
        print(f"{done} {args.env_file}{role}")
        if reserved(args.name):  # an existing user of that name keeps working
            print(f"warning: {args.name!r} is a reserved name (a canceled job's canceled_by); rename this user: "
                  f"add-user NEW, then remove-user {args.name}", file=sys.stderr)
        print(RESTART_NOTE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
