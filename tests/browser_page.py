"""What the browser tests share beside their fixtures (`browser`, `artifacts`: tests/conftest.py): a page logged in
as the tester."""

from __future__ import annotations

from tests.conftest import PASSWORD, USER


def logged_in(browser, *, user: str = USER, password: str = PASSWORD):
    """A browser context with the tester's credentials (or `user`'s: what the login prompt gives), a page, and the
    list its console errors and uncaught exceptions are collected in (CSP violations are console errors too)."""
    context = browser.new_context(http_credentials={"username": user, "password": password},
                                  viewport={"width": 1440, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return context, page, problems
