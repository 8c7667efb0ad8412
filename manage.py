"""Small admin commands.

    python manage.py hash-password            # prints a hash for AUTH_USERS
    python manage.py add-user NAME            # asks for a password, appends NAME:hash to .env
    python manage.py add-user NAME --admin    # the same, and NAME joins ADMIN_USERS (sees every user's data)
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from pathlib import Path

from werkzeug.security import generate_password_hash


def _ask() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first, second = getpass.getpass("password: "), getpass.getpass("again: ")
    if first != second:
        raise SystemExit("passwords differ")
    return first


def add_user(name: str, password: str, env_file: Path, *, admin: bool = False) -> None:
    if not name or "," in name or ":" in name:
        raise SystemExit("user names may not be empty or contain ',' or ':'")
    lines = env_file.read_text().splitlines() if env_file.exists() else []
    entry = f"{name}:{generate_password_hash(password)}"
    lines = _set_list(lines, "AUTH_USERS", lambda items: [u for u in items if not u.startswith(name + ":")] + [entry])
    if admin:  # never removes a role: editing ADMIN_USERS by hand does that
        lines = _set_list(lines, "ADMIN_USERS", lambda items: items if name in items else items + [name])
    env_file.write_text("\n".join(lines) + "\n")


def _set_list(lines: list[str], key: str, change: Callable[[list[str]], list[str]]) -> list[str]:
    """`.env` lines with the comma list `KEY='a,b'` replaced by `change(['a', 'b'])` (added if missing)."""
    for i, line in enumerate(lines):
        if line.startswith(f"{key}="):
            items = [u.strip() for u in line.split("=", 1)[1].strip("'\"").split(",") if u.strip()]
            return lines[:i] + [f"{key}='" + ",".join(change(items)) + "'"] + lines[i + 1:]
    return lines + [f"{key}='" + ",".join(change([])) + "'"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("hash-password")
    add = sub.add_parser("add-user")
    add.add_argument("name")
    add.add_argument("--env-file", default=".env")
    add.add_argument("--admin", action="store_true", help="also add NAME to ADMIN_USERS")
    args = parser.parse_args(argv)
    password = _ask()
    if len(password) < 8:
        raise SystemExit("use a password of at least 8 characters")
    if args.cmd == "hash-password":
        print(generate_password_hash(password))
    else:
        add_user(args.name, password, Path(args.env_file), admin=args.admin)
        role = " as an admin (ADMIN_USERS)" if args.admin else ""
        print(f"user {args.name!r} added to {args.env_file}{role}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
