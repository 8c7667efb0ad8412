"""The audio-features job: streaming decode → features → JSON, text summary and picture."""

from __future__ import annotations

from pathlib import Path

from worker.audio_blocks import BLOCK_SECONDS, channel_blocks, stream_info
from worker.features.descriptors import FeatureAccumulator, FeatureAnalysis, features_summary
from worker.features.plot import render_overview
from worker.files import write_json_atomic, write_text_atomic
from worker.progress import Progress, quiet

from .options import FeaturesOptions

PROGRESS_STEP = 0.05  # report the decode's progress at most every 5 % of the file


def result_stem(filename: str) -> str:
    """`song.mp3` -> `song`: result files are named after the upload's stem."""
    return filename.rsplit(".", 1)[0] if "." in filename else filename


def analyze_file(audio_path: Path, *, progress: Progress = quiet, block_seconds: float = BLOCK_SECONDS,
                 spill_dir: Path | None = None) -> FeatureAnalysis:
    """Features of a file decoded block by block: memory bounded by the block, not the duration.

    `progress` gets the fraction of the file done (when its header declares the length); `spill_dir`
    holds the MFCC frames' unnamed temporary file of a long file (see worker/features/mfcc.py).
    """
    from threadpoolctl import threadpool_limits

    info = stream_info(audio_path)
    acc = FeatureAccumulator(sample_rate=info.sample_rate, channels=info.channels, expected_frames=info.frames,
                             spill_dir=spill_dir)
    reported = 0.0
    # A block's matrix products are small (128 x 1025 by 1025 x 861): a second BLAS thread only spins
    # between them, which measured as 1.7x the CPU time of one thread on a shared 2-core machine.
    with threadpool_limits(limits=1, user_api="blas"):
        for block in channel_blocks(audio_path, block_seconds=block_seconds):
            acc.push(block)
            done = acc.samples / info.frames if info.frames else 0.0
            if done - reported >= PROGRESS_STEP:
                progress(min(done, 1.0), "features")
                reported = done
        return acc.finish()


# The bar's shares follow the stages' cost: the analysis reads the audio (its time grows with the length), the picture
# and the files are drawn and written from the pooled features (a fraction of a second whatever the length). A 3-minute
# track here: analysis 1.96 s, picture 0.23 s, files 0.01 s; one hour: 19.9, 0.22, 0.01 s. The bar had given the
# picture 30 % (60 -> 90 %), so a job's time left from its rate (jobs/estimates.py) said 10.7 s where 4.6 s were left.
ANALYSED = 0.95  # the analysis ends here, the picture begins
WRITING = 0.98


def run_features(*, audio_path: Path, results_dir: Path, options: FeaturesOptions | None = None,
                 progress: Progress | None = None) -> dict:
    """Analyse one file and write `features_<stem>.json|.txt|.png` into `results_dir`."""
    options = options or FeaturesOptions()
    report = progress or quiet
    report(0.05, "decoding")  # decoding and measuring now go block by block; the first stage keeps its name
    analysis = analyze_file(audio_path, progress=lambda f, stage: report(0.05 + (ANALYSED - 0.05) * f, stage),
                            spill_dir=results_dir)
    stem = result_stem(audio_path.name)
    result = {
        "filename": audio_path.name,
        "duration_seconds": round(analysis.duration_seconds, 3),
        "sample_rate": analysis.sample_rate,
        "channels": analysis.features["channels"],
        "audio_features": analysis.features,
    }
    files = [f"features_{stem}.json", f"features_{stem}.txt"]
    if options.picture:
        report(ANALYSED, "picture")
        warnings = analysis.features.get("warnings") or []  # in the picture too, as the pitch picture's are
        render_overview(results_dir / f"features_{stem}.png", analysis=analysis,
                        title=f"{audio_path.name} — {result['duration_seconds']:.1f} s"
                        + (f"\nwarning: {'; '.join(warnings)}" if warnings else ""))
        files.append(f"features_{stem}.png")
    report(WRITING, "writing")
    result["files"] = files
    write_text_atomic(results_dir / files[1], features_summary(result))
    write_json_atomic(results_dir / files[0], result)
    return result
