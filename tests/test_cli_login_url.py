"""`login --url` given the address a stranger copies from the browser: the page's, with its `#session=...&file=...`
(every request had gone to the page: "not JSON; is it a Music Analyzer server?"), or one of the server's pages or
routes (`/docs`: "no docs file 'jobs'"; `/sessions`: "session 'jobs' does not exist")."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import cli_env, ma


def test_the_page_address_with_its_fragment_logs_in_to_the_server(server, tmp_path):
    env = cli_env(server, tmp_path)
    done = ma(env, "login", "--url", f"{server}/#session=s1&file=take.wav", "--password-stdin",
              stdin=env["MA_PASSWORD"] + "\n")
    assert done.returncode == 0, done.stderr
    config = Path(env["XDG_CONFIG_HOME"]) / "music-analyzer" / "config.json"
    assert json.loads(config.read_text())["url"] == server  # what every later command sends its requests to
    listed = ma({**env, "MA_URL": f"{server}/?tab=jobs#x"}, "--json", "jobs", "--limit", "1")
    assert listed.returncode == 0 and isinstance(json.loads(listed.stdout), list), listed.stderr


def test_an_address_with_a_page_path_says_to_give_the_server_address(server, tmp_path):
    env = cli_env(server, tmp_path)
    for path in ("/docs", "/sessions"):
        done = ma(env, "login", "--url", server + path, "--password-stdin", stdin=env["MA_PASSWORD"] + "\n")
        assert done.returncode == 1, done.stderr
        said = " ".join(done.stderr.split())
        assert f"give the server's address without it, such as {server} " in said, said
        assert not (Path(env["XDG_CONFIG_HOME"]) / "music-analyzer" / "config.json").exists()
