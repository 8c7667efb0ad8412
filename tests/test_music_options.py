"""PitchOptions: what the route validates before enqueueing."""

from __future__ import annotations

import pytest

from worker.errors import InvalidRequestError
from worker.music.options import STAGES, PitchOptions


def test_default_includes_every_stage():
    opts = PitchOptions.from_request({})
    assert opts.include == STAGES and all(opts.wants(s) for s in STAGES)
    assert PitchOptions.from_request(None) == PitchOptions()


def test_include_is_canonicalised_and_accepts_one_name():
    assert PitchOptions.from_request({"include": ["tempo", "key"]}).include == ("key", "tempo")
    assert PitchOptions.from_request({"include": "melody"}).include == ("melody",)
    options = PitchOptions.from_request({"include": ["tempo", "key"]})
    assert PitchOptions.from_request(options.to_dict()) == options  # what the worker rebuilds


@pytest.mark.parametrize("body", [
    {"include": ["key", "nonsense"]},
    {"include": []},
    {"include": 5},
    {"include": [1]},
    {"include": ["key", "key"]},
    {"include": ["key"], "bogus": True},
    {"include": ["key"], "file": "a.wav"},  # `file` is the route's key, never an option
    ["key"],
])
def test_bad_requests_raise_invalid_request(body):
    with pytest.raises(InvalidRequestError) as e:
        PitchOptions.from_request(body)
    assert e.value.http_status == 400


def test_validate_on_a_hand_built_instance():
    with pytest.raises(InvalidRequestError):
        PitchOptions(include=("chords", "colour")).validate()
    with pytest.raises(InvalidRequestError):
        PitchOptions(include=["key"]).validate()  # a list is not the frozen tuple the dataclass holds
