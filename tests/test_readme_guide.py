"""The README is a summary a stranger follows literally: its route table may name only fields, options and
values the OpenAPI description has for that route, and its settings table only settings config.py has, with
config.py's defaults. No server: the description is built from the route declarations, as build_spec does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.openapi.build import components, openapi_path, operation
from api.openapi.catalog import ERROR_CODES
from api.openapi.operations import OPERATIONS
from config import DEFAULTS
from jobs.types import JOB_TYPES

README = Path(__file__).resolve().parents[1] / "README.md"
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# backticked words of the route table that are neither fields nor values of a route's description
NOT_FIELDS = {"cpu", "gpu"}  # queue names (the probe's `queue` is a free string: the app's own queue names)
# environment variables of the client, not of the server
CLIENT_SETTINGS = {"MA_PASSWORD", "MA_TOKEN", "MA_URL", "MA_USER"}


CONFIGURATION = README.parent / "docs" / "configuration.md"
# docs/configuration.md's defaults that say what the empty default does rather than show it
DESCRIBED_DEFAULTS = {"WEBHOOK_SECRET"}


def section(title: str, page: Path = README) -> list[str]:
    """The lines of a page's `## title` section (the README's by default)."""
    lines = page.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"## {title}") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return lines[start:end]


def table_rows(title: str, page: Path = README) -> list[list[str]]:
    """The cells of each body row of the first table of a section (a `\\|` inside a cell is no divider)."""
    rows = [line for line in section(title, page) if line.startswith("|")][2:]
    return [[c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]


def ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def norm_rule(rule: str) -> str:
    """`/jobs/<job_id>` and the README's `/jobs/<id>` both as `/jobs/<>`; a query string dropped."""
    return re.sub(r"<[^>]*>", "<>", rule.split("?", 1)[0])


def readme_routes(cell: str) -> list[str]:
    """The declared route keys a README route cell names (`POST /x`, `/y`: the second takes the first's
    method; `/process/<type>/<id>` is every job route)."""
    keys: list[str] = []
    method = ""
    for item in ticked(cell):
        m = re.fullmatch(r"(?:([A-Z]+) )?(/\S*)", item)
        assert m, f"README route cell {cell!r}: {item!r} is not `METHOD /path`"
        method = m.group(1) or method
        want = norm_rule(m.group(2))
        if "/process/<>/<>" == want:
            found = [k for k in OPERATIONS if k.startswith(f"{method} /process/")]
        else:
            found = [k for k in OPERATIONS if k == f"{method} {want}"
                     or (k.split(" ", 1)[0] == method and norm_rule(k.split(" ", 1)[1]) == want)]
        assert found, f"the README names {method} {m.group(2)}, which the API has no declaration of"
        keys += found
    return keys


def words(node: Any, schemas: dict[str, Any], seen: set[str]) -> Iterator[str]:
    """Every property name, parameter name and enum/const value in a piece of the description ($refs followed)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                yield from words(schemas[name], schemas, seen)
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                yield from value
            elif key in ("enum", "const"):
                yield from (str(v) for v in (value if isinstance(value, list) else [value]))
            elif key == "name" and isinstance(value, str):
                yield value  # a parameter
            yield from words(value, schemas, seen)
    elif isinstance(node, list):
        for item in node:
            yield from words(item, schemas, seen)


def route_vocabulary(key: str, schemas: dict[str, Any], answers_only: bool = False) -> set[str]:
    """The words of a route's description: its parameters, body and answers, or (answers_only) its success
    answers' alone."""
    method, rule = key.split(" ", 1)
    described = operation(OPERATIONS[key], method, rule, "readme", DEFAULTS)
    if answers_only:
        described = {s: a for s, a in described["responses"].items() if s.startswith("2")}
    return set(words(described, schemas, set()))


def test_every_readme_route_line_names_what_its_description_has():
    schemas = components()["schemas"]
    rows = table_rows("HTTP API")
    assert len(rows) > 20, "the README's route table was not found"
    named = set()
    wrong = []
    for routes_cell, what in rows:
        keys = readme_routes(routes_cell)
        named.update(keys)
        vocabulary = set().union(*(route_vocabulary(k, schemas) for k in keys))
        for word in ticked(what):
            if not IDENT.match(word) or word in NOT_FIELDS or word in JOB_TYPES or word in ERROR_CODES \
                    or word in DEFAULTS:
                continue
            if word not in vocabulary:
                wrong.append(f"{routes_cell}: `{word}` is in none of {keys}'s description")
    assert not wrong, "\n".join(wrong)
    # what a line names after "→" is its answer: a field there must be in a success answer's schema
    for routes_cell, what in rows:
        if "→" not in what:
            continue
        keys = readme_routes(routes_cell)
        answers = set().union(*(route_vocabulary(k, schemas, answers_only=True) for k in keys))
        for word in ticked(what.split("→", 1)[1]):
            if IDENT.match(word) and word not in ERROR_CODES and word not in NOT_FIELDS and word not in answers:
                wrong.append(f"{routes_cell}: `{word}`, after →, is in no success answer of {keys}")
    assert not wrong, "\n".join(wrong)
    # each job type the `POST /process/<type>/<id>` line lists is a job route
    process = next(what for cell, what in rows if "/process/" in cell)
    for job_type in (w for w in ticked(process) if w in JOB_TYPES):
        assert f"POST /process/{job_type}/<session_id>" in OPERATIONS, job_type


