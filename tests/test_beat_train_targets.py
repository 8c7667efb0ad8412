"""Known answers for bench/beat_train.py's targets and loss: a 2/4 or 2/2 tune teaches beats, not downbeats
(the ear groups its bars in fours as readily, and the decoder's bars are 3 or 4 beats), and frames without a
downbeat label must not move the loss."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.beat_train import UNKNOWN, _loss, targets
from worker.music.onsets import FPS


def item(time_signature: str) -> dict:
    return {"beats": [0.5, 1.0, 1.5, 2.0], "downbeats": [0.5, 1.5], "time_signature": time_signature}


def test_targets_mark_beats_downbeats_and_compound():
    t = targets(item("6/8"), 300, 1.0)
    on = int(round(0.5 * FPS))
    assert t.shape == (3, 300)
    assert t[0, on] == 1.0 and t[0, on - 1] == 0.5 and t[0, on + 2] == 0.0
    assert t[1, int(round(1.5 * FPS))] == 1.0 and t[1, int(round(1.0 * FPS))] == 0.0
    assert np.all(t[2] == 1.0)  # the beat divides in three
    assert np.all(targets(item("3/4"), 300, 1.0)[2] == 0.0)
    # a sped-up copy (factor 1.25) moves the labels with the audio
    assert targets(item("3/4"), 300, 1.25)[0, int(round(0.4 * FPS))] == 1.0


@pytest.mark.parametrize("ts", ["2/4", "2/2"])
def test_two_beat_bars_teach_beats_only(ts):
    t = targets(item(ts), 300, 1.0)
    assert np.all(t[1] == UNKNOWN)
    assert t[0, int(round(0.5 * FPS))] == 1.0


def test_unknown_downbeat_frames_leave_the_loss_alone():
    import torch

    rng = np.random.default_rng(0)
    logits = torch.tensor(rng.standard_normal((2, 3, 200)), dtype=torch.float32)
    target = torch.tensor((rng.random((2, 3, 200)) > 0.9).astype(np.float32))
    # all labels known: the loss of the two rows together, as before the mask existed
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    pos = torch.tensor([5.0, 5.0]).view(1, 2, 1).expand_as(target[:, :2])
    plain = bce(logits[:, :2], target[:, :2], pos_weight=pos) + 0.2 * bce(logits[:, 2], target[:, 2])
    assert float(_loss(logits, target)) == pytest.approx(float(plain), rel=1e-5)
    # the second sequence's downbeats unknown: whatever its downbeat logits say, the loss is the same
    target[1, 1] = UNKNOWN
    before = float(_loss(logits, target))
    logits[1, 1] = 10.0
    assert float(_loss(logits, target)) == pytest.approx(before, rel=1e-6)
    logits[0, 1] += 1.0  # a known frame still counts
    assert float(_loss(logits, target)) != pytest.approx(before, rel=1e-6)


def test_lowpass_copies_hold_nothing_over_the_band_limit_and_default_copies_are_unchanged():
    """`--lowpass 1.0`: every copy is band-limited to half of 8, 11.025 or 16 kHz (a source stored at that rate);
    without it augment draws nothing more, so the shipped recipe's copies stay what they were."""
    from bench.beat_train import SR, augment

    y = np.random.default_rng(0).standard_normal(SR * 2).astype(np.float32) * 0.1
    for seed in range(4):
        z, _ = augment(y, np.random.default_rng(seed), lowpass=1.0)
        power = np.abs(np.fft.rfft(z)) ** 2
        freqs = np.fft.rfftfreq(len(z), 1 / SR)
        assert power[freqs > 8500].sum() < 1e-3 * power.sum()
    a, _ = augment(y, np.random.default_rng(5))
    b, _ = augment(y, np.random.default_rng(5), lowpass=0.0)
    assert np.array_equal(a, b)


def test_chorale_fit_renders_join_the_training_items_only_when_asked(tmp_path, monkeypatch):
    """`--chorales DIR`: the chorale fit corpus's renders are read before the test set's train split (its test
    items never); without it the items, and so the validation tenth, are the ones the shipped weights saw."""
    import json

    from bench import beat_train

    def folder(name: str, splits: list[str]) -> Path:
        d = tmp_path / name
        d.mkdir()
        (d / "manifest.json").write_text(json.dumps([{"audio": f"{name}{i}.flac", "split": s}
                                                     for i, s in enumerate(splits)]))
        return d

    corpus, chorales = folder("corpus", ["train"] * 3), folder("chorales", ["train", "train"])
    monkeypatch.setattr(beat_train, "TESTSET", folder("testset", ["train", "test"]))
    names = [p.name for p, _ in beat_train.training_items(corpus=corpus)]
    assert names == ["corpus0.flac", "corpus1.flac", "corpus2.flac", "testset0.flac"]
    names = [p.name for p, _ in beat_train.training_items(corpus=corpus, chorales=chorales)]
    assert names == ["corpus0.flac", "corpus1.flac", "corpus2.flac", "chorales0.flac", "chorales1.flac",
                     "testset0.flac"]
