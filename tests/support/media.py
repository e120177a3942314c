"""Test media made on the spot: a spoken question (espeak-ng) and text drawn with Pillow."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

SPOKEN_QUESTION = "What is the capital of France?"
SIGN_LINES = ("STOP AHEAD", "EXIT 12")


def speak(text: str, path: Path) -> Path:
    """A WAV of espeak-ng saying `text` (the test is skipped without espeak-ng)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.skip("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    subprocess.run([espeak, "-w", str(path), text], check=True, capture_output=True)
    return path


def draw_text(
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


def draw_sign(path: Path) -> Path:
    """A 640x240 PNG with SIGN_LINES drawn on it."""
    draw_text(SIGN_LINES).convert("RGB").save(path)
    return path


def icon_bytes(fmt: str = "GIF", size: int = 48) -> bytes:
    """A one-colour square image in `fmt` (ICO, GIF, PNG...): a site's icon as served."""
    out = io.BytesIO()
    Image.new("RGBA", (size, size), (200, 30, 30, 255)).convert(
        "RGB" if fmt in {"GIF", "JPEG"} else "RGBA"
    ).save(out, format=fmt)
    return out.getvalue()
