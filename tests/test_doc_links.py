"""The documentation's relative links resolve: the README was cut into a guide and reference pages under docs/
(scripts/doc_coverage.py), and a heading renamed or a page moved in a later change would leave the guide's links
pointing nowhere without a word."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def doc_coverage():
    spec = importlib.util.spec_from_file_location("doc_coverage", ROOT / "scripts" / "doc_coverage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_anchors_are_githubs():
    coverage = doc_coverage()
    assert coverage.anchor("Run it (on the server)") == "run-it-on-the-server"
    assert coverage.anchor("More workers (scale-out)") == "more-workers-scale-out"
    assert coverage.anchor("Turns on a shared queue") == "turns-on-a-shared-queue"


def test_every_relative_link_of_the_documentation_resolves():
    assert doc_coverage().broken_links() == []


def test_a_link_to_a_heading_that_is_not_there_is_caught(tmp_path, monkeypatch):
    coverage = doc_coverage()
    (tmp_path / "docs").mkdir()
    (tmp_path / "client").mkdir()
    (tmp_path / "deploy").mkdir()
    (tmp_path / "docs" / "api.md").write_text("# API\n\n## Sessions\n\n```\n## not a heading\n```\n")
    (tmp_path / "README.md").write_text("[s](docs/api.md#sessions) [x](docs/api.md#not-a-heading) [m](docs/gone.md)\n")
    for name in ("client/README.md", "deploy/README.md"):
        (tmp_path / name).write_text("[up](../README.md)\n")
    monkeypatch.setattr(coverage, "ROOT", tmp_path)
    assert coverage.broken_links() == ["README.md: docs/api.md#not-a-heading", "README.md: docs/gone.md"]
