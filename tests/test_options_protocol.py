"""The options protocol every job type shares: one declaration validates requests and describes them."""

from __future__ import annotations

import dataclasses

import jsonschema
import pytest

from config import load_settings
from jobs.types import JOB_TYPES
from worker.errors import InvalidRequestError

SETTINGS = load_settings({}, dotenv=False)
OPTION_CLASSES = sorted({t.options for t in JOB_TYPES.values()}, key=lambda c: c.__name__)


@pytest.mark.parametrize("cls", OPTION_CLASSES, ids=lambda c: c.__name__)
def test_every_field_is_declared_and_the_schema_accepts_what_from_request_accepts(cls):
    schema = cls.json_schema(settings=SETTINGS)
    jsonschema.Draft202012Validator.check_schema(schema)
    for f in dataclasses.fields(cls):
        assert "spec" in f.metadata, f"{cls.__name__}.{f.name} has no declaration"
        assert schema["properties"][f.name]["description"]
    example = {f.name: (f.metadata["spec"].example if f.metadata["spec"].example is not None else None)
               for f in dataclasses.fields(cls)}
    body = {k: v for k, v in example.items() if v is not None}
    assert all(name in body for name in schema.get("required", [])), "a required field needs an example"
    options = cls.from_request(body, settings=SETTINGS)
    jsonschema.validate({k: v for k, v in options.to_dict().items() if v is not None}, schema)
    assert cls.from_request(options.to_dict(), settings=SETTINGS) == options  # what the worker rebuilds


@pytest.mark.parametrize("cls", OPTION_CLASSES, ids=lambda c: c.__name__)
def test_unknown_keys_are_refused_by_name(cls):
    with pytest.raises(InvalidRequestError) as e:
        cls.from_request({"no_such_option": 1}, settings=SETTINGS)
    assert e.value.code == "unknown_option" and e.value.details["unknown"] == ["no_such_option"]
    assert "no_such_option" not in cls.json_schema(settings=SETTINGS)["properties"]
    assert set(cls.ALIASES) <= set(e.value.details["valid"])  # an accepted alias is listed as valid


def test_sixty_thousand_unknown_keys_make_a_short_error():
    """A stranger's 1 MB body of 60,000 unknown keys got a 998 KB error listing every one."""
    from worker.features.options import FeaturesOptions
    from worker.options import MAX_NAMED_UNKNOWN

    with pytest.raises(InvalidRequestError) as e:
        FeaturesOptions.from_request({f"k{i:05d}" + "x" * 200: i for i in range(60_000)}, settings=SETTINGS)
    details = e.value.details
    assert details["unknown_count"] == 60_000 and len(details["unknown"]) == MAX_NAMED_UNKNOWN
    assert details["unknown"][0] == "k00000" + "x" * 58 and len(str(e.value)) < 2_000
    assert str(e.value).endswith(f"and {60_000 - MAX_NAMED_UNKNOWN} more")


def test_an_option_and_its_alias_with_two_values_are_refused():
    """A stranger sent max_length and max_new_tokens together and one was dropped without a word."""
    from worker.llm.options import GenerateOptions

    with pytest.raises(InvalidRequestError) as e:
        GenerateOptions.from_request({"prompt": "hi", "max_length": 5, "max_new_tokens": 50}, settings=SETTINGS)
    assert e.value.code == "invalid_option" and "max_new_tokens" in e.value.message
    same = GenerateOptions.from_request({"prompt": "hi", "max_length": 5, "max_new_tokens": 5}, settings=SETTINGS)
    assert same.max_length == 5


def test_declared_ranges_are_enforced_and_described():
    from worker.separation.options import SeparationOptions

    schema = SeparationOptions.json_schema(settings=SETTINGS)["properties"]
    assert schema["overlap"]["minimum"] == 0.0 and schema["overlap"]["maximum"] == 0.9
    assert schema["segment"]["type"] == ["number", "null"] and "hpss" in schema["model"]["enum"]
    for bad in ({"overlap": 0.95}, {"shifts": 1.5}, {"format": "ogg"}, {"segment": 0.5}):
        with pytest.raises(InvalidRequestError):
            SeparationOptions.from_request(bad, settings=SETTINGS)
    assert SeparationOptions.from_request({"overlap": 0.9, "segment": None}, settings=SETTINGS).overlap == 0.9


@pytest.mark.parametrize("empty", [" \n\t", "\u0000\u0000", "\u001b\u0007 \u200b",
                                   "\u001b[31m\u001b[0m", "\u0000\u001b[38;5;196m", "\u001b]0;title\u0007"])
def test_a_required_text_of_spaces_or_control_characters_alone_is_refused(empty):
    """A stranger's prompt of NULs was generated from; the library question and MusicGen's prompt are read alike."""
    from library.options import AskOptions
    from worker.musicgen.options import MusicGenOptions

    for cls, name in ((AskOptions, "question"), (MusicGenOptions, "prompt")):
        with pytest.raises(InvalidRequestError) as e:
            cls.from_request({name: empty}, settings=SETTINGS)
        assert e.value.code == "invalid_option" and name in e.value.message
    assert AskOptions.from_request({"question": "\u0000a river?"}, settings=SETTINGS).question == "\u0000a river?"
    assert AskOptions.from_request({"question": "\u001b[1mriver\u001b[0m"}, settings=SETTINGS)  # words, in bold


def test_a_system_message_given_twice_is_named_as_such():
    """`system` plus a first system message: "may only come first" misled a stranger whose message was first."""
    from worker.llm.options import GenerateOptions

    turns = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    with pytest.raises(InvalidRequestError, match="give the system message once"):
        GenerateOptions.from_request({"messages": turns, "system": "Be kind."}, settings=SETTINGS)
    assert GenerateOptions.from_request({"messages": turns}, settings=SETTINGS).conversation() == turns
