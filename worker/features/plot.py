"""Pictures of a track: waveform, spectrogram and chromagram in one PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from worker.features.descriptors import PITCH_CLASSES, FeatureAnalysis
from worker.features.pooling import pool_columns
from worker.files import atomic_path

MAX_COLUMNS = 1600  # image columns; longer tracks are max-pooled down to this
FIGURE_SIZE = (12, 8)  # inches
DPI = 100


def render_overview(path: Path, *, analysis: FeatureAnalysis, title: str) -> None:
    """Write a PNG with the waveform envelope, the dB spectrogram and the chromagram.

    Drawn from the analysis' pooled columns only: the picture of an hour costs what a minute's does.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure  # the OO API: no pyplot global state

    from worker.music.plot import wrap_title

    sr = analysis.sample_rate
    duration = analysis.duration_seconds
    env_lo, env_hi = analysis.envelope
    t_env = np.linspace(0, duration, len(env_hi))

    spec_db = 20 * np.log10(np.maximum(pool_columns(analysis.magnitude, MAX_COLUMNS), 1e-6))
    spec_db = np.maximum(spec_db, spec_db.max() - 80)
    chroma = pool_columns(analysis.chroma, MAX_COLUMNS)
    extent = [0, duration, 0, sr / 2 / 1000]

    fig = Figure(figsize=FIGURE_SIZE, dpi=DPI, layout="constrained")
    ax_wave, ax_spec, ax_chroma = fig.subplots(3, 1, sharex=True, height_ratios=[1, 2, 1])
    ax_wave.fill_between(t_env, env_lo, env_hi, color="#3b6ea8", linewidth=0)
    ax_wave.set_ylabel("amplitude")
    ax_wave.set_ylim(-1.05, 1.05)
    ax_wave.set_title(wrap_title(title, FIGURE_SIZE[0]))  # a warnings line stays inside the picture
    im = ax_spec.imshow(spec_db, origin="lower", aspect="auto", extent=extent, cmap="magma")
    ax_spec.set_ylabel("frequency (kHz)")
    fig.colorbar(im, ax=ax_spec, label="dB")
    ax_chroma.imshow(chroma, origin="lower", aspect="auto", extent=[0, duration, -0.5, 11.5], cmap="Blues")
    ax_chroma.set_yticks(range(12), PITCH_CLASSES)
    ax_chroma.set_ylabel("pitch class")
    ax_chroma.set_xlabel("time (s)")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
