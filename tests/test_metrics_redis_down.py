"""GET /metrics with Redis away at scrape time: still 200, the API's own counters and `ma_redis_up 0`.

A stranger's Prometheus got a 503 for the whole scrape while Redis was away, and with it lost the API's HTTP counts
(the 503s its users got) exactly when they said what was wrong. A real valkey of the test's own that goes away and
comes back on the same port, the app on a real HTTP socket, scraped as Prometheus does.
"""

from __future__ import annotations

import statistics
import time

import requests
from prometheus_client.parser import text_string_to_metric_families

from redis_server import start_embedded
from tests.audio_synth import sine, write
from tests.conftest import PASSWORD, USER, serving

AUTH = (USER, PASSWORD)
SCRAPES = 5  # scrapes timed with Redis away (the median is reported)


def scraped(base: str) -> tuple[int, dict[str, float], float]:
    """(status, {series name{labels}: value, and each family's name alone: 1}, seconds) of one scrape."""
    started = time.perf_counter()
    r = requests.get(base + "/metrics", auth=AUTH, timeout=30)
    seconds = time.perf_counter() - started
    samples: dict[str, float] = {}
    if r.status_code == 200:
        for family in text_string_to_metric_families(r.text):
            samples[family.name] = 1.0  # a counter nothing has counted yet has a family and no sample
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                samples[f"{sample.name}{{{labels}}}"] = sample.value
    return r.status_code, samples, seconds


def names(samples: dict[str, float]) -> set[str]:
    return {key.split("{", 1)[0] for key in samples}


def test_a_scrape_with_redis_away_answers_the_apis_own_counters_and_redis_up_0(settings, private_redis, tmp_path):
    from app import create_app

    port = private_redis.port
    app = create_app({**settings, "REDIS_URL": f"redis://127.0.0.1:{port}/0", "DATA_DIR": str(tmp_path / "data")})
    with serving(app) as base:
        sid = requests.post(base + "/sessions", auth=AUTH, timeout=30).json()["session_id"]
        status, up, _ = scraped(base)
        assert status == 200 and up["ma_redis_up{}"] == 1.0
        assert {"ma_queue_depth", "ma_workers_alive", "ma_jobs_created"} <= names(up)

        private_redis.stop()
        # an upload touches only the disk: it goes on with Redis away, and its bytes are counted on this host
        with open(write(tmp_path / "a.wav", sine(440.0, 0.5)), "rb") as fh:
            assert requests.post(f"{base}/sessions/{sid}/files", files={"file": fh}, auth=AUTH,
                                 timeout=30).status_code == 201
        assert requests.get(base + "/jobs", auth=AUTH, timeout=30).status_code == 503
        timed = [scraped(base) for _ in range(SCRAPES)]
        for status, down, _ in timed:
            assert status == 200, status
            assert down["ma_redis_up{}"] == 0.0
            # the families kept in Redis are left out, not given as zeros (a counter falling to 0 is a reset)
            assert not names(down) & {"ma_queue_depth", "ma_workers_alive", "ma_jobs_running",
                                      "ma_jobs_created", "ma_job_duration_seconds"}, names(down)
        down = timed[-1][1]
        route = "/jobs"
        assert down[f"ma_http_requests_total{{method=GET,route={route},status=503}}"] >= 1
        assert down["ma_http_requests_total{method=POST,route=/sessions/<session_id>/files,status=201}"] >= 1
        assert down["ma_upload_bytes_total{}"] > 0
        print(f"\n  /metrics with Redis away: 200 in {statistics.median(s for *_, s in timed) * 1000:.1f} ms "
              f"(median of {SCRAPES})")

        back = start_embedded(tmp_path / "valkey-again", port=port)
        try:
            status, again, _ = scraped(base)
            assert status == 200 and again["ma_redis_up{}"] == 1.0 and "ma_queue_depth" in names(again)
        finally:
            back.stop()
