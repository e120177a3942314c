"""Fixtures of the UI/API tests (the processes they start: tests/support/processes.py).

The docs index and its loopback server come from the root conftest (`docs_index`).
"""

from __future__ import annotations

import pytest

from megrez_search.settings import Settings


@pytest.fixture(scope="session")
def ui_settings(docs_index: tuple[Settings, str]) -> Settings:
    """The docs index settings (search `local:docs`, loopback trusted), embedded model."""
    settings, _ = docs_index
    return settings.model_copy(update={"model": "embedded:tiny"})
