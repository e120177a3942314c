"""Fixtures of the UI/API tests (the processes they start: tests/support/processes.py).

The docs index and its loopback server come from the root conftest (`docs_index`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from core.settings import Settings
from tests.support.browser import chromium


@pytest.fixture(scope="session")
def ui_settings(docs_index: tuple[Settings, str]) -> Settings:
    """The docs index settings (search `local:docs`, loopback trusted), embedded model."""
    settings, _ = docs_index
    return settings.replace(model="embedded:tiny")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A Playwright browser on Debian's chromium, one per test module."""
    with chromium() as browser:
        yield browser
