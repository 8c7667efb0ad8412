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
    """Write by extension: wav/flac/ogg/mp3/aiff through libsndfile, m4a (AAC) through ffmpeg."""
    path = Path(path)
    ext = path.suffix.lower().lstrip(".")
    if ext == "m4a":
        wav = path.with_suffix(".tmp.wav")
        sf.write(wav, y, sr)
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "aac", "-b:a", "128k",
                        str(path)], check=True)
        wav.unlink()
        return path
    fmt = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "mp3": "MP3", "aiff": "AIFF", "aif": "AIFF"}[ext]
    sf.write(path, y, sr, format=fmt)
    return path


def flac_declaring(path, *, source, total_samples: int):
    """A copy of the FLAC `source` whose STREAMINFO says it holds `total_samples` per channel (0: unknown)."""
    data = bytearray(source.read_bytes())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # STREAMINFO is the first metadata block
    # bytes 18-25: sample rate (20 bits), channels-1 (3), bits-1 (5), total samples (36)
    packed = int.from_bytes(data[18:26], "big")
    packed = (packed & ~((1 << 36) - 1)) | total_samples
    data[18:26] = packed.to_bytes(8, "big")
    path.write_bytes(bytes(data))
    return path
