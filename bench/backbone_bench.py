"""Backbone figures: features speed vs plain librosa, GET /jobs throughput under gunicorn,
upload memory, and the trivial-job round trip. Prints medians and ratios measured in this run.

    python bench/backbone_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SR = 44100  # Hz
GUNICORN_ARGS = ["-w", "2", "-k", "gthread", "--threads", "8", "--timeout", "300"]  # as run.py


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_features(runs: int) -> None:
    import librosa

    from worker.features.descriptors import compute_features

    rng = np.random.default_rng(0)
    t = np.arange(SR * 180) / SR
    y = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    y = np.stack([y, np.roll(y, 100)])

    def plain():
        m = librosa.to_mono(y)
        librosa.feature.rms(y=m)
        librosa.feature.spectral_centroid(y=m, sr=SR)
        librosa.feature.spectral_bandwidth(y=m, sr=SR)
        librosa.feature.spectral_rolloff(y=m, sr=SR)
        librosa.feature.zero_crossing_rate(m)
        librosa.feature.mfcc(y=m, sr=SR, n_mfcc=13)
        librosa.feature.chroma_stft(y=m, sr=SR)
        import pyloudnorm
        pyloudnorm.Meter(SR).integrated_loudness(y.T.astype(np.float64))

    compute_features(y, SR)  # warm caches (filter banks, FFT plans)
    ours = median_time(lambda: compute_features(y, SR), runs)
    base = median_time(plain, runs)
    print(f"features, 3-min 44.1 kHz stereo: ours {ours:.2f} s, plain librosa+pyloudnorm {base:.2f} s, "
          f"speed-up x{base / ours:.1f}  (median of {runs})")


def start_stack(tmp: Path, redis_url: str):
    from werkzeug.security import generate_password_hash

    env = {**os.environ, "REDIS_URL": redis_url, "DATA_DIR": str(tmp / "data"),
           "AUTH_USERS": f"bench:{generate_password_hash('bench-password', method='pbkdf2:sha256:1000')}",
           "MAX_UPLOAD_BYTES": str(400 * 1024 * 1024), "MAX_DURATION_SECONDS": "100000"}
    api = subprocess.Popen([sys.executable, "-m", "gunicorn", *GUNICORN_ARGS, "-b", "127.0.0.1:8787",
                            "app:create_app()"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "make_celery", "worker", "-Q", "cpu",
                               "--pool", "solo", "-n", "bench@x", "--loglevel", "ERROR"], cwd=ROOT, env=env,
                              stderr=subprocess.DEVNULL)
    import requests

    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if requests.get("http://127.0.0.1:8787/health", timeout=5).status_code in (200, 503):
                break
        except requests.RequestException:
            time.sleep(0.2)
    return api, worker


def bench_http(n_requests: int, quick: bool) -> None:
    import requests

    from redis_server import ensure_redis

    tmp = Path(tempfile.mkdtemp())
    redis_url, embedded = ensure_redis("redis://127.0.0.1:6379/14", tmp)
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    api, worker = start_stack(tmp, redis_url)
    base, auth = "http://127.0.0.1:8787", ("bench", "bench-password")
    try:
        s = requests.Session()
        s.auth = auth
        sid = s.post(base + "/sessions").json()["session_id"]
        wav = tmp / "t.wav"
        import soundfile as sf

        sf.write(wav, np.zeros((SR // 2, 1), dtype=np.float32) + 0.01, SR)
        s.post(f"{base}/sessions/{sid}/files", files={"file": open(wav, "rb")})
        job_id = s.post(f"{base}/process/features/{sid}", json={}).json()["job_id"]

        # GET /jobs/<id> throughput. wrk (C, keep-alive) as the load generator when installed: a Python
        # client on the same 2 cores measures itself more than the server.
        if shutil.which("wrk"):
            import base64

            token = base64.b64encode(b"bench:bench-password").decode()
            # warm-up: first requests pay imports, connection pools and page faults in each API process
            subprocess.run(["wrk", "-t1", "-c8", "-d3s", "-H", f"Authorization: Basic {token}",
                            f"{base}/jobs/{job_id}"], capture_output=True, check=True)
            for conns in (8, 16):
                out = subprocess.run(["wrk", "-t1", f"-c{conns}", "-d8s", "--latency", "-H",
                                      f"Authorization: Basic {token}", f"{base}/jobs/{job_id}"],
                                     capture_output=True, text=True, check=True).stdout
                rps = re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)
                p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)  # the latency distribution lines
                p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)
                print(f"GET /jobs/<id> under gunicorn ({' '.join(GUNICORN_ARGS[:6])}), wrk {conns} connections: "
                      f"{float(rps):.0f} req/s, p50 {p50}, p99 {p99}")
        else:
            lat: list[float] = []
            lock = threading.Lock()

            def hammer(count):
                c = requests.Session()
                c.auth = auth
                mine = []
                for _ in range(count):
                    t0 = time.perf_counter()
                    c.get(f"{base}/jobs/{job_id}")
                    mine.append(time.perf_counter() - t0)
                with lock:
                    lat.extend(mine)

            threads = [threading.Thread(target=hammer, args=(n_requests // 8,)) for _ in range(8)]
            t0 = time.perf_counter()
            [t.start() for t in threads]
            [t.join() for t in threads]
            wall = time.perf_counter() - t0
            lat.sort()
            print(f"GET /jobs/<id> (python client, 8 threads, {len(lat)} requests; install wrk for a fair figure): "
                  f"{len(lat) / wall:.0f} req/s, p50 {lat[len(lat) // 2] * 1000:.1f} ms, "
                  f"p99 {lat[int(len(lat) * 0.99)] * 1000:.1f} ms")

        # trivial job round trip: the no-op probe job, enqueue -> worker -> result seen
        probes = [s.post(f"{base}/jobs/probe", json={"queue": "cpu", "wait": 10}).json()
                  for _ in range(10 if quick else 40)]
        rtt = statistics.median(p["round_trip_ms"] for p in probes)
        print(f"probe job round trip (HTTP -> Redis -> worker -> record -> BLPOP wake-up): median {rtt:.1f} ms "
              f"over {len(probes)}")
        polled = []
        for _ in range(10 if quick else 40):
            t0 = time.perf_counter()
            jid = s.post(f"{base}/jobs/probe", json={"queue": "cpu", "wait": 10}).json()["job_id"]
            while s.get(f"{base}/jobs/{jid}").json()["state"] != "succeeded":
                pass
            polled.append((time.perf_counter() - t0) * 1000)
        print(f"probe job, client polling GET /jobs/<id> until it sees the result: median "
              f"{statistics.median(polled):.1f} ms")

        # a real (small) job: decode + features + PNG of a 0.5 s file
        rtts = []
        for _ in range(3 if quick else 10):
            t0 = time.perf_counter()
            jid = s.post(f"{base}/process/features/{sid}", json={"file": "t.wav"}).json()["job_id"]
            while s.get(f"{base}/jobs/{jid}").json()["state"] not in ("succeeded", "failed"):
                pass
            rtts.append(time.perf_counter() - t0)
        print(f"features job round trip on a 0.5 s file (enqueue -> worker -> poll sees result): "
              f"median {statistics.median(rtts) * 1000:.0f} ms")

        # upload memory: peak RSS of the gunicorn worker processes during a 200 MB upload
        import psutil

        big = tmp / "big.wav"
        n = 200 * 1024 * 1024 // 8
        with sf.SoundFile(big, "w", SR, 2, subtype="FLOAT") as f:
            for _ in range(0, n, SR * 10):
                f.write(np.full((SR * 10, 2), 0.01, dtype=np.float32))
        kids = psutil.Process(api.pid).children()
        before = {p.pid: p.memory_info().rss for p in kids}
        peak = dict(before)
        done = threading.Event()

        def watch():
            while not done.is_set():
                for p in kids:
                    try:
                        peak[p.pid] = max(peak[p.pid], p.memory_info().rss)
                    except psutil.NoSuchProcess:
                        pass
                time.sleep(0.01)

        w = threading.Thread(target=watch)
        w.start()
        with open(big, "rb") as fh:
            r = s.post(f"{base}/sessions/{sid}/files", files={"file": ("big.wav", fh)})
        done.set()
        w.join()
        growth = max(peak[p] - before[p] for p in peak)
        print(f"upload of {big.stat().st_size / 1e6:.0f} MB: HTTP {r.status_code}, peak API worker RSS growth "
              f"{growth / 1e6:.1f} MB")
    finally:
        for p in (api, worker):
            p.terminate()
            p.wait(timeout=30)
        if embedded:
            embedded.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    bench_features(3 if args.quick else 5)
    bench_http(2000 if args.quick else 8000, args.quick)


if __name__ == "__main__":
    main()
