"""The parts under run.py, each with real processes: the front's config as docker-compose renders it,
the guard with a real supervisord, and the embedded valkey on a disk that fills up."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import redis
import yaml

from redis_server import free_port, redis_answers, valkey_binary, write_embedded_config
from service import front
from service.control import Supervisor
from service.layout import RunLayout
from service.programs import Program
from tests.conftest import wait_for
from tests.run_served import group_alive
from tests.supervised import runs, start_supervisord

ROOT = Path(__file__).resolve().parent.parent


def _need(tool: str) -> str:
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing on this CI machine; scripts/install.sh installs it")
        pytest.skip(f"needs {tool}")
    return path


def test_compose_nginx_fills_the_same_template_and_nginx_accepts_it(tmp_path):
    """docker-compose's nginx: the official image runs envsubst over the template with its environment."""
    nginx, envsubst = _need("nginx"), _need("envsubst")
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["nginx"]
    assert "./deploy/nginx/music-analyzer.conf.template:/etc/nginx/templates/default.conf.template:ro" \
        in compose["volumes"]
    template = front.SITE_TEMPLATE.read_text()
    assert set(compose["environment"]) == set(re.findall(r"\$\{([A-Z_]+)\}", template))
    # compose's "${MAX_UPLOAD_BYTES:-1073741824}" -> its default; "api" only resolves inside compose
    env = {k: re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(v)) for k, v in compose["environment"].items()}
    env["API_UPSTREAM"] = env["EVENTS_UPSTREAM"] = "127.0.0.1:9"
    names = " ".join(f"${{{k}}}" for k in env)  # only these, as the image's entrypoint does
    site = subprocess.run([envsubst, names], input=template, capture_output=True, text=True, env=env, check=True).stdout
    assert "$ma_request_id" in site and "client_max_body_size 1073741824;" in site
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(f"events {{}}\nhttp {{ include {tmp_path / 'site.conf'}; }}\n")
    check = subprocess.run([nginx, "-t", "-e", "stderr", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_run_py_renders_the_body_limit_and_refuses_a_missing_value(tmp_path):
    layout = RunLayout.for_data_dir(tmp_path)
    layout.create()
    front.write_configs(layout, front.FrontSettings(listen="127.0.0.1:1", upstream=f"unix:{layout.api_socket}",
                                                    max_body_bytes=12345, access_log="/dev/null"))
    site = layout.nginx_site_conf.read_text()
    assert "client_max_body_size 12345;" in site and "limit of 12345 bytes" in site
    assert str(layout.nginx_site_conf) in layout.nginx_conf.read_text()
    with pytest.raises(KeyError, match="CLIENT_BODY_TIMEOUT"):
        front.render("client_body_timeout ${CLIENT_BODY_TIMEOUT}s; $request_id", {})


@pytest.fixture
def supervisord(tmp_path, monkeypatch):
    """A real supervisord from supervisor_conf.render with two small programs; quick retries for the test."""
    flag = tmp_path / "may-start"
    programs = [
        # fails at once until `flag` exists: BACKOFF, then FATAL, then the guard's retries
        Program("picky", ["sh", "-c", f"test -e {flag} && exec sleep 600"], priority=10, startsecs=1),
        # a main process with a child in its group, like nginx's master and workers
        Program("family", ["sh", "-c", "sleep 600 & exec sleep 600"], priority=10, startsecs=1),
    ]
    monkeypatch.setenv("SUPERVISE_START_RETRIES", "1")
    layout = RunLayout.for_data_dir(tmp_path / "data")
    proc = start_supervisord(layout, programs, env={**os.environ, "GUARD_FATAL_RETRY_SECONDS": "1"},
                             stdout=subprocess.DEVNULL)
    sup = Supervisor(layout)

    try:
        wait_for(lambda: runs(sup, "family"), timeout=30, message="supervisord to run its programs")
        yield sup, flag, layout
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.slow
def test_guard_clears_a_dead_programs_leftovers_and_retries_one_that_gave_up(supervisord):
    sup, flag, layout = supervisord
    old = sup.pid("family")
    os.kill(old, signal.SIGKILL)  # its background sleep lives on in group `old`
    wait_for(lambda: not group_alive(old) and sup.pid("family") not in (0, old), timeout=20,
             message="the guard to kill the dead program's group and supervisord to restart it")

    wait_for(lambda: sup.programs()["picky"]["statename"] == "FATAL", timeout=20, message="picky to give up")
    flag.touch()  # the cause is gone: the guard's next retry (TICK_5, 1 s after FATAL) starts it
    wait_for(lambda: sup.pid("picky") > 0, timeout=20, message="the guard to start picky again")
    log = (layout.logs / "supervisord.log").read_text()
    assert "gave up: picky" in log


@pytest.mark.slow
def test_embedded_valkey_refuses_writes_on_a_full_disk_and_resumes_when_space_returns(tmp_path):
    """A real full filesystem (a 20 MB tmpfs): reads go on, writes fail, then resume with no restart."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("CI runs as root; this test mounts a tmpfs")
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(disk)], check=True)
    port = free_port()
    server = None
    try:
        conf = write_embedded_config(disk / "data", port)
        server = subprocess.Popen([str(valkey_binary()), str(conf)], stdout=subprocess.DEVNULL)
        url = f"redis://127.0.0.1:{port}/0"
        wait_for(lambda: redis_answers(url), timeout=20, message="valkey to answer")
        client = redis.Redis.from_url(url)
        client.set("kept", "1")
        filler = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
        with pytest.raises(OSError):
            while True:
                os.write(filler, b"\0" * 65536)
        os.close(filler)

        def refused() -> bool:
            try:
                client.set("big", "x" * 100_000)
            except redis.RedisError as e:  # MISCONF: QueueStorageFull once jobs/queue_storage.py is installed
                return "AOF" in str(e)
            return False

        wait_for(refused, timeout=20, message="valkey to refuse writes on the full disk")
        assert client.get("kept") == b"1"  # reads go on
        os.remove(disk / "filler")

        def accepted() -> bool:
            try:
                return bool(client.set("after", "2"))
            except redis.RedisError:
                return False

        wait_for(accepted, timeout=20, message="valkey to accept writes again once space returned")
        assert server.poll() is None  # the same process: no restart was needed
    finally:
        if server:
            server.terminate()
            server.wait(timeout=10)
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_the_front_waits_longer_than_a_model_route_may_wait(tmp_path):
    """A stranger's `"wait": 400` on /api/v2/models/generate got nginx's 504 after 310 s, with no job id, while
    the job ran on: the routes that wait for their job (up to MODEL_WAIT_MAX_SECONDS) have a longer read timeout
    in the front nginx runs, and nginx accepts the config."""
    import re

    from api.models import MODEL_WAIT_MAX_SECONDS

    layout = RunLayout.for_data_dir(tmp_path)
    layout.create()
    front.write_configs(layout, front.FrontSettings(listen="127.0.0.1:1", upstream=f"unix:{layout.api_socket}",
                                                    max_body_bytes=12345, access_log="/dev/null"))
    site = layout.nginx_site_conf.read_text()
    blocks = re.findall(r"location ~ (\S+) \{([^}]*)\}", site)

    def read_timeout(path: str) -> float:
        for pattern, block in blocks:
            if re.search(pattern, path):
                found = re.search(r"proxy_read_timeout (\d+)s;", block)
                if found:
                    return float(found.group(1))
        return float(re.search(r"\n    proxy_read_timeout (\d+)s;", site).group(1))  # the server's own

    for path in ("/api/v2/models/load", "/api/v2/models/unload", "/api/v2/models/generate", "/library/ask"):
        assert read_timeout(path) > MODEL_WAIT_MAX_SECONDS, path
    assert read_timeout("/sessions") < MODEL_WAIT_MAX_SECONDS  # elsewhere gunicorn's 300 s bounds a request
    binary = front.find_nginx()
    if binary is not None:
        check = subprocess.run([binary, "-t", "-e", "stderr", "-p", str(layout.nginx), "-c", str(layout.nginx_conf)],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
