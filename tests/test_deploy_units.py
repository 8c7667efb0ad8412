"""The extra worker's systemd unit (deploy/systemd/music-analyzer-worker@.service) runs what it says: its
ExecStart, with systemd's substitutions made, is started for real and serves a job of the CPU queue."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.test_resilience import stop_all, submit_features, worker_setup, write_uploads

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "systemd" / "music-analyzer-worker@.service"


def unit_settings(text: str) -> dict[str, str]:
    """The unit's `Key=value` lines (one value per key: the unit has no repeated key)."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


def environment(unit: dict[str, str]) -> dict[str, str]:
    """A unit's `Environment=` assignments."""
    return dict(pair.split("=", 1) for pair in shlex.split(unit["Environment"]))


def test_the_extra_worker_unit_starts_a_worker_that_serves_the_cpu_queue(settings, private_redis, tmp_path):
    unit = unit_settings(UNIT.read_text())
    assert unit["Restart"] == "always" and unit["KillMode"] == "mixed"
    # the same DATA_DIR as the main unit (the worker's had none: it read ./data and every job failed)
    main = unit_settings((UNIT.parent / "music-analyzer.service").read_text())
    assert environment(unit)["DATA_DIR"] == environment(main)["DATA_DIR"] == "/var/lib/music-analyzer"
    command = (unit["ExecStart"].replace("${CPU_QUEUE}", settings["CPU_QUEUE"])
               .replace("%i", "t1").replace("%H", "unit-test"))
    argv = shlex.split(command)
    assert argv[0] == "/usr/bin/python3" and argv[1:3] == ["-m", "celery"]
    env, app = worker_setup(settings, f"redis://127.0.0.1:{private_redis.port}/0", tmp_path)
    log = tmp_path / "unit-worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen([sys.executable, *argv[1:]], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                  stderr=out)
    try:
        job_id = submit_features(app, files=write_uploads(app, files=1, seconds=0.5), batch=False)
        job = app.extensions["music_analyzer"].jobs.wait_for_state(job_id, ("succeeded", "failed"), timeout=120)
        assert job is not None and job["state"] == "succeeded", (job, log.read_text()[-2000:])
        assert job["worker"].startswith("cpu-t1@unit-test")
    finally:
        stop_all([worker])


def test_the_readme_names_the_extra_worker_as_its_unit_does():
    """A stranger's README command named the extra worker `cpu2@%h`, the unit `cpu-%i@%H`: one machine's workers
    under two naming schemes. Celery expands %h, systemd %H (its %h is a home directory): both the host name."""
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"`(celery -A make_celery worker -Q cpu [^`]*)`", readme)
    instance = re.search(r"systemctl enable --now music-analyzer-worker@(\w+)", readme)
    assert command and instance
    readme_name = shlex.split(command.group(1))[shlex.split(command.group(1)).index("-n") + 1]
    exec_start = shlex.split(unit_settings(UNIT.read_text())["ExecStart"])
    unit_name = exec_start[exec_start.index("-n") + 1]
    assert readme_name.replace("%h", "host") == unit_name.replace("%i", instance.group(1)).replace("%H", "host")


def test_the_documented_passwords_are_ones_add_user_accepts():
    """The README's examples logged in as alice:secret, a password `manage.py add-user` refuses (under 8 characters):
    a stranger who followed them could not make that user."""
    from manage import MIN_PASSWORD_CHARS

    # the README's reference pages (docs/*.md) show the examples that moved there
    docs = {path: (ROOT / path).read_text() for path in
            ("README.md", "client/README.md", "deploy/README.md", "client/music_analyzer_client/client.py",
             *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")))}
    patterns = (r"(?:-u |A=)alice:([^\s'\";]+)", r"MusicAnalyzer\([^)]*\"alice\", \"([^\"]*)\"")  # curl, Python
    shown = [(path, m.group(1)) for path, text in docs.items() for p in patterns for m in re.finditer(p, text)]
    assert len(shown) >= 5, shown
    assert all(len(password) >= MIN_PASSWORD_CHARS for _, password in shown), shown
    assert len({password for _, password in shown}) == 1, shown  # one example password throughout


def test_compose_gives_a_stopping_worker_the_wait_run_py_gives():
    """README: a graceful stop (`docker stop` among them) lets a worker finish its running jobs for as long as its
    supervisor waits (run.py 60 s). Compose waited its default 10 s: `docker compose restart cpu-worker` killed every
    job longer than that, each to run again from its start."""
    import yaml

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in ("gpu-worker", "cpu-worker"):
        service = services[name]
        assert service.get("stop_grace_period") == "60s", name
        # SIGTERM reaches it: celery under service.final_exit, which passes it on (tests/test_compose_final_exit.py)
        assert isinstance(service["command"], list) and service["command"][:5] == [
            "python", "-m", "service.final_exit", "--", "celery"], name
