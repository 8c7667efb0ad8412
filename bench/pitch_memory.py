"""Peak memory and time of run_pitch on a 3-minute and a 60-minute 44.1 kHz stereo file.

Each run is a fresh subprocess (so ru_maxrss is that run's peak alone): import, decode,
analyse, write the four files. The files are rendered music (pattern songs of the test set)
tiled to length, written as 16-bit stereo WAV (FLAC with --format flac). Prints peak RSS,
wall time, seconds per minute of audio and the 60/3-minute RSS growth ratio.

Usage: python bench/pitch_memory.py [--minutes 3 60] [--format wav] [--code DIR]
  --code DIR: import worker.music from another checkout (e.g. the main branch) for a baseline.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TESTSET = ROOT / "bench" / "out" / "pitch_testset"
SR = 44100  # Hz
RSS_LIMITS_MB = {3: 400.0, 60: 600.0}  # targets of the reliability issue

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
t = time.perf_counter()
from worker.music.options import PitchOptions
from worker.music.pipeline import run_pitch
res = run_pitch(audio_path={path!r}, results_dir={out!r}, options=PitchOptions())
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": time.perf_counter() - t, "rss_mb": rss,
                  "tempo": res.get("tempo_bpm"), "key": res["key"]["label"]}}))
"""


def music_source(seconds: float) -> np.ndarray:
    """(2, n) stereo: rendered pattern songs back to back, the right channel slightly delayed."""
    import soundfile as sf

    manifest = json.loads((TESTSET / "manifest.json").read_text())
    parts, total = [], 0.0
    for item in manifest:
        if item["family"] != "pattern" or total >= min(seconds, 300.0):
            continue
        y, sr = sf.read(str(TESTSET / item["audio"]), dtype="float32", always_2d=True)
        parts.append(y.mean(axis=1))
        total += len(y) / sr
    mono = np.concatenate(parts)
    mono = np.tile(mono, int(np.ceil(seconds * SR / len(mono))))[: int(seconds * SR)]
    return np.stack([mono, np.roll(mono, 7)])


def write_long(path: Path, seconds: float, fmt: str) -> None:
    write_tiled(path, music_source(min(seconds, 300.0)), seconds, fmt=fmt)


def write_tiled(path: Path, chunk: np.ndarray, seconds: float, *, fmt: str = "wav") -> None:
    """`chunk` ((2, n) at SR) repeated to `seconds`, written in blocks so this script's own memory stays small."""
    import soundfile as sf

    with sf.SoundFile(str(path), "w", SR, 2, subtype="PCM_16", format=fmt.upper()) as f:
        written = 0
        while written < seconds * SR:
            n = int(min(chunk.shape[1], seconds * SR - written))
            f.write(chunk[:, :n].T)
            written += n


def run_child(path: Path, code_root: Path) -> dict:
    with tempfile.TemporaryDirectory() as out:
        child = CHILD.format(root=str(code_root), path=str(path), out=out)
        proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[3.0, 60.0])
    ap.add_argument("--format", default="wav", choices=["wav", "flac"])
    ap.add_argument("--code", type=Path, default=ROOT)
    args = ap.parse_args(argv)
    if not (TESTSET / "manifest.json").exists():
        sys.exit("no test set: run python bench/pitch_testset.py first")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in args.minutes:
            path = Path(tmp) / f"music_{minutes:g}min.{args.format}"
            write_long(path, minutes * 60.0, args.format)
            r = run_child(path, args.code)
            rows[minutes] = r
            limit = RSS_LIMITS_MB.get(int(minutes))
            print(f"{minutes:5g} min: peak RSS {r['rss_mb']:7.1f} MB"
                  f"{'' if limit is None else f' (target <= {limit:.0f})'}, {r['seconds']:7.1f} s wall "
                  f"({r['seconds'] / minutes:.2f} s per minute of audio, incl. imports and files); "
                  f"{r['key']}, {r['tempo']} BPM", flush=True)
            path.unlink()
    if len(rows) >= 2:
        lo, hi = min(rows), max(rows)
        print(f"RSS growth {hi:g} / {lo:g} min: {rows[hi]['rss_mb'] / rows[lo]['rss_mb']:.2f}x "
              f"for {hi / lo:.0f}x the audio")


if __name__ == "__main__":
    main()
