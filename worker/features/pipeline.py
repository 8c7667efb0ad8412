"""The audio-features job: decode → features → JSON, text summary and picture."""

from __future__ import annotations

from pathlib import Path

from worker.audio_io import load_audio
from worker.features.descriptors import analyze_features, features_summary
from worker.features.plot import render_overview
from worker.files import write_json_atomic, write_text_atomic
from worker.progress import Progress, quiet

from .options import FeaturesOptions


def result_stem(filename: str) -> str:
    """`song.mp3` -> `song`: result files are named after the upload's stem."""
    return filename.rsplit(".", 1)[0] if "." in filename else filename


def run_features(*, audio_path: Path, results_dir: Path, options: FeaturesOptions | None = None,
                 progress: Progress | None = None) -> dict:
    """Analyse one file and write `features_<stem>.json|.txt|.png` into `results_dir`."""
    options = options or FeaturesOptions()
    report = progress or quiet
    report(0.05, "decoding")
    y, sr = load_audio(audio_path)
    report(0.3, "features")
    analysis = analyze_features(y, sr)
    stem = result_stem(audio_path.name)
    result = {
        "filename": audio_path.name,
        "duration_seconds": round(y.shape[-1] / sr, 3),
        "sample_rate": sr,
        "channels": y.shape[0],
        "audio_features": analysis.features,
    }
    files = [f"features_{stem}.json", f"features_{stem}.txt"]
    if options.picture:
        report(0.6, "picture")
        render_overview(results_dir / f"features_{stem}.png", y=y, analysis=analysis,
                        title=f"{audio_path.name} — {result['duration_seconds']:.1f} s")
        files.append(f"features_{stem}.png")
    report(0.9, "writing")
    result["files"] = files
    write_text_atomic(results_dir / files[1], features_summary(result))
    write_json_atomic(results_dir / files[0], result)
    return result
