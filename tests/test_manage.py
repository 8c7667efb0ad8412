"""manage.py: users and the admin role written to .env, read back as the app reads its settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dotenv import dotenv_values
from werkzeug.security import check_password_hash

from users import UserDirectory

ROOT = Path(__file__).resolve().parent.parent


def add_user(env_file: Path, name: str, password: str, *flags: str) -> None:
    subprocess.run([sys.executable, "manage.py", "add-user", name, "--env-file", str(env_file), *flags],
                   cwd=ROOT, input=password + "\n", text=True, check=True, capture_output=True)


def test_add_user_with_and_without_the_admin_role(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DATA_DIR=/srv/data\n")
    add_user(env_file, "alice", "alice's passphrase", "--admin")
    add_user(env_file, "bob", "bob's passphrase")
    add_user(env_file, "alice", "alice's new passphrase")  # a new password keeps her role
    values = dotenv_values(env_file)
    assert values["DATA_DIR"] == "/srv/data"
    users = UserDirectory.from_config(values)
    assert sorted(users.hashes) == ["alice", "bob"] and users.admins == ("alice",)
    assert check_password_hash(users.hashes["alice"], "alice's new passphrase")
    assert users.caller("alice").admin and not users.caller("bob").admin
    add_user(env_file, "bob", "bob's passphrase", "--admin")
    assert UserDirectory.from_config(dotenv_values(env_file)).admins == ("alice", "bob")
