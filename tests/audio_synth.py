"""Synthetic test audio with known answers, written in real formats by real encoders."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 44100  # Hz


def sine(freq: float = 440.0, seconds: float = 2.0, *, sr: int = SR, amp: float = 0.5,
         channels: int = 1) -> np.ndarray:
    """(samples, channels) float32 sine."""
    t = np.arange(int(seconds * sr)) / sr
    y = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(y[:, None], channels, axis=1)


def write(path: Path, y: np.ndarray, *, sr: int = SR) -> Path:
    """Write by extension: wav/flac/ogg/mp3 through libsndfile, m4a (AAC) through ffmpeg."""
    path = Path(path)
    ext = path.suffix.lower().lstrip(".")
    if ext == "m4a":
        wav = path.with_suffix(".tmp.wav")
        sf.write(wav, y, sr)
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "aac", "-b:a", "128k",
                        str(path)], check=True)
        wav.unlink()
        return path
    fmt = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "mp3": "MP3"}[ext]
    sf.write(path, y, sr, format=fmt)
    return path
