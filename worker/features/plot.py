"""Pictures of a track: waveform, spectrogram and chromagram in one PNG.

Drawn in one pass at fixed margins (in inches): matplotlib's constrained layout drew the whole figure twice per
save, once to measure every tick label, and the images were resampled through an antialiasing filter. The
spectrogram and chromagram are max-pooled to the axes' own pixels (peaks stay visible) and drawn pixel for pixel;
the PNG is written at zlib level 1. A 1 s tone's picture took ~0.42-0.47 s of CPU, now ~0.21-0.26 s
(bench/picture_cost.py, a loaded 2-core machine).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from worker.features.descriptors import PITCH_CLASSES, FeatureAnalysis
from worker.features.pooling import pool_columns
from worker.files import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_COLUMNS = 1600  # image columns; longer tracks are max-pooled down to this
FIGURE_SIZE = (12, 8)  # inches
DPI = 100
PNG_COMPRESS_LEVEL = 1  # zlib level: 6 (PIL's default) cost ~3x the encoding time for files ~25 % smaller
# Margins in inches: room for the y tick labels and label on the left, for the colorbar and its labels on the right.
LEFT, RIGHT, BOTTOM, GAP = 0.8, 1.3, 0.55, 0.2
TITLE_LINE = 0.22  # inches per title line (the title may carry wrapped warning lines)
COLORBAR_GAP, COLORBAR_WIDTH = 0.45, 0.15  # inches right of the spectrogram
HEIGHT_RATIOS = (1, 2, 1)


def _pixels(data: np.ndarray, ax) -> np.ndarray:
    """`data` max-pooled to at most the axes' pixel width and height (drawn with 'nearest', nothing is dropped)."""
    box = ax.get_window_extent()
    data = pool_columns(data, max(1, int(box.width)))
    return pool_columns(data.T, max(1, int(box.height))).T


def render_overview(path: Path, *, analysis: FeatureAnalysis, title: str) -> None:
    """Write a PNG with the waveform envelope, the dB spectrogram and the chromagram (`overview_figure`)."""
    fig = overview_figure(analysis=analysis, title=title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})


def overview_figure(*, analysis: FeatureAnalysis, title: str) -> Figure:
    """The waveform envelope, the dB spectrogram and the chromagram, at fixed margins (no layout engine).

    Drawn from the analysis' pooled columns only: the picture of an hour costs what a minute's does.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure  # the OO API: no pyplot global state

    from worker.music.plot import wrap_title

    sr = analysis.analysis_rate  # the spectrogram's rate, not the file's
    duration = analysis.duration_seconds
    env_lo, env_hi = analysis.envelope
    t_env = np.linspace(0, duration, len(env_hi))

    # up to the file's own Nyquist frequency: an 8 kHz file, resampled to the analysis rate, had its spectrogram
    # drawn to 22 kHz, black above 4 kHz (a stranger's trial)
    top_hz = min(analysis.sample_rate, sr) / 2
    bins = analysis.magnitude.shape[0]
    kept = min(bins, int(np.ceil(top_hz / (sr / 2) * (bins - 1))) + 1)
    spec_db = 20 * np.log10(np.maximum(pool_columns(analysis.magnitude[:kept], MAX_COLUMNS), 1e-6))
    spec_db = np.maximum(spec_db, spec_db.max() - 80)
    chroma = pool_columns(analysis.chroma, MAX_COLUMNS)

    width, height = FIGURE_SIZE
    title = wrap_title(title, width)  # a warnings line stays inside the picture
    top = TITLE_LINE * (title.count("\n") + 1) + 0.2
    fig = Figure(figsize=FIGURE_SIZE, dpi=DPI)
    ax_wave, ax_spec, ax_chroma = fig.subplots(
        3, 1, sharex=True,
        gridspec_kw={"height_ratios": HEIGHT_RATIOS, "left": LEFT / width, "right": 1 - RIGHT / width,
                     "bottom": BOTTOM / height, "top": 1 - top / height,
                     "hspace": GAP / ((height - top - BOTTOM - 2 * GAP) / len(HEIGHT_RATIOS))})
    ax_wave.fill_between(t_env, env_lo, env_hi, color="#3b6ea8", linewidth=0)
    if np.array_equal(env_lo, env_hi):  # a column per sample (a clip under ENVELOPE_COLUMNS samples): a fill of no
        ax_wave.plot(t_env, env_hi, color="#3b6ea8", linewidth=0.8)  # height, and mirrormagic's 3 ms click drew none
    ax_wave.set_ylabel("amplitude")
    ax_wave.set_ylim(-1.05, 1.05)
    ax_wave.set_title(title)
    im = ax_spec.imshow(_pixels(spec_db, ax_spec), origin="lower", aspect="auto", interpolation="nearest",
                        extent=(0, duration, 0, top_hz / 1000), cmap="magma")
    ax_spec.set_ylabel("frequency (kHz)")
    spec = ax_spec.get_position()
    cax = fig.add_axes((spec.x1 + COLORBAR_GAP / width, spec.y0, COLORBAR_WIDTH / width, spec.height))
    fig.colorbar(im, cax=cax, label="dB")
    ax_chroma.imshow(_pixels(chroma, ax_chroma), origin="lower", aspect="auto", interpolation="nearest",
                     extent=(0, duration, -0.5, 11.5), cmap="Blues")
    ax_chroma.set_yticks(range(12), PITCH_CLASSES)
    ax_chroma.set_ylabel("pitch class")
    ax_chroma.set_xlabel("time (s)")
    return fig
