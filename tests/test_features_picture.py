"""The features picture is drawn once per save, at fixed margins that keep everything inside it.

Its constrained layout drew the whole figure twice per save (once to measure every tick label): ~0.45 s of CPU
for a 1 s tone's picture, the test suite's largest cost over ~100 features jobs (bench/picture_cost.py).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from worker.features.descriptors import analyze_features

SR = 44100
WARNINGS = ("warning: " + "; ".join(["clipped: 0.5% of the samples are at full scale (the peaks were cut off)",
                                     "DC offset: the waveform's mean is +0.020 of full scale (-34 dBFS); a "
                                     "high-pass filter removes it"] * 3))


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def test_the_picture_is_drawn_once_per_save(tmp_path, monkeypatch):
    from worker.features.plot import render_overview

    analysis = analyze_features(tone(1.0), SR)
    draws = []
    original = Figure.draw

    def counted(self, renderer):  # the real draw, counted
        draws.append(self)
        return original(self, renderer)

    monkeypatch.setattr(Figure, "draw", counted)
    render_overview(tmp_path / "f.png", analysis=analysis, title="tone.wav — 1.0 s")
    assert len(draws) == 1  # constrained layout had drawn it twice
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_fixed_layout_keeps_the_title_labels_and_colorbar_inside_the_picture():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from worker.features.plot import overview_figure

    analysis = analyze_features(tone(3.0), SR)
    fig = overview_figure(analysis=analysis, title=f"a track with a fairly long file name.ogg — 3.0 s\n{WARNINGS}")
    renderer = FigureCanvasAgg(fig).get_renderer()
    wave, spec, chroma, bar = fig.axes
    picture = fig.bbox
    for ax in (wave, spec, chroma, bar):
        box = ax.get_tightbbox(renderer)  # with its tick labels, axis labels and title
        assert picture.x0 <= box.x0 and box.x1 <= picture.x1 and picture.y0 <= box.y0 and box.y1 <= picture.y1, ax
    assert wave.title.get_text().count("\n") == 3  # wrapped to the picture's width, cut at four lines
    boxes = [ax.get_window_extent(renderer) for ax in (wave, spec, chroma)]
    assert len({(round(b.x0), round(b.x1)) for b in boxes}) == 1  # one time axis, aligned
    assert all(upper.y0 > lower.y1 for upper, lower in zip(boxes, boxes[1:], strict=False))  # no overlap
    # the colorbar beside the spectrogram, clear of its tick labels, the same height
    bar_box, spec_box = bar.get_window_extent(renderer), spec.get_tightbbox(renderer)
    assert bar_box.x0 > spec_box.x1 and abs(bar_box.y0 - boxes[1].y0) < 1 and abs(bar_box.y1 - boxes[1].y1) < 1
    # the title above the waveform's axes, not on them
    assert wave.title.get_window_extent(renderer).y0 >= boxes[0].y1


def test_the_spectrogram_stops_at_the_files_own_nyquist_frequency():
    """An 8 kHz file is analysed at 44.1 kHz: its spectrogram had been drawn to 22 kHz, black above 4 kHz."""
    from worker.features.plot import overview_figure

    t = np.arange(3 * 8000) / 8000
    analysis = analyze_features((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), 8000)
    _, spec, _, _ = overview_figure(analysis=analysis, title="phone.wav").axes
    image = spec.get_images()[0]
    assert image.get_extent()[3] == 4.0 and spec.get_ylim()[1] == 4.0  # kHz
    assert overview_figure(analysis=analyze_features(tone(1.0), SR), title="t").axes[1].get_ylim()[1] == 22.05


def test_the_bar_gives_the_analysis_what_it_costs(tmp_path):
    """The analysis of a track's audio takes most of a features job (a 3-minute track: 1.96 s against 0.23 s for the
    picture and 0.01 s for the files; an hour: 19.9, 0.22, 0.01 s): the bar had given the picture 30 % (60 -> 90 %),
    so the job's time left from its rate (jobs/estimates.py) had said 10.7 s where 4.6 s were left."""
    import soundfile as sf

    from worker.features.pipeline import run_features

    path = tmp_path / "minute.flac"
    sf.write(path, tone(60.0), SR)
    marks: list[tuple[float, str]] = []
    run_features(audio_path=path, results_dir=tmp_path, progress=lambda share, stage: marks.append((share, stage)))
    shares = [share for share, _ in marks]
    assert shares == sorted(shares) and marks[-1] == (0.98, "writing"), marks
    assert [share for share, stage in marks if stage == "picture"] == [0.95], marks
    measured = [share for share, stage in marks if stage not in ("decoding", "picture", "writing")]
    assert len(measured) >= 3 and measured[-1] == 0.95, marks  # the audio's blocks move the bar up to the picture


def test_a_clip_shorter_than_the_envelope_still_draws_its_waveform():
    """mirrormagic's base.wav, 67 samples (3 ms): each envelope column held one sample, its low and high alike, and
    the waveform panel was drawn empty above a full spectrogram."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from worker.features.plot import overview_figure

    clip = (0.07 + 0.4 * np.sin(2 * np.pi * 1500 * np.arange(67) / 22050)).astype(np.float32)
    fig = overview_figure(analysis=analyze_features(clip, 22050), title="base.wav — 0.0 s")
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())
    box = fig.axes[0].get_window_extent()  # the waveform's axes, inside their frame
    top, bottom = int(pixels.shape[0] - box.y1) + 3, int(pixels.shape[0] - box.y0) - 3  # rows count from the top
    inside = pixels[top:bottom, int(box.x0) + 3:int(box.x1) - 3]
    assert np.count_nonzero(inside[..., :3].min(axis=-1) < 200) > 500  # drawn, not white
