"""worker/median.py: the one-axis median is scipy's median filter, value for value, on either path."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi

from worker.median import LINE_MIN_LENGTH, LINE_MIN_WINDOW, median_along


@pytest.mark.parametrize("shape,axis,size", [
    ((1, 300, 257), 2, 31), ((1, 300, 257), 1, 31),  # the hpss stems' (B, F, T) spectrogram, both medians
    ((88, 700), 1, 11), ((88, 700), 0, 9),  # the chroma's semitone spectrogram: line by line, then the general path
    ((5, 40), 0, LINE_MIN_WINDOW), ((LINE_MIN_LENGTH, 3), 0, 3), ((7,), 0, 5),
])
@pytest.mark.parametrize("mode", ["reflect", "nearest"])
def test_the_same_values_as_scipys_median_filter(shape, axis, size, mode):
    x = np.random.default_rng(sum(shape) + size).standard_normal(shape).astype(np.float32)
    x[..., ::7] = 0.0  # ties, as silent bins give
    footprint = tuple(size if a == axis else 1 for a in range(len(shape)))
    got = median_along(x, size=size, axis=axis, mode=mode)
    assert got.dtype == x.dtype and got.shape == x.shape
    np.testing.assert_array_equal(got, ndi.median_filter(x, size=footprint, mode=mode))


def test_a_known_answer():
    x = np.array([[1.0, 9.0, 2.0, 8.0, 3.0], [0.0, 0.0, 5.0, 0.0, 0.0]], dtype=np.float32)
    assert median_along(x, size=3, axis=1, mode="nearest").tolist() == [[1, 2, 8, 3, 3], [0, 0, 0, 0, 0]]
    # line by line (a window of 15): the edge value repeated 7 times outweighs the row's own
    assert median_along(x, size=LINE_MIN_WINDOW, axis=1, mode="nearest").tolist() == [[1, 2, 3, 3, 3],
                                                                                         [0, 0, 0, 0, 0]]
