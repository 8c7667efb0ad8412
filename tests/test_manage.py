"""manage.py: users and the admin role written to .env, read back as the app reads its settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dotenv import dotenv_values
from werkzeug.security import check_password_hash

from users import UserDirectory

ROOT = Path(__file__).resolve().parent.parent


def add_user(env_file: Path, name: str, password: str, *flags: str, check: bool = True):
    return subprocess.run([sys.executable, "manage.py", "add-user", name, "--env-file", str(env_file), *flags],
                          cwd=ROOT, input=password + "\n", text=True, check=check, capture_output=True)


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


def test_names_the_server_would_refuse_are_refused_and_a_new_password_says_so(tmp_path):
    """A stranger's add-user ' ' (and a 300-character name) was written, and then no API or worker process
    would start; a second add-user of bob said 'added' though it replaced his password, which the running
    service went on ignoring."""
    env_file = tmp_path / ".env"
    for bad in (" ", " bob", "a" * 101, "tab\tname", "o'neil", "x,y", "a:b"):
        r = add_user(env_file, bad, "a good passphrase", check=False)
        assert r.returncode != 0 and "user name" in r.stderr and "Traceback" not in r.stderr, (bad, r.stderr)
    assert not env_file.exists()  # nothing was written
    first = add_user(env_file, "bob", "bob's passphrase")
    assert "user 'bob' added" in first.stdout and "restart" in first.stdout
    assert env_file.stat().st_mode & 0o777 == 0o600  # the hashes are the owner's alone
    again = add_user(env_file, "bob", "bob's new passphrase")
    assert "password of 'bob' replaced" in again.stdout and "restart" in again.stdout
    assert sorted(UserDirectory.from_config(dotenv_values(env_file)).hashes) == ["bob"]
    nowhere = add_user(tmp_path / "missing" / ".env", "carol", "a good passphrase", check=False)
    assert nowhere.returncode != 0 and "not a folder" in nowhere.stderr and "Traceback" not in nowhere.stderr


def test_remove_user_takes_the_name_out_of_both_lists_and_keeps_the_rest(tmp_path):
    """The README spoke of removing users; manage.py had no command for it (a stranger's)."""
    env_file = tmp_path / ".env"
    add_user(env_file, "alice", "alice's passphrase", "--admin")
    add_user(env_file, "bob", "bob's passphrase", "--admin")
    add_user(env_file, "bobby", "bobby's passphrase")
    removed = subprocess.run([sys.executable, "manage.py", "remove-user", "bob", "--env-file", str(env_file)],
                             cwd=ROOT, text=True, capture_output=True, check=True)
    assert "user 'bob' removed" in removed.stdout and "?owner=bob" in removed.stdout and "restart" in removed.stdout
    users = UserDirectory.from_config(dotenv_values(env_file))
    assert sorted(users.hashes) == ["alice", "bobby"] and users.admins == ("alice",)
    again = subprocess.run([sys.executable, "manage.py", "remove-user", "bob", "--env-file", str(env_file)],
                           cwd=ROOT, text=True, capture_output=True)
    assert again.returncode != 0 and "no user 'bob'" in again.stderr and "Traceback" not in again.stderr


def test_users_written_in_any_of_dotenvs_spellings_are_kept(tmp_path):
    """A stranger's `.env` said `export AUTH_USERS='carol:...'` (and another `AUTH_USERS = '...'`): add-user did not
    see the line, added a second one, and dotenv then held only the new user: carol was locked out."""
    from werkzeug.security import generate_password_hash

    carol = generate_password_hash("carol's passphrase")
    for spelling in (f"export AUTH_USERS='carol:{carol}'", f"AUTH_USERS = 'carol:{carol}'"):
        env_file = tmp_path / ".env"
        env_file.write_text(f"DATA_DIR=/srv/data\n{spelling}\n")
        add_user(env_file, "dave", "dave's passphrase", "--admin")
        users = UserDirectory.from_config(dotenv_values(env_file))
        assert sorted(users.hashes) == ["carol", "dave"] and users.admins == ("dave",), env_file.read_text()
        assert env_file.read_text().count("AUTH_USERS") == 1


def test_list_users_names_each_user_and_role_and_never_a_hash(tmp_path):
    """An operator on day two had no command to see who may log in: only the hashes in .env."""
    env_file = tmp_path / ".env"
    add_user(env_file, "alice", "alice's passphrase", "--admin")
    add_user(env_file, "bob", "bob's passphrase")
    env_file.write_text(env_file.read_text().replace("ADMIN_USERS='alice'", "ADMIN_USERS='alice,carol'"))
    listed = subprocess.run([sys.executable, "manage.py", "list-users", "--env-file", str(env_file)], cwd=ROOT,
                            text=True, check=True, capture_output=True).stdout
    assert listed.splitlines() == ["alice\tadmin", "bob\tuser",
                                   "carol\tin ADMIN_USERS but not a user (no role until added)"], listed
    assert "scrypt" not in listed and "pbkdf2" not in listed
