"""Real-time factor of Whisper tiny.en (faster-whisper, int8, CPU) on 60 s of espeak-ng speech.

RTF = processing seconds / audio seconds (target <= 0.1). Also prints the word error rate as a sanity check.

    python bench/whisper_bench.py [--seconds 60] [--repeats 3] [--threads 2]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Music is the art of arranging sounds in time.",
    "Please call me tomorrow morning at seven.",
    "The orchestra played the symphony with great energy.",
    "She sings a quiet song about the river and the sea.",
    "Every drummer needs a steady sense of time.",
]


def espeak_speech(seconds: float, folder: Path) -> tuple[np.ndarray, int, str]:
    """Sentences read by espeak-ng, repeated until `seconds` long; returns (mono, sr, reference text)."""
    clips, sr = [], 22050
    for i, s in enumerate(SENTENCES):
        wav = folder / f"s{i}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), s], check=True)
        y, sr = sf.read(wav, dtype="float32")
        clips.append(np.concatenate([y, np.zeros(int(0.3 * sr), np.float32)]))
    parts, words, n, i = [], [], 0, 0
    while n < seconds * sr:
        parts.append(clips[i % len(clips)])
        words.append(SENTENCES[i % len(SENTENCES)])
        n += clips[i % len(clips)].size
        i += 1
    return np.concatenate(parts), sr, " ".join(words)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    from tests.test_transcription_whisper import wer
    from worker.audio_io import resample
    from worker.transcription.options import WhisperOptions
    from worker.transcription.pipeline import SAMPLE_RATE, transcribe
    from worker.transcription.weights import load_whisper

    with tempfile.TemporaryDirectory() as tmp:
        y, sr, reference = espeak_speech(args.seconds, Path(tmp))
    audio = resample(y, orig_sr=sr, target_sr=SAMPLE_RATE)
    seconds = audio.size / SAMPLE_RATE
    t0 = time.perf_counter()
    model, nbytes = load_whisper("tiny.en", models_dir=None, device="cpu", cpu_threads=args.threads)
    load = time.perf_counter() - t0
    print(f"Whisper tiny.en int8, {seconds:.1f} s of espeak-ng speech, {args.threads} threads; "
          f"load {load:.2f} s, {nbytes / 1e6:.0f} MB on disk")
    for label, opts in (("beam 5 (default)", WhisperOptions()), ("beam 5 + VAD", WhisperOptions(vad=True)),
                        ("beam 1", WhisperOptions(beam_size=1))):
        runs, text = [], ""
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            text = transcribe(model, audio, opts)["text"]
            runs.append(time.perf_counter() - t0)
        rtf = statistics.median(runs) / seconds
        print(f"  {label:18s} RTF {rtf:.3f} (median of {args.repeats}: {statistics.median(runs):.2f} s)  "
              f"WER {wer(reference, text):.3f}   target RTF <= 0.1: {'met' if rtf <= 0.1 else 'NOT met'}")


if __name__ == "__main__":
    main()
