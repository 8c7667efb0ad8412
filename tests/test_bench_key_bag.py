"""bench/key_fit.py's bagged members: each resample keeps every family's share of the fit equal and keeps a fold
group whole (all renders of one chorale, or of one soundfont + kit + style, in or out together), so bagging cannot
let one family dominate the fit or split a piece between a member's kept and dropped data."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from bench.key_fit import bag_weights


def _rows() -> list[tuple]:
    """(family, key index, evidence, style, fold group) rows: families of unequal size, groups of 1-3 items."""
    rows = []
    for fam, groups in (("corpus", 12), ("groove", 30), ("pattern", 1)):
        for g in range(groups):
            for _ in range(1 + g % 3):
                rows.append((fam, 0, None, None, f"{fam}/{g}"))
    return rows


@pytest.mark.parametrize("share", [None, 0.8])
def test_bag_weights_keep_families_equal_and_groups_whole(share: float | None) -> None:
    rows = _rows()
    for seed in range(4):
        w = bag_weights(rows, seed, share)
        assert w.sum() == pytest.approx(1.0)
        per_family: dict[str, float] = defaultdict(float)
        per_group: dict[str, set[float]] = defaultdict(set)
        for (fam, *_, group), x in zip(rows, w, strict=True):
            per_family[fam] += x
            per_group[group].add(round(float(x), 12))
        assert all(v == pytest.approx(1 / 3) for v in per_family.values())
        assert all(len(v) == 1 for v in per_group.values())  # a group's items weigh the same: in or out together
        assert (w == 0).any()  # a resample, not the whole fit data
    if share is not None:  # without replacement: exactly round(share x groups) groups of each family drawn once
        kept = {group for (_, *_, group), x in zip(rows, bag_weights(rows, 0, share), strict=True) if x > 0}
        assert sum(g.startswith("groove/") for g in kept) == 24 and sum(g.startswith("corpus/") for g in kept) == 10


def test_bag_weights_fixed_by_seed() -> None:
    rows = _rows()
    assert np.array_equal(bag_weights(rows, 3), bag_weights(rows, 3))
    assert not np.array_equal(bag_weights(rows, 3), bag_weights(rows, 4))
