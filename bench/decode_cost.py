"""What the upload check's decode costs per sample, by codec and sample rate: the figures behind
api/decode_cost.py's weights (README "Limits and the cost of an upload").

Every uploaded audio file is decoded to its end at upload (worker/audio_io.py `probe`), in the API's thread;
MAX_REQUEST_SAMPLES bounds that work per request. Each codec is written by FFmpeg from the same mono noise-and-tone
signal (stereo rows too), `probe` is timed on it `--runs` times (CPU time of this process, steadier than wall time
on a shared machine; the first call excluded), and the median ns per sample (frames x channels) is printed.

Usage: python bench/decode_cost.py [--seconds 120] [--runs 5] [--rates 8000 44100]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from worker.audio_io import probe  # noqa: E402

# name -> (extension, ffmpeg's encoder arguments)
CODECS = {
    "wav-pcm16": ("wav", ["-c:a", "pcm_s16le"]),
    "aiff-pcm16": ("aiff", ["-c:a", "pcm_s16be"]),
    "flac": ("flac", ["-c:a", "flac"]),
    "mp3": ("mp3", ["-c:a", "libmp3lame", "-b:a", "64k"]),
    "ogg-vorbis": ("ogg", ["-c:a", "libvorbis"]),
    "ogg-opus": ("opus", ["-c:a", "libopus"]),
    "webm-opus": ("webm", ["-c:a", "libopus"]),
    "m4a-aac": ("m4a", ["-c:a", "aac"]),
    "adts-aac": ("aac", ["-c:a", "aac", "-f", "adts"]),
    "m4a-alac": ("m4a", ["-c:a", "alac"]),
    "caf-ima4": ("caf", ["-c:a", "adpcm_ima_qt"]),
    "wv": ("wv", ["-c:a", "wavpack"]),
}
OPUS_RATES = {8000, 12000, 16000, 24000, 48000}  # what Opus encodes at; other rates are resampled by libopus


def signal(seconds: float, sr: int, channels: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)
    return np.repeat(y[:, None], channels, axis=1).astype(np.float32)


def encode(src: Path, dest: Path, args: list[str]) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *args, str(dest)], check=True)


def cpu_ns(path: Path) -> tuple[float, int]:
    t = time.process_time_ns()
    info = probe(path)
    return time.process_time_ns() - t, info.frames * info.channels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rates", type=int, nargs="+", default=[8000, 44100])
    ap.add_argument("--channels", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--codecs", nargs="+", default=list(CODECS))
    a = ap.parse_args()
    print(f"{'codec':<12} {'rate':>6} {'ch':>2} {'ns/sample':>9}  (median of {a.runs}; min-max)")
    with tempfile.TemporaryDirectory() as tmp:
        for rate in a.rates:
            for ch in a.channels:
                src = Path(tmp) / f"src_{rate}_{ch}.wav"
                sf.write(src, signal(a.seconds, rate, ch), rate, subtype="PCM_16")
                for name in a.codecs:
                    ext, args = CODECS[name]
                    if "opus" in name and rate not in OPUS_RATES:
                        continue
                    dest = Path(tmp) / f"{name}_{rate}_{ch}.{ext}"
                    encode(src, dest, args)
                    cpu_ns(dest)  # first call: lazy imports, the decoder's tables
                    runs = [cpu_ns(dest) for _ in range(a.runs)]
                    per = [ns / n for ns, n in runs]
                    spread = f"({min(per):.2f}-{max(per):.2f})"
                    print(f"{name:<12} {rate:>6} {ch:>2} {statistics.median(per):>9.2f}  {spread}", flush=True)


if __name__ == "__main__":
    main()
