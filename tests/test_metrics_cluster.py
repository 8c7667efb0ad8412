"""The work's counters and histograms are cluster-wide: a Celery worker on another machine (its own
PROMETHEUS_MULTIPROC_DIR, as another host's /dev/shm) counts in the API's GET /metrics. Real valkey, real worker
process, real HTTP scrape."""

from __future__ import annotations

import logging
import os
import time
import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from redis_server import redis_client, start_embedded
from tests.conftest import PASSWORD, USER, serving
from tests.test_resilience import start_worker_process, stop_all, submit_features, worker_setup, write_uploads

FINAL = ("succeeded", "failed", "canceled")


def scrape(base: str) -> dict[str, dict[tuple, float]]:
    r = requests.get(base + "/metrics", auth=(USER, PASSWORD), timeout=30)
    assert r.status_code == 200, r.text
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def buckets(samples: dict, name: str, **labels: str) -> list[tuple[float, float]]:
    """(le, cumulative count) of one histogram series, by bound."""
    return sorted((float(dict(key)["le"]), number) for key, number in samples.get(f"{name}_bucket", {}).items()
                  if {k: v for k, v in key if k != "le"} == labels)


def assert_one_observation(samples: dict, name: str, seconds: float, **labels: str) -> None:
    """One observation of about `seconds`: buckets, count and sum agree, and it sits in its bucket."""
    series = tuple(sorted(labels.items()))
    count, total = samples[f"{name}_count"][series], samples[f"{name}_sum"][series]
    cumulative = buckets(samples, name, **labels)
    assert count == 1 and cumulative[-1] == (float("inf"), 1.0), cumulative
    assert [n for _, n in cumulative] == sorted(n for _, n in cumulative)  # cumulative: never falls
    assert abs(total - seconds) < 1.0, (total, seconds)
    first = next(i for i, (_, n) in enumerate(cumulative) if n == 1)
    assert total <= cumulative[first][0] and (first == 0 or total > cumulative[first - 1][0]), (total, cumulative)


@pytest.mark.slow  # a worker process and its first features job: ~24 s here
def test_a_worker_on_another_machine_counts_in_the_apis_metrics(settings, private_redis, tmp_path):
    """A stranger added a worker on a second machine: its jobs ran, and GET /metrics had no count of them (its
    counters went to that machine's /dev/shm)."""
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    env, app = worker_setup(settings, url, tmp_path)
    other_host = tmp_path / "other-host-shm" / "metrics"
    env["PROMETHEUS_MULTIPROC_DIR"] = str(other_host)
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] != str(other_host)  # the API (this process) reads its own folder
    svc = app.extensions["music_analyzer"]
    job_id = submit_features(app, files=write_uploads(app, files=1, seconds=1.0), batch=False)
    worker = start_worker_process(env, settings["CPU_QUEUE"], f"cpu-{uuid.uuid4().hex[:6]}@elsewhere")
    try:
        job = svc.jobs.wait_for_state(job_id, FINAL, timeout=120)
    finally:
        stop_all([worker])
    assert job is not None and job["state"] == "succeeded", job
    assert other_host.is_dir()  # the worker's own multiprocess folder: nothing the API reads
    with serving(app) as base:
        samples = scrape(base)
    # a Redis of this test's own: the counts are exactly this job's, once (not again from a same-host file)
    assert samples["ma_jobs_created_total"] == {(("type", "features"),): 1.0}
    assert samples["ma_jobs_finished_total"] == {(("state", "succeeded"), ("type", "features")): 1.0}
    assert_one_observation(samples, "ma_job_duration_seconds", job["finished_at"] - job["started_at"], type="features")
    assert_one_observation(samples, "ma_job_queue_wait_seconds", job["started_at"] - job["created_at"],
                           type="features")


