"""The browser tests' fixtures (tests/conftest.py imports them): where their screenshots go, and the browser."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    """Where the browser tests' screenshots go: $MA_TEST_ARTIFACTS/web, else a temporary folder."""
    folder = Path(os.environ.get("MA_TEST_ARTIFACTS") or tmp_path_factory.mktemp("web-artifacts")) / "web"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# How long a browser test's `expect` waits for what it expects (Playwright's default is 5 s). Other test runs share
# this 2-core host: at a load of 10-20 a page's answer to a drop or a hash change took longer than 5 s, and
# test_web_retrial's "opens its file" failed twice in a row there, passing idle. Only a failing expectation waits the
# whole time; one met answers as soon as it is.
EXPECT_TIMEOUT_MS = 30_000


# One browser per test process, not one per module: each module had started Playwright's driver and Chromium and
# closed them again (~2 s idle, 5-7 s at a load of 8, in 31 modules). Every test still opens a context of its own
# (its own cookies, storage, credentials: tests/browser_page.py) and closes it. Nothing of the suite runs an asyncio
# loop, which the sync API's running loop would refuse while the browser lives.
@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import expect, sync_playwright

    from tests.conftest import CHROMIUM  # here: tests.conftest imports this module

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as pw:
        # the autoplay flag lets the test start playback without a user gesture
        chromium = pw.chromium.launch(executable_path=CHROMIUM,
                                      args=["--autoplay-policy=no-user-gesture-required", "--mute-audio"])
        yield chromium
        chromium.close()