def test_the_query_parameters_of_readme_route_lines_are_the_routes_own():
    wrong = []
    for routes_cell, _ in table_rows("HTTP API"):
        for item in ticked(routes_cell):
            if "?" not in item:
                continue
            names = {pair.split("=", 1)[0] for pair in item.split("?", 1)[1].split("&")}
            params = {p.name for k in readme_routes(f"`{item}`") for p in OPERATIONS[k].query}
            wrong += [f"{item}: {n}" for n in sorted(names - params)]
    assert not wrong, f"query parameters the README names that the routes do not take: {wrong}"


def test_a_readme_route_line_naming_a_field_the_route_lacks_is_caught():
    schemas = components()["schemas"]
    vocabulary = route_vocabulary("POST /jobs/probe", schemas)
    assert {"ok", "round_trip_ms", "worker", "pid"} <= vocabulary
    assert "roundtrip_ms" not in vocabulary and "deleted" not in vocabulary


def readme_default(text: str) -> str:
    """A settings-table default as config.py writes it: `1 GiB` -> 1073741824, `—` / `empty (...)` -> ''."""
    text = re.sub(r"\(.*?\)", "", text.replace("`", "")).strip()
    if text.startswith("—") or text.startswith("empty") or not text:
        return ""
    units = {"GiB": 1024**3, "MiB": 1024**2}
    m = re.fullmatch(r"([\d.]+) (GiB|MiB)", text)
    return str(int(float(m.group(1)) * units[m.group(2)])) if m else text


def config_default(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


SETTINGS_ROWS = [("README", row) for row in table_rows("Settings")] + [
    ("docs/configuration.md", row) for row in table_rows("Configuration", CONFIGURATION)
    # the model registry's paths are not config.DEFAULTS; a described default is not comparable
    if not ticked(row[0])[0].endswith("_MODEL_PATH") and ticked(row[0])[0] not in DESCRIBED_DEFAULTS]


@pytest.mark.parametrize(("page", "row"), SETTINGS_ROWS, ids=lambda x: x if isinstance(x, str) else x[0])
def test_the_settings_tables_have_config_py_defaults(page, row):
    """The README's settings table and docs/configuration.md's: each name is a setting, its default config.py's."""
    names_cell, default_cell, _ = row
    names = ticked(names_cell)
    defaults = [d.strip() for d in default_cell.split(",")] if len(names) > 1 else [default_cell]
    assert len(defaults) == len(names), f"{names}: one default per name"
    for name, default in zip(names, defaults, strict=True):
        assert name in DEFAULTS, f"{page}'s setting {name} is not in config.DEFAULTS"
        assert readme_default(default) == config_default(DEFAULTS[name]), \
            f"{page} says {name} defaults to {default!r}; config.py has {DEFAULTS[name]!r}"


def test_every_setting_the_readme_names_is_a_setting():
    text = README.read_text(encoding="utf-8")
    named = set(re.findall(r"`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`", text))
    unknown = sorted(named - set(DEFAULTS) - CLIENT_SETTINGS)
    assert not unknown, f"the README names settings config.py does not have: {unknown}"


def test_the_readme_route_table_covers_a_path_per_route_group():
    """Not every route need have its own line, but every path the API serves is on one (the docs pages too)."""
    rows = table_rows("HTTP API")
    named = {norm_rule(k.split(" ", 1)[1]) for cell, _ in rows for k in readme_routes(cell)}
    served = {norm_rule(k.split(" ", 1)[1]) for k in OPERATIONS}
    assets = {p for p in served if p.endswith("/<>") and p.rsplit("/", 2)[-2] in ("docs", "web")}
    assert not sorted(served - named - assets), [openapi_path(p) for p in sorted(served - named - assets)]


def test_the_readme_job_types_table_lists_every_job_type_on_its_queue():
    queue_of = {"CPU_QUEUE": "cpu", "GPU_QUEUE": "gpu"}
    named = set()
    for names_cell, queue_cell, _ in table_rows("Job types"):
        names = ticked(names_cell)
        named.update(names)
        if " or " in queue_cell:
            continue  # probe: either, as the request says
        queues = [q.split(" (")[0].strip() for q in queue_cell.split(", ")]
        queues = queues if len(queues) == len(names) else queues[:1] * len(names)
        for name, queue in zip(names, queues, strict=True):
            assert name in JOB_TYPES, f"the README's job type {name} is not in jobs/types.py"
            assert queue == queue_of[JOB_TYPES[name].queue_setting], f"{name} runs on {JOB_TYPES[name].queue_setting}"
    assert named == set(JOB_TYPES), f"job types the README's table lacks: {sorted(set(JOB_TYPES) - named)}"
