"""bench/music_render.py writes each render to a file of its own name: the chorale fit corpus names renders after
the BWV number (chorale_bwv48.3_0, chorale_bwv48.7_1), and a suffix taken for the extension had written every
bwv48.* render to one chorale_bwv48.flac, so 39 of its 202 labels stood on another chorale's audio."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from bench.music_render import RENDER_SR, write_audio


def test_renders_whose_names_hold_a_dot_keep_files_of_their_own(tmp_path):
    first = write_audio(np.full(RENDER_SR // 10, 0.25), tmp_path / "chorale_bwv48.3_0", "flac")
    second = write_audio(np.full(RENDER_SR // 10, -0.5), tmp_path / "chorale_bwv48.7_1", "flac")
    assert (first.name, second.name) == ("chorale_bwv48.3_0.flac", "chorale_bwv48.7_1.flac")
    assert sf.read(first)[0][0] == 0.25 and sf.read(second)[0][0] == -0.5
    assert write_audio(np.zeros(100), tmp_path / "pattern_001", "wav").name == "pattern_001.wav"
