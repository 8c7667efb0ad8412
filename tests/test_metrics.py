"""GET /metrics: Prometheus text from every process of the service, read as a scraper would."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.audio_synth import sine, write
from tests.test_api_sessions import upload


def scrape(client) -> dict[str, dict[tuple, float]]:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def value(samples: dict, name: str, **labels) -> float:
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def test_jobs_http_and_levels_are_counted(client, session_id, audio_dir, server):
    before = scrape(client)
    upload(client, session_id, write(audio_dir / "m.wav", sine(440, 1.0)))
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


def test_model_loads_and_resident_memory(client, smollm2_folder):
    r = client.post("/api/v2/models/load", json={"model_type": "smollm2-135m", "wait": 300})
    assert r.status_code == 200, r.text
    samples = scrape(client)
    assert value(samples, "ma_model_resident_bytes", model="smollm2-135m") > 100e6  # 135 M float32 parameters
    loads = value(samples, "ma_model_loads_total", model="smollm2-135m")
    assert loads >= 1 or r.json()["already_loaded"]


def test_metrics_need_credentials(server):
    import requests

    assert requests.get(server + "/metrics", timeout=10).status_code == 401
