"""Small admin commands.

    python manage.py hash-password            # prints a hash for AUTH_USERS
    python manage.py add-user NAME            # asks for a password, appends NAME:hash to .env
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from werkzeug.security import generate_password_hash


def _ask() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first, second = getpass.getpass("password: "), getpass.getpass("again: ")
    if first != second:
        raise SystemExit("passwords differ")
    return first


def add_user(name: str, password: str, env_file: Path) -> None:
    if not name or "," in name or ":" in name:
        raise SystemExit("user names may not be empty or contain ',' or ':'")
    lines = env_file.read_text().splitlines() if env_file.exists() else []
    entry = f"{name}:{generate_password_hash(password)}"
    for i, line in enumerate(lines):
        if line.startswith("AUTH_USERS="):
            users = [u for u in line.split("=", 1)[1].strip("'\"").split(",") if u and not u.startswith(name + ":")]
            lines[i] = "AUTH_USERS='" + ",".join(users + [entry]) + "'"
            break
    else:
        lines.append(f"AUTH_USERS='{entry}'")
    env_file.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("hash-password")
    add = sub.add_parser("add-user")
    add.add_argument("name")
    add.add_argument("--env-file", default=".env")
    args = parser.parse_args(argv)
    password = _ask()
    if len(password) < 8:
        raise SystemExit("use a password of at least 8 characters")
    if args.cmd == "hash-password":
        print(generate_password_hash(password))
    else:
        add_user(args.name, password, Path(args.env_file))
        print(f"user {args.name!r} added to {args.env_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
