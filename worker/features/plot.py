"""Pictures of a track: waveform, spectrogram and chromagram in one PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from worker.features.descriptors import PITCH_CLASSES, FeatureAnalysis
from worker.files import atomic_path

MAX_COLUMNS = 1600  # image columns; longer tracks are max-pooled down to this
FIGURE_SIZE = (12, 8)  # inches
DPI = 100


def _pool_columns(a: np.ndarray, width: int) -> np.ndarray:
    """Max-pool the last axis down to at most `width` columns (keeps transients visible)."""
    n = a.shape[-1]
    if n <= width:
        return a
    step = int(np.ceil(n / width))
    pad = step * int(np.ceil(n / step)) - n
    a = np.pad(a, [(0, 0)] * (a.ndim - 1) + [(0, pad)], mode="edge")
    return a.reshape(*a.shape[:-1], -1, step).max(axis=-1)


def render_overview(path: Path, *, y: np.ndarray, analysis: FeatureAnalysis, title: str) -> None:
    """Write a PNG with the waveform envelope, the dB spectrogram and the chromagram.

    `y`: (channels, samples) or (samples,) at `analysis.sample_rate`.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure  # the OO API: no pyplot global state

    sr = analysis.sample_rate
    mono = y if y.ndim == 1 else y.mean(axis=0)
    duration = len(mono) / sr
    env_hi = _pool_columns(mono[None, :], 4000)[0]
    env_lo = -_pool_columns(-mono[None, :], 4000)[0]
    t_env = np.linspace(0, duration, len(env_hi))

    spec_db = 20 * np.log10(np.maximum(_pool_columns(analysis.magnitude, MAX_COLUMNS), 1e-6))
    spec_db = np.maximum(spec_db, spec_db.max() - 80)
    chroma = _pool_columns(analysis.chroma, MAX_COLUMNS)
    extent = [0, duration, 0, sr / 2 / 1000]

    fig = Figure(figsize=FIGURE_SIZE, dpi=DPI, layout="constrained")
    ax_wave, ax_spec, ax_chroma = fig.subplots(3, 1, sharex=True, height_ratios=[1, 2, 1])
    ax_wave.fill_between(t_env, env_lo, env_hi, color="#3b6ea8", linewidth=0)
    ax_wave.set_ylabel("amplitude")
    ax_wave.set_ylim(-1.05, 1.05)
    ax_wave.set_title(title)
    im = ax_spec.imshow(spec_db, origin="lower", aspect="auto", extent=extent, cmap="magma")
    ax_spec.set_ylabel("frequency (kHz)")
    fig.colorbar(im, ax=ax_spec, label="dB")
    ax_chroma.imshow(chroma, origin="lower", aspect="auto", extent=[0, duration, -0.5, 11.5], cmap="Blues")
    ax_chroma.set_yticks(range(12), PITCH_CLASSES)
    ax_chroma.set_ylabel("pitch class")
    ax_chroma.set_xlabel("time (s)")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
