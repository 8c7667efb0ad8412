"""PNG: the chromagram with the chord timeline and the beat/bar grid drawn on it."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from worker.files import atomic_path

from .key import PITCH_NAMES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_BEAT_LINES = 1500  # beyond this (very long files) only bar lines are drawn
MAX_COLUMNS = 4000  # chroma frames drawn; longer inputs are averaged down
DPI = 100
HEIGHT = 4.0  # inches
TITLE_LINE_INCHES = 0.2  # room per title line (the title may carry a warnings line)
TITLE_CHAR_INCHES = 0.1  # a character's width at the title's 12 pt (DejaVu Sans: prose 0.087, 'W' 0.17, 'i' 0.05)
TITLE_MARGIN_INCHES = 0.7  # figure width the title's lines leave free
MAX_TITLE_LINES = 4
PNG_COMPRESS_LEVEL = 1  # zlib level (PIL's default 6): the features picture's (worker/features/plot.py)


def write_chromagram_png(path: Path, **drawn: Any) -> None:
    """The picture of `chromagram_figure(**drawn)`, written atomically to `path`."""
    fig = chromagram_figure(**drawn)
    with atomic_path(path) as tmp:
        fig.savefig(str(tmp), format="png", pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})


def wrap_title(title: str, width_inches: float) -> str:
    """The title's lines wrapped to the figure's width, at most MAX_TITLE_LINES (the last cut with '…'): a
    stranger's 10-inch picture of a short track had its two warnings run off both edges."""
    chars = max(20, int((width_inches - TITLE_MARGIN_INCHES) / TITLE_CHAR_INCHES))
    lines = [part for line in title.split("\n") for part in (textwrap.wrap(line, chars) or [""])]
    if len(lines) > MAX_TITLE_LINES:
        lines = lines[:MAX_TITLE_LINES]
        lines[-1] = lines[-1][:chars - 1].rstrip() + "…"
    return "\n".join(lines)


def chromagram_figure(*, chroma: np.ndarray, frame_seconds: float, duration: float, chords: list[dict] | None,
                      beat_times: list[float] | None, downbeat_times: list[float] | None, title: str) -> Figure:
    """chroma: (12, T) frames every `frame_seconds`, with the chords, beats and bars drawn on it."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    c = np.asarray(chroma, dtype=np.float32)
    if c.shape[1] > MAX_COLUMNS:
        step = int(np.ceil(c.shape[1] / MAX_COLUMNS))
        n = c.shape[1] // step
        c = c[:, : n * step].reshape(12, n, step).mean(axis=2)
    c = c / (c.max(axis=0, keepdims=True) + 1e-9)
    width = float(np.clip(duration / 6.0, 10.0, 40.0))
    title = wrap_title(title, width)
    fig = Figure(figsize=(width, HEIGHT), dpi=DPI)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(c, origin="lower", aspect="auto", cmap="magma", interpolation="nearest",
              extent=(0.0, max(duration, frame_seconds), -0.5, 11.5))
    ax.set_yticks(range(12), PITCH_NAMES)
    ax.set_xlabel("time (s)")
    ax.set_title(title)
    # one LineCollection per grid (not an axvline per beat: ~1 ms of drawing each); y in axes units
    across = ax.get_xaxis_transform()
    beats = list(beat_times or [])
    if beats and len(beats) <= MAX_BEAT_LINES:
        ax.vlines(beats, 0.0, 1.0, transform=across, color="white", alpha=0.25, linewidth=0.5)
    if downbeat_times:
        ax.vlines(list(downbeat_times), 0.0, 1.0, transform=across, color="cyan", alpha=0.6, linewidth=0.9)
    for ch in chords or []:
        if ch["label"] == "N" or ch["end"] - ch["start"] < 0.2 * duration / width:
            continue  # too narrow to read
        ax.text(ch["start"] + 0.05, 11.4, ch["label"].replace(":maj", "").replace(":min", "m"), color="white",
                fontsize=8, va="top", ha="left", clip_on=True,
                bbox={"facecolor": "black", "alpha": 0.6, "pad": 1.0, "linewidth": 0})
    ax.set_xlim(0.0, max(duration, frame_seconds))
    # fixed margins in inches: tight_layout would draw every artist once more just to measure them
    top_inches = TITLE_LINE_INCHES * (title.count("\n") + 1) + 0.1
    fig.subplots_adjust(left=0.55 / width, right=1.0 - 0.15 / width, bottom=0.5 / HEIGHT, top=1.0 - top_inches / HEIGHT)
    return fig
