"""What an upload costs: the upload check of a 10-hour FLAC, and peak memory and time of the features and
pitch jobs on 3- and 60-minute 44.1 kHz stereo files, against a baseline checkout in the same session.

Each job run is a fresh subprocess (so ru_maxrss is that run's peak alone) that imports the code of one
checkout (`--code` for this one, `--baseline` for the other, e.g. `git archive main | tar -x -C /tmp/base`)
and times the job function alone (imports and a first call on a 5-second file excluded). The audio is
synthetic music (a chord cycle with bass, hi-hat noise and a quiet bar), written as 16-bit stereo WAV in
blocks so this script stays small too.

Wall time on a shared machine swings with the others' load; CPU time (user + system) much less, so
both are printed. Prints medians of `--runs` runs for the 3-minute file (old and new interleaved, as
load comes and goes), one run for the 60-minute one, the ratios new/old and the growth from 3 to 60
minutes.

Usage: python bench/upload_cost.py --baseline /tmp/base [--minutes 3 60] [--runs 3] [--baseline-long]
  --baseline-long: also run the baseline on the long file (the old features job needs ~17 GB there).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.pitch_memory import SR, write_tiled  # noqa: E402

RSS_LIMITS_MB = {3: 400.0, 60: 600.0}  # targets of the reliability issue
LONG_HEADER_HOURS = 10.0  # the upload check's file

JOB_CHILD = """
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
{imports}
{warmup}  # first-call costs (lazy imports, filter banks) on a short file, outside the timing
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
t, c = time.perf_counter(), cpu()
{call}
print(json.dumps({{"seconds": time.perf_counter() - t, "cpu_seconds": cpu() - c,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
JOBS = {
    "features": ("from worker.features.options import FeaturesOptions\n"
                 "from worker.features.pipeline import run_features",
                 "run_features(audio_path=Path({path!r}), results_dir=Path({out!r}), options=FeaturesOptions())"),
    "pitch": ("from worker.music.options import PitchOptions\nfrom worker.music.pipeline import run_pitch",
              "run_pitch(audio_path=Path({path!r}), results_dir=Path({out!r}), options=PitchOptions())"),
}
PROBE_CHILD = """
import inspect, json, sys, time
sys.path.insert(0, {root!r})
from worker.audio_io import probe
t = time.perf_counter()
try:
    if "limits" in inspect.signature(probe).parameters:
        from worker.audio_limits import AudioLimits
        probe({path!r}, limits=AudioLimits(max_duration=3600.0, max_sample_rate=192000, max_channels=8))
    else:
        probe({path!r}, max_duration=3600.0)
    code = None
except Exception as e:
    code = getattr(e, "code", type(e).__name__)
print(json.dumps({{"seconds": time.perf_counter() - t, "code": code}}))
"""


def music(seconds: float, sr: int = SR) -> np.ndarray:
    """(2, n) float32: I-vi-IV-V chords with bass and hi-hat noise, 2 s a chord, a quiet bar every 32 s."""
    rng = np.random.default_rng(0)
    t = np.arange(int(2.0 * sr)) / sr
    bars = []
    for i in range(int(np.ceil(seconds / 2.0))):
        root = (0, 9, 5, 7)[i % 4]
        notes = [48 + root] + [60 + (root + iv) % 12 for iv in (0, 4, 7)]
        bar = sum(0.2 * np.sin(2 * np.pi * 440 * 2 ** ((m - 69) / 12) * t) for m in notes)
        hats = np.zeros_like(t)
        for k in range(8):
            s = int(k * 0.25 * sr)
            hats[s:s + 2000] = rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300) * 0.3
        bars.append((bar + hats) * (0.02 if i % 16 == 15 else 1.0) * np.minimum(1.0, t / 0.02))
    mono = np.concatenate(bars)[: int(seconds * sr)].astype(np.float32) * 0.5
    return np.stack([mono, np.roll(mono, 7)])


def write_music(path: Path, seconds: float) -> None:
    write_tiled(path, music(min(seconds, 128.0)), seconds)  # a whole number of 16-bar cycles, tiled


def write_long_flac(path: Path, hours: float) -> None:
    """A real FLAC of `hours` hours (8 kHz mono, a faint tone): small on disk, long to decode."""
    import soundfile as sf

    sr = 8000
    block = (0.0005 * np.sin(2 * np.pi * 110 * np.arange(sr * 60) / sr)).astype(np.float32)
    with sf.SoundFile(str(path), "w", sr, 1, format="FLAC") as f:
        for _ in range(int(hours * 60)):
            f.write(block)


def run(child: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True)
    if proc.returncode:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_job(job: str, path: Path, code: Path) -> dict:
    imports, call = JOBS[job]
    warm = path.with_name("warmup.wav")
    if not warm.exists():
        write_music(warm, 5.0)
    with tempfile.TemporaryDirectory() as out:
        return run(JOB_CHILD.format(root=str(code), imports=imports, warmup=call.format(path=str(warm), out=out),
                                    call=call.format(path=str(path), out=out)))


def probe_figures(tmp: Path, code: Path, baseline: Path | None) -> None:
    path = tmp / "ten_hours.flac"
    write_long_flac(path, LONG_HEADER_HOURS)
    mb = path.stat().st_size / 1e6
    for label, root in (("new", code), ("old", baseline)):
        if root is not None:
            r = run(PROBE_CHILD.format(root=str(root), path=str(path)))
            print(f"upload check of a {LONG_HEADER_HOURS:g}-hour FLAC ({mb:.1f} MB), {label}: "
                  f"{r['seconds'] * 1000:.1f} ms -> {r['code']}", flush=True)
    path.unlink()


def median_row(rows: list[dict]) -> dict:
    ok = [r for r in rows if "error" not in r]
    if not ok:
        return rows[0]
    return {key: statistics.median(r[key] for r in ok) for key in ("seconds", "cpu_seconds", "rss_mb")}


def fmt(r: dict) -> str:
    if "error" in r:
        return r["error"]
    return f"{r['rss_mb']:7.1f} MB peak RSS, {r['seconds']:6.2f} s wall, {r['cpu_seconds']:6.2f} s CPU"


def job_figures(path: Path, minutes: float, runs: int, code: Path, baseline: Path | None) -> dict:
    out = {}
    for job in JOBS:
        rows: dict[str, list[dict]] = {"new": [], "old": []}
        for _ in range(runs):
            rows["new"].append(run_job(job, path, code))
            if baseline is not None:
                rows["old"].append(run_job(job, path, baseline))
        new = median_row(rows["new"])
        limit = RSS_LIMITS_MB.get(int(minutes))
        line = f"{minutes:5g} min {job:8s} new: {fmt(new)}{'' if limit is None else f' (target <= {limit:.0f} MB)'}"
        if rows["old"]:
            old = median_row(rows["old"])
            line += f"; old: {fmt(old)}"
            if "error" not in old and "error" not in new:
                line += (f"; new/old wall {new['seconds'] / old['seconds']:.2f}, "
                         f"CPU {new['cpu_seconds'] / old['cpu_seconds']:.2f}, RSS {new['rss_mb'] / old['rss_mb']:.2f}")
        print(line + f"  (median of {runs})", flush=True)
        out[job] = new
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[3.0, 60.0])
    ap.add_argument("--runs", type=int, default=3, help="runs of each job on files up to 10 minutes")
    ap.add_argument("--code", type=Path, default=ROOT)
    ap.add_argument("--baseline", type=Path, help="another checkout to compare with (the old code)")
    ap.add_argument("--baseline-long", action="store_true", help="run the baseline on files over 10 minutes too")
    ap.add_argument("--skip-probe", action="store_true")
    args = ap.parse_args(argv)
    figures = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if not args.skip_probe:
            probe_figures(tmp, args.code, args.baseline)
        for minutes in args.minutes:
            path = tmp / f"music_{minutes:g}min.wav"
            write_music(path, minutes * 60.0)
            short = minutes <= 10
            baseline = args.baseline if short or args.baseline_long else None
            figures[minutes] = job_figures(path, minutes, args.runs if short else 1, args.code, baseline)
            path.unlink()
    if len(figures) >= 2:
        lo, hi = min(figures), max(figures)
        for job in JOBS:
            a, b = figures[lo][job], figures[hi][job]
            if "error" not in a and "error" not in b:
                print(f"{job}: {hi:g} / {lo:g} min ({hi / lo:.0f}x the audio): "
                      f"wall {b['seconds'] / a['seconds']:.1f}x, CPU {b['cpu_seconds'] / a['cpu_seconds']:.1f}x, "
                      f"peak RSS {b['rss_mb'] / a['rss_mb']:.2f}x")


if __name__ == "__main__":
    main()
