"""The test process' import-time heap, frozen out of the garbage collector once the tests are collected.

Collection imports every test module and, through them, the app, numpy, scipy, librosa, numba, schemathesis...:
~700,000 tracked objects in each test process, all alive to its end. Each full collection traverses them all:
pytest's last cleanup (its unraisable-exception check) runs five in a row after the last test, 5.0 s here under
load ~6 (`--collect-only` of the whole suite; 0.00 s frozen), and the interpreter runs its own full collections
all along as the tests allocate. `gc.freeze()` after one collection moves what is alive then to the permanent
generation (as make_celery.py does at a worker's stop): it is never traversed again, and a younger object is still
collected when it becomes garbage (references from frozen objects count as outside references, as they are). What
is frozen is not freed by the cycle collector if it becomes a cycle's garbage later (a few collected items at most:
modules, classes and functions live to the end anyway); reference counting frees it as before.
"""

from __future__ import annotations

import gc

import pytest


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.collect()  # what collection left as garbage goes first: only what is alive is frozen
    gc.freeze()
