"""The storage quota's estimate of a job's output (jobs/output_estimate.py) against what the job writes.

    python3 bench/output_estimate.py AUDIO [AUDIO ...]

For each file: describe it as the upload route does (worker.audio_io.probe), run the work functions the workers
run (REPET and HPSS separations as WAV and FLAC, features, pitch) into a scratch folder, and print the bytes
written (blocks, as the quota counts them: du) beside the estimate, and their ratio estimate / written. Real
recordings, e.g. extremetuxracer's /usr/share/games/etr/music/*.ogg, and a 96 kHz FLAC made with
`ffmpeg -i credits1-cp.ogg -t 48 -ar 96000 -ac 2 q96.flac`.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

from jobs.output_estimate import estimate_output_bytes
from worker.audio_io import probe
from worker.features.options import FeaturesOptions
from worker.features.pipeline import run_features
from worker.music.options import PitchOptions
from worker.music.pipeline import run_pitch
from worker.separation.options import SeparationOptions
from worker.separation.pipeline import run_separation

RUNS = {
    "repet wav": ("demucs", SeparationOptions(model="repet")),
    "hpss wav": ("demucs", SeparationOptions(model="hpss")),
    "repet flac": ("demucs", SeparationOptions(model="repet", format="flac")),
    "features": ("features", FeaturesOptions()),
    "pitch": ("pitch", PitchOptions()),
}


def du(folder: Path) -> int:
    return sum(os.stat(p).st_blocks * 512 for p in folder.iterdir())


def run(name: str, options, audio: Path, out: Path) -> None:
    if name == "features":
        run_features(audio_path=audio, results_dir=out, options=options)
    elif name == "pitch":
        run_pitch(audio_path=audio, results_dir=out, options=options)
    else:
        run_separation(audio_path=audio, results_dir=out, options=options)


def main(paths: list[str]) -> None:
    ratios: dict[str, list[float]] = {name: [] for name in RUNS}
    for path in map(Path, paths):
        info = probe(path).to_dict()
        print(f"{path.name}: {info['duration_seconds']:.1f} s, {info['sample_rate']} Hz, {info['channels']} ch")
        for name, (job_type, options) in RUNS.items():
            with tempfile.TemporaryDirectory() as scratch:
                out = Path(scratch)
                run(name.split()[0] if job_type != "demucs" else name, options, path, out)
                written = du(out)
            estimate = estimate_output_bytes(job_type, options.to_dict(), [info])
            ratios[name].append(estimate / written)
            print(f"  {name:10s} written {written / 1e6:9.3f} MB  estimate {estimate / 1e6:9.3f} MB  "
                  f"ratio {estimate / written:5.2f}")
    for name, values in ratios.items():
        print(f"{name:10s} estimate/written: median {statistics.median(values):.2f}, "
              f"min {min(values):.2f}, max {max(values):.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
