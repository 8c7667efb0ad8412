"""GET /metrics: Prometheus text from every process of the service, read as a scraper would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.parser import text_string_to_metric_families

from tests.audio_synth import sine, write
from tests.conftest import serving
from tests.test_api_sessions import upload

ROOT = Path(__file__).resolve().parent.parent


def scrape(client) -> dict[str, dict[tuple, float]]:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    assert r.headers["Content-Type"].count("charset") == 1  # twice, Prometheus 3 refuses the scrape
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def value(samples: dict, name: str, **labels) -> float:
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def test_jobs_http_and_levels_are_counted(client, session_id, audio_dir, server):
    before = scrape(client)
    sent = upload(client, session_id, write(audio_dir / "m.wav", sine(440, 1.0))).json()["files"][0]["bytes"]
    job = client.wait_job(client.post(f"/process/features/{session_id}", json={"file": "m.wav"}).json()["job_id"])
    assert job["state"] == "succeeded"
    after = scrape(client)
    assert value(after, "ma_jobs_created_total", type="features") == value(
        before, "ma_jobs_created_total", type="features") + 1
    assert value(after, "ma_jobs_finished_total", type="features", state="succeeded") == value(
        before, "ma_jobs_finished_total", type="features", state="succeeded") + 1
    assert value(after, "ma_job_duration_seconds_count", type="features") >= 1
    assert value(after, "ma_job_queue_wait_seconds_count", type="features") >= 1
    route = "/process/features/<session_id>"
    assert value(after, "ma_http_requests_total", route=route, method="POST", status="202") >= 1
    assert value(after, "ma_http_request_seconds_count", route=route) >= 1
    assert value(after, "ma_workers_alive", queue="cpu") >= 1 and "ma_queue_depth" in after
    assert "ma_jobs_running" in after
    # other tests upload concurrently only in other sessions of this process: at least this upload's bytes
    assert sent > 0 and value(after, "ma_upload_bytes_total") >= value(before, "ma_upload_bytes_total") + sent


def test_model_loads_and_resident_memory(client, smollm2_folder):
    r = client.post("/api/v2/models/load", json={"model_type": "smollm2-135m", "wait": 300})
    assert r.status_code == 200, r.text
    samples = scrape(client)
    assert value(samples, "ma_model_resident_bytes", model="smollm2-135m") > 100e6  # 135 M float32 parameters
    loads = value(samples, "ma_model_loads_total", model="smollm2-135m")
    assert loads >= 1 or r.json()["already_loaded"]


def test_metrics_need_credentials(server):
    assert requests.get(server + "/metrics", timeout=10).status_code == 401


def test_made_up_methods_are_counted_as_one(client, server):
    """A stranger's 6,000 requests with made-up methods (each answered 401) made 6,000 label values."""
    made_up = [f"X{uuid.uuid4().hex[:10].upper()}" for _ in range(3)]
    for method in made_up:
        assert requests.request(method, server + "/health", timeout=10).status_code in (400, 401, 405)
    text = client.get("/metrics").text
    assert not any(method in text for method in made_up)
    assert 'method="other"' in text


def test_metrics_public_opens_only_the_scrape(settings, tmp_path):
    from app import create_app

    app = create_app({**settings, "DATA_DIR": str(tmp_path / "data"), "METRICS_PUBLIC": True})
    with serving(app) as base:
        r = requests.get(base + "/metrics", timeout=10)
        assert r.status_code == 200 and "ma_queue_depth" in r.text
        assert requests.get(base + "/jobs", timeout=10).status_code == 401  # nothing else opens with it


COUNTING_PROCESS = """
import sys
from jobs import metrics
for line in sys.stdin:
    metrics.UPLOAD_BYTES.inc(int(line))
    print("counted", flush=True)
"""


def test_processes_of_two_containers_sharing_the_metrics_directory_keep_their_counts(tmp_path):
    """docker-compose: containers share the multiprocess directory but each numbers its own pids. Two real
    processes in their own pid and host-name namespaces (both pid 1, as in containers) count in turns."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) to give each process its own pid namespace")
    if subprocess.run(["unshare", "--uts", "--pid", "--fork", "true"], capture_output=True).returncode != 0:
        pytest.skip("this container may not make namespaces (unshare failed)")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}

    def container(name: str) -> subprocess.Popen:
        return subprocess.Popen(
            ["unshare", "--uts", "--pid", "--fork", "sh", "-c",
             f'hostname {name} && exec "$0" -c "$1"', sys.executable, COUNTING_PROCESS],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def count(process: subprocess.Popen, amount: int) -> None:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(f"{amount}\n")
        process.stdin.flush()
        assert process.stdout.readline().strip() == "counted"

    first, second = container(f"api-{uuid.uuid4().hex[:6]}"), container(f"worker-{uuid.uuid4().hex[:6]}")
    try:
        count(first, 5)
        count(second, 7)
        count(first, 1)  # with one file for both pids 1 this write would replace the second one's 12 with 6
    finally:
        for process in (first, second):
            process.communicate(timeout=30)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(tmp_path / "metrics"))
    assert registry.get_sample_value("ma_upload_bytes_total") == 13
    assert len(list((tmp_path / "metrics").glob("counter_*.db"))) == 2


def exported_series(client) -> set[str]:
    """Every series name the service can export: its counters and histograms (observed yet or not) and
    the levels a scrape reads from Redis."""
    from prometheus_client import Counter, Histogram

    from jobs import metrics

    families = text_string_to_metric_families(client.get("/metrics").text)
    names = set(scrape(client)) | {family.name for family in families}  # a level with no samples has a name
    for metric in vars(metrics).values():
        if isinstance(metric, Counter):
            names.add(f"{metric._name}_total")
        elif isinstance(metric, Histogram):
            names.update(f"{metric._name}_{part}" for part in ("bucket", "sum", "count"))
    for family in metrics.CLUSTER:  # kept in Redis, counted by every machine's workers
        names |= family.series_names()
    return names


def test_the_grafana_dashboard_and_prometheus_config_match_the_service(client):
    import json
    import re

    import yaml  # PyYAML: installed with the test tools (schemathesis)

    dashboard = json.loads((ROOT / "deploy/grafana/music-analyzer.json").read_text())
    queried = {name for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"\bma_[a-z_]+", target["expr"])}
    assert len(queried) >= 12 and queried <= exported_series(client), queried - exported_series(client)
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"]["prometheus"]["profiles"] == ["monitoring"]  # optional: not in a plain `up`
    # every app container counts into one shared volume in memory, off the data disk (a full disk: SIGBUS)
    app = compose["x-app"]
    assert app["environment"]["PROMETHEUS_MULTIPROC_DIR"] == "/metrics" and "metrics:/metrics" in app["volumes"]
    assert compose["volumes"]["metrics"]["driver_opts"]["type"] == "tmpfs"
    scrape_config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())["scrape_configs"][0]
    assert scrape_config["metrics_path"] == "/metrics" and scrape_config["static_configs"][0]["targets"] == ["api:8000"]
