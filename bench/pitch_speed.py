"""Speed of worker.music: seconds per minute of audio per stage, beside librosa baselines.

The track is 3 minutes of rendered music (pattern songs of the test set back to back; run
bench/pitch_testset.py first). Reported: the warm analysis (a worker process that has
analysed something before; median of --runs), the cold first call in a fresh process
(imports + JIT caches), run_pitch with its four output files, and in the same run librosa's
pYIN, beat_track and chroma_cqt on the same audio (pYIN on --pyin-seconds of it: it is slow).

Usage: python bench/pitch_speed.py [--runs 3] [--pyin-seconds 30] [--code DIR] [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if "--code" in sys.argv:  # score another checkout's worker.music (e.g. main) in the same session
    sys.path.insert(0, str(Path(sys.argv[sys.argv.index("--code") + 1]).resolve()))
sys.path.insert(1, str(ROOT))

from worker.audio_io import load_audio, resample  # noqa: E402
from worker.music.options import PitchOptions  # noqa: E402
from worker.music.pipeline import analyze_music, run_pitch  # noqa: E402

TESTSET = Path(__file__).resolve().parent / "out" / "pitch_testset"
SR = 44100  # Hz, rate of the assembled track
TRACK_SECONDS = 180.0


def three_minute_track() -> np.ndarray:
    manifest = json.loads((TESTSET / "manifest.json").read_text())
    parts, total = [], 0.0
    for item in manifest:
        if item["family"] != "pattern":
            continue
        y, sr = load_audio(TESTSET / item["audio"], sr=SR, mono=True)
        parts.append(y)
        total += len(y) / SR
        if total >= TRACK_SECONDS:
            break
    return np.concatenate(parts)[: int(TRACK_SECONDS * SR)]


def cold_seconds(path: Path) -> float:
    root = str(Path(__file__).resolve().parents[1])
    code = (f"import sys,time; sys.path.insert(0, {root!r}); t=time.perf_counter();"
            "from worker.audio_io import load_audio; from worker.music.pipeline import analyze_music;"
            f"y,sr=load_audio({str(path)!r}, mono=True); analyze_music(y, sr); print(time.perf_counter()-t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pyin-seconds", type=float, default=30.0)
    ap.add_argument("--code", type=Path, default=ROOT, help="checkout whose worker.music is timed")
    ap.add_argument("--quick", action="store_true", help="warm analysis only (no run_pitch, cold call, baselines)")
    args = ap.parse_args(argv)
    if not (TESTSET / "manifest.json").exists():
        sys.exit("no test set: run python bench/pitch_testset.py first")
    import librosa
    import soundfile as sf

    y = three_minute_track()
    minutes = len(y) / SR / 60.0
    analyze_music(y[: SR * 10], SR)  # warm-up: imports, JIT caches, FFT plans
    runs: list[dict] = []
    walls = []
    for _ in range(args.runs):
        timings: dict = {}
        t = time.perf_counter()
        analyze_music(y, SR, options=PitchOptions(), timings=timings)
        walls.append(time.perf_counter() - t)
        runs.append(timings)
    print(f"track: {minutes * 60:.0f} s of rendered music at {SR} Hz; medians of {args.runs} runs\n")
    print(f"{'stage':12s} {'s/min audio':>12s}")
    for stage in runs[0]:
        print(f"{stage:12s} {np.median([r[stage] for r in runs]) / minutes:12.3f}")
    wall = float(np.median(walls))
    print(f"{'total':12s} {wall / minutes:12.3f}   -> {wall:.2f} s wall for the 3-minute track (target <= 3 s)")
    if args.quick:
        return

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "three_minutes.flac"
        sf.write(str(path), y, SR)
        t = time.perf_counter()
        run_pitch(audio_path=path, results_dir=Path(tmp) / "out", options=PitchOptions())
        print(f"run_pitch (decode + analysis + json/txt/mid/png): {time.perf_counter() - t:.2f} s")
        print(f"cold first call in a fresh process (imports + analysis): {cold_seconds(path):.2f} s")

    # baselines, same audio
    y22 = resample(y, orig_sr=SR, target_sr=22050)
    n = int(args.pyin_seconds * 22050)
    t = time.perf_counter()
    librosa.pyin(y22[:n], fmin=65.0, fmax=2100.0, sr=22050)
    pyin_per_min = (time.perf_counter() - t) / (n / 22050 / 60)
    melody_per_min = np.median([r["melody"] for r in runs]) / minutes
    t = time.perf_counter()
    librosa.beat.beat_track(y=y22, sr=22050)
    beat_per_min = (time.perf_counter() - t) / minutes
    t = time.perf_counter()
    librosa.feature.chroma_cqt(y=y22, sr=22050)
    cqt_per_min = (time.perf_counter() - t) / minutes
    print("\nbaselines (s per minute of audio):")
    print(f"  librosa pyin         {pyin_per_min:8.2f}   ours melody {melody_per_min:.3f}  "
          f"-> {pyin_per_min / melody_per_min:.0f}x faster")
    print(f"  librosa beat_track   {beat_per_min:8.3f}")
    print(f"  librosa chroma_cqt   {cqt_per_min:8.3f}")


if __name__ == "__main__":
    main()
