"""Debian's chromium under Playwright (no browser download), for UI tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def chromium() -> Iterator[Any]:
    """A Playwright `Browser` on Debian's chromium; fails clearly when it is not installed."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise RuntimeError("Debian chromium is not installed (/usr/bin/chromium): make test-deps")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def clipboard_text(page: Any, containing: str) -> str:
    """The clipboard's text once it contains `containing` (polled in the page: an async
    predicate would be a Promise, which `wait_for_function` takes as true at once)."""
    page.wait_for_function(
        """(part) => {
            navigator.clipboard.readText().then((text) => { window.__clipboard = text; });
            return (window.__clipboard || '').includes(part);
        }""",
        arg=containing,
    )
    return str(page.evaluate("() => window.__clipboard"))
