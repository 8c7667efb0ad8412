"""`canceled_by` says "admin" for an admin who canceled another user's job and "system" for the service itself: a user
named either made it ambiguous. manage.py refuses those names for a new user; one already in AUTH_USERS keeps working,
and run.py, the API's log and list-users say it should be renamed. Real manage.py and run.py processes, real HTTP."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

from werkzeug.security import generate_password_hash

from tests.conftest import ADMIN, PASSWORD, USER, Client, auth_users, serving
from tests.test_manage import add_user
from tests.test_resilience import make_app
from users import UserDirectory, reserved

ROOT = Path(__file__).resolve().parent.parent
SYSTEMS_PASSWORD = "the system user's passphrase"
ADMINS_PASSWORD = "the admin user's passphrase"


def test_add_user_refuses_the_names_canceled_by_uses_in_any_case(tmp_path):
    env_file = tmp_path / ".env"
    for name in ("admin", "system", "Admin", "SYSTEM"):
        r = add_user(env_file, name, "a good passphrase", "--admin", check=False)
        assert r.returncode != 0 and "Traceback" not in r.stderr, (name, r.stderr)
        assert f"{name!r} is a reserved name" in r.stderr and "canceled_by" in r.stderr, r.stderr
    assert not env_file.exists()  # nothing was written


def test_an_existing_user_of_a_reserved_name_keeps_working_and_is_warned_of(settings, redis_url, tmp_path, caplog):
    env_file = tmp_path / ".env"
    written_by_hand = f"system:{generate_password_hash(SYSTEMS_PASSWORD)}"  # before names were reserved
    env_file.write_text(f"AUTH_USERS={auth_users((USER, PASSWORD))},{written_by_hand}\n")
    listed = subprocess.run([sys.executable, "manage.py", "list-users", "--env-file", str(env_file)], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    assert "system\tuser (a reserved name" in listed and f"{USER}\tuser\n" in listed, listed
    # a new password for them is still theirs to set, with the warning
    again = add_user(env_file, "system", SYSTEMS_PASSWORD)
    assert "password of 'system' replaced" in again.stdout and "reserved name" in again.stderr, again

    with caplog.at_level(logging.WARNING, logger="users"):  # and an admin named admin (the suite's, until renamed)
        app = make_app(settings, redis_url, tmp_path, ADMIN_USERS="admin",
                       AUTH_USERS=auth_users((USER, PASSWORD), ("system", SYSTEMS_PASSWORD),
                                             ("admin", ADMINS_PASSWORD)))
    warned = [r.getMessage() for r in caplog.records if "reserved" in r.getMessage()]
    assert len(warned) == 1 and "'system', 'admin'" in warned[0], caplog.text
    with serving(app) as base:
        assert Client(base, ("system", SYSTEMS_PASSWORD)).get("/sessions").status_code == 200
        admin = Client(base, ("admin", ADMINS_PASSWORD))
        assert admin.get(f"/jobs?owner={USER}").status_code == 200  # still an admin (a user: 404 owner_not_found)

    # run.py says so on its output at start (here it stops at once: its port is taken)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = {**os.environ, "MUSIC_ANALYZER_ENV_FILE": str(env_file), "DATA_DIR": str(tmp_path / "run-data")}
        env.pop("AUTH_USERS", None)
        run = subprocess.run([sys.executable, "run.py", "--host", "127.0.0.1", "--port", str(taken.getsockname()[1])],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 4, run.stderr
    assert "run.py: warning: AUTH_USERS has user(s) named 'system', a name reserved" in run.stderr, run.stderr
    assert UserDirectory.from_config({"AUTH_USERS": env_file.read_text().split("=", 1)[1].strip()}).known("system")


def test_the_suites_own_users_have_no_reserved_name(settings, caplog):
    """The suite's shared admin was named "admin": every test run logged the reserved-name warning."""
    with caplog.at_level(logging.WARNING, logger="users"):
        users = UserDirectory.from_config(settings)
    assert users.admins == (ADMIN,) and not reserved(ADMIN), users.admins
    assert "reserved" not in caplog.text, caplog.text