def test_counts_of_made_up_label_values_are_one_series(private_redis):
    """Job types and states are closed sets: a value outside one (a record of an older version) is `other`,
    so a metric's hash cannot grow without bound."""
    from prometheus_client import CollectorRegistry

    from jobs import keys, metrics
    from jobs.cluster_metrics import ClusterCollector

    client = redis_client(f"redis://127.0.0.1:{private_redis.port}/0")
    for n in range(5):
        metrics.job_finished(client, job_type=f"made-up-{n}", state="exploded")
    metrics.job_finished(client, job_type="features", state="failed")
    assert client.hgetall(keys.metric("ma_jobs_finished")) == {b'["other","other"]': b"5",
                                                              b'["features","failed"]': b"1"}
    # a value of an open label is kept whole, whatever it holds, and read back as it was
    metrics.model_observer(client)("load", 'odd|"name"]', 0.7)
    registry = CollectorRegistry()
    registry.register(ClusterCollector(client, metrics.CLUSTER))
    assert registry.get_sample_value("ma_model_loads_total", {"model": 'odd|"name"]'}) == 1
    assert registry.get_sample_value("ma_model_load_seconds_bucket", {"model": 'odd|"name"]', "le": "1.0"}) == 1
    assert registry.get_sample_value("ma_model_load_seconds_bucket", {"model": 'odd|"name"]', "le": "0.5"}) == 0
    assert registry.get_sample_value("ma_model_load_seconds_sum", {"model": 'odd|"name"]'}) == 0.7
    assert registry.get_sample_value("ma_jobs_finished_total", {"type": "other", "state": "other"}) == 5


def test_a_count_while_redis_is_away_is_lost_at_once_and_logged_once(private_redis, tmp_path, caplog, monkeypatch):
    """A job ending while Redis is away: counting it must not fail it nor hold it up; the loss is logged once, and
    counting resumes when Redis answers."""
    from jobs import cluster_metrics, keys, metrics

    # every write tries the server (none skipped in the pause after a failure): each must fail fast by itself
    monkeypatch.setattr(cluster_metrics, "PAUSE_SECONDS", 0.0)
    port = private_redis.port
    client = redis_client(f"redis://127.0.0.1:{port}/0")
    metrics.job_ran(client, {"type": "features"}, 2.0)
    private_redis.stop()
    started = time.perf_counter()
    with caplog.at_level(logging.INFO, logger="jobs.cluster_metrics"):
        for _ in range(20):
            metrics.job_ran(client, {"type": "features"}, 2.0)
            metrics.job_finished(client, job_type="features", state="succeeded")
        elapsed = time.perf_counter() - started
        back = start_embedded(tmp_path / "valkey", port=port)  # the same data, back on the same port
        try:
            metrics.job_ran(client, {"type": "features"}, 3.0)
            counts = client.hgetall(keys.metric("ma_job_duration_seconds"))
        finally:
            back.stop()
    print(f"\n  40 counts with Redis away: {elapsed * 1000:.1f} ms")
    assert elapsed < 2.0
    lost = [r for r in caplog.records if "did not take a count" in r.getMessage()]
    assert len(lost) == 1 and lost[0].levelno == logging.WARNING
    assert any("takes counts again" in r.getMessage() for r in caplog.records)
    assert counts[b'["features"]|count'] == b"2" and float(counts[b'["features"]|sum']) == 5.0
    assert counts[b'["features"]|2.5'] == b"1" and counts[b'["features"]|5.0'] == b"1"


def test_counts_an_earlier_version_left_in_the_hosts_files_are_not_added(client, app):
    """A rolling upgrade under docker-compose: a worker of the earlier version still writes its job counters to
    the folder the containers share. GET /metrics shows each metric once, the one kept in Redis: the files' copy
    would be a second family of the same name and count this host's jobs twice."""
    from prometheus_client import Counter

    from jobs import keys

    earlier = Counter("ma_jobs_finished", "as the earlier version counted", ["type", "state"], registry=None)
    earlier.labels("features", "succeeded").inc(1000)  # into this process's multiprocess file, as that worker did
    text = client.get("/metrics").text
    assert text.count("# TYPE ma_jobs_finished_total counter") == 1
    redis = app.extensions["music_analyzer"].redis
    counted = float(redis.hget(keys.metric("ma_jobs_finished"), '["features","succeeded"]') or 0)
    shown = [family for family in text_string_to_metric_families(text) if family.name == "ma_jobs_finished"]
    values = {tuple(sorted(s.labels.items())): s.value for s in shown[0].samples if s.name.endswith("_total")}
    assert values.get((("state", "succeeded"), ("type", "features")), 0.0) == counted
