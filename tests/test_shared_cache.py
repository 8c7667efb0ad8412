"""SmolLM2's conversion is kept per machine, not per clone: a fresh clone (CI's) reuses it, a change to what makes
its bytes converts afresh."""

from __future__ import annotations

from tests.conftest import smollm2_path
from tests.shared_cache import ROOT, machine_cache_dir, smollm2_key


def test_the_converted_smollm2_lives_outside_the_clone(pytestconfig, monkeypatch, tmp_path):
    assert ROOT not in smollm2_path(pytestconfig).parents
    monkeypatch.delenv("MA_TEST_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert machine_cache_dir() == tmp_path / "xdg" / "music-analyzer"  # scripts/test.sh's stamp folder
    assert smollm2_path(pytestconfig).parents[1].parent == tmp_path / "xdg" / "music-analyzer"
    monkeypatch.setenv("MA_TEST_CACHE_DIR", str(tmp_path / "own"))
    assert smollm2_path(pytestconfig).parents[1].parent == tmp_path / "own"


def test_another_gguf_or_conversion_code_gets_another_folder(tmp_path):
    gguf = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    gguf.write_bytes(b"x" * 10)
    key = smollm2_key(gguf, b"def convert(): ...")
    assert key == smollm2_key(gguf, b"def convert(): ...")
    assert key != smollm2_key(gguf, b"def convert(): return 1")
    gguf.write_bytes(b"x" * 11)
    assert key != smollm2_key(gguf, b"def convert(): ...")
    assert key != smollm2_key(None, b"def convert(): ...")
    assert len(key) == 16
