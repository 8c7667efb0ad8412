"""Compile the numba code of the analysis jobs once, into numba's on-disk cache, before a job needs it.

`python -m worker.warmup` runs the real features, pitch and `hpss` stems pipelines on a short synthetic recording
written into a temporary folder of its own (removed when it ends, also on SIGTERM: see main), at the lowest CPU
priority, and prints one JSON line of seconds per stage. Every `@jit(cache=True)` function those jobs reach
(librosa's peak picking, local maxima and phase helpers, and our beat-tracking and melody decoders; librosa's
inverse STFT's overlap-add and window sum, which the weight-free stems reach: ~6 s of a first `repet` or `hpss`
job, at 0 %) is then compiled into NUMBA_CACHE_DIR, so each later process (a prefork pool child, a restarted
worker) loads its machine code instead of compiling it: ~18 s of a fresh install's first features job (and of
each pool child's first job) on a 2-core machine.

The synthetic recording is what a real one is to those pipelines: 44.1 kHz stereo (dtypes, shapes and so the
compiled signatures are the same as an upload's after decoding) with a tone (pitch, key, chords, melody) and a
click every half second (onsets, tempo, and the beat tracker's dynamic programme, which a beat-less signal skips).
Measured on a fresh cache (2026-12-05): it leaves the same cache index files and the same compiled signatures as
a 6 s and a 114 s Ogg Vorbis recording did.

The worker runs this in a process of its own (jobs/warmup.py): numba's compiler holds a process-wide lock and
mostly Python bytecode (the GIL) while it compiles, so in a thread of the worker it would hold up a job's own
compiles and its Python code; as a separate process at nice 19 it shares nothing with a job but the cache files,
which numba writes through a temporary file and a rename (and reads a missing entry as a miss).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SR = 44100  # Hz: the commonest upload rate; the pipelines resample to their own rates as they would a file
SECONDS = 3.0  # the shortest length at which every compiled stage runs (the beat tracker needs a few beats)
CLICK_EVERY_SECONDS = 0.5  # 120 BPM


def synthetic_recording(path: Path) -> Path:
    """A stereo WAV of a 220 Hz tone with its fifth, and a click every half second."""
    import soundfile as sf

    t = np.arange(int(SR * SECONDS)) / SR
    y = 0.3 * np.sin(2 * np.pi * 220.0 * t) + 0.15 * np.sin(2 * np.pi * 330.0 * t)
    y[:: int(SR * CLICK_EVERY_SECONDS)] += 0.9
    sf.write(path, np.stack([y, 0.8 * y], axis=1).astype(np.float32), SR)
    return path


def warm(scratch: Path) -> dict[str, float]:
    """Run the features and pitch pipelines on the synthetic recording; seconds per stage (imports included)."""
    seconds: dict[str, float] = {}
    start = time.monotonic()
    from worker.features.options import FeaturesOptions
    from worker.features.pipeline import run_features
    from worker.music.options import PitchOptions
    from worker.music.pipeline import run_pitch
    from worker.separation.options import SeparationOptions
    from worker.separation.pipeline import run_separation

    audio = synthetic_recording(scratch / "warmup.wav")
    seconds["import"] = time.monotonic() - start
    lap = time.monotonic()
    run_features(audio_path=audio, results_dir=scratch, options=FeaturesOptions(picture=False))  # no numba in it
    seconds["features"] = time.monotonic() - lap
    lap = time.monotonic()
    run_pitch(audio_path=audio, results_dir=scratch, options=PitchOptions())  # every stage: all its code paths
    seconds["pitch"] = time.monotonic() - lap
    lap = time.monotonic()
    run_separation(audio_path=audio, results_dir=scratch, options=SeparationOptions(model="hpss"))  # STFT both ways
    seconds["stems"] = time.monotonic() - lap
    return {k: round(v, 2) for k, v in seconds.items()}


PARENT_ENV = "MA_WARMUP_PARENT"  # jobs/warmup.py sets both: the worker's pid
NICE_ENV = "MA_WARMUP_NICE"  # and NUMBA_WARMUP_NICE
DEFAULT_NICE = 19


def end_with_parent() -> None:
    """A worker killed outright (SIGKILL, the OOM killer) takes this with it: its restart starts a warm-up of its
    own, and two compiling at nice 19 would only take twice the idle CPU (Linux; elsewhere it runs to its end).
    The parent is the worker that named itself in MA_WARMUP_PARENT, not whoever adopted this process: a worker
    killed before this ran had left its warm-up compiling on as an orphan."""
    try:
        parent = int(os.environ.get(PARENT_ENV, ""))
    except ValueError:  # run by hand: the process that started it
        parent = os.getppid()
    try:
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took hold (or before this started)
        raise SystemExit(1)


SCRATCH: list[str] = []  # the scratch folder once made (main): what the SIGTERM handler removes


def stop_on_sigterm(signum: int, frame: object) -> None:
    """Remove the scratch folder and end here. It had raised SystemExit to unwind through a `with`: a SIGTERM that
    came while numba's compiler ran Python in a ctypes callback from LLVM (its object-cache hook) had the exception
    printed and dropped, and the warm-up compiled on to its end after its worker was gone (27 s idle, 64 s in a
    suite run, where a test waits for it to end)."""
    for path in SCRATCH:
        shutil.rmtree(path, ignore_errors=True)
    os._exit(128 + signum)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m worker.warmup", file=sys.stderr)
        return 2
    # before anything is made: the SIGTERM of the worker's stop, or of its death (end_with_parent), removes the
    # scratch folder on the way out; a worker killed outright had left it in /tmp each time (~0.5 MB)
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    os.nice(int(os.environ.get(NICE_ENV) or DEFAULT_NICE))  # 19, the lowest priority: a job beside it keeps the CPU
    end_with_parent()
    # SIGTERM held while the folder is made and recorded: a stop in between would leave it behind
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        scratch = tempfile.mkdtemp(prefix="music-analyzer-warmup-")
        SCRATCH.append(scratch)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    try:
        stages = warm(Path(scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(stages), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
