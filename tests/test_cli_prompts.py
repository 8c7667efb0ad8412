"""Ctrl-D (end of input) at one of the CLI's prompts: the answer refused, said so, not a crash."""

from __future__ import annotations

import os
import pty
import subprocess

from tests.test_cli import CLI, read_terminal


def test_ctrl_d_at_the_login_prompt_ends_it_without_a_crash(tmp_path):
    """A stranger's `music-analyzer login` given Ctrl-D at "server [...]:" printed "error: unexpected EOFError:
    (MA_DEBUG=1 shows where) (client_error)" and exit 1, the words of a bug; now it says nothing was done, 130."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MA_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
               TERM="dumb", PYTHONUNBUFFERED="1")
    leader, follower = pty.openpty()
    proc = subprocess.Popen([*CLI, "login"], env=env, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    sent = False

    def ctrl_d(screen: bytes) -> bytes:
        nonlocal sent
        if sent or b"server [" not in screen:
            return b""
        sent = True
        return b"\x04"  # Ctrl-D on an empty line: end of input

    screen = read_terminal(leader, ctrl_d, seconds=60)
    os.close(leader)
    code = proc.wait(timeout=60)
    text = screen.decode(errors="replace")
    assert sent, text
    assert code == 130, (code, text)
    assert "EOFError" not in text and "client_error" not in text and "Traceback" not in text, text
    assert "no answer (end of input at the prompt): nothing done" in text, text
    assert not (tmp_path / "config" / "music-analyzer" / "config.json").exists()
