"""Local perception with the real models: Whisper-base (faster-whisper) and RapidOCR."""

from __future__ import annotations

import json
import os
import shutil
import struct
import wave
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.settings import Settings
from runtime.base import InputError
from runtime.perception import (
    ImageFacts,
    describe_image,
    ensure_whisper_model,
    read_image,
    transcribe,
)

# --- Whisper model assembly --------------------------------------------------------


def test_assembled_model_matches_the_packages(whisper_model_dir: Path, settings: Settings) -> None:
    assert whisper_model_dir == settings.store.models_dir / "whisper-base"
    names = {path.name for path in whisper_model_dir.iterdir()}
    assert {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"} <= names
    assert not [name for name in names if name.endswith(".tmp")], "temp files left behind"
    manifest = json.loads((whisper_model_dir / "assembly.json").read_text())
    model_bin = whisper_model_dir / "model.bin"
    assert model_bin.stat().st_size == manifest["size"] == 145_217_532


def test_assembly_is_idempotent(whisper_model_dir: Path, settings: Settings) -> None:
    files = [whisper_model_dir / name for name in ("model.bin", "assembly.json", "config.json")]
    before = [path.stat().st_mtime_ns for path in files]
    assert ensure_whisper_model(settings) == whisper_model_dir
    assert [path.stat().st_mtime_ns for path in files] == before


@pytest.fixture
def model_copy(whisper_model_dir: Path, tmp_path: Path) -> tuple[Settings, Path]:
    """A copy of the assembled model in a data dir of its own, free to damage."""
    settings = Settings(data_dir=tmp_path / "data")
    model_dir = settings.store.models_dir / "whisper-base"
    shutil.copytree(whisper_model_dir, model_dir)
    return settings, model_dir


def test_truncated_model_is_reassembled(model_copy: tuple[Settings, Path]) -> None:
    settings, model_dir = model_copy
    model_bin = model_dir / "model.bin"
    manifest = json.loads((model_dir / "assembly.json").read_text())
    with model_bin.open("r+b") as handle:
        handle.truncate(1000)

    ensure_whisper_model(settings)

    assert model_bin.stat().st_size == manifest["size"]
    assert json.loads((model_dir / "assembly.json").read_text())["sha256"] == manifest["sha256"]


def test_same_size_corruption_is_found_by_hash_check(model_copy: tuple[Settings, Path]) -> None:
    settings, model_dir = model_copy
    model_bin = model_dir / "model.bin"
    with model_bin.open("r+b") as handle:
        handle.seek(50_000_000)
        handle.write(b"\0" * 4096)
    damaged = model_bin.stat().st_mtime_ns

    ensure_whisper_model(settings)  # the cheap size check cannot see it ...
    assert model_bin.stat().st_mtime_ns == damaged
    ensure_whisper_model(settings, verify_hash=True)  # ... the hash check does
    assert model_bin.stat().st_mtime_ns != damaged


@pytest.mark.slow
def test_model_that_fails_to_load_is_rebuilt(
    model_copy: tuple[Settings, Path], spoken_question: Path
) -> None:
    settings, model_dir = model_copy
    with (model_dir / "model.bin").open("r+b") as handle:
        handle.write(b"\xff" * 4096)  # same size, so only loading it reveals the damage

    assert "france" in transcribe(spoken_question, settings).lower()


def test_missing_side_file_is_restored(model_copy: tuple[Settings, Path]) -> None:
    settings, model_dir = model_copy
    (model_dir / "tokenizer.json").unlink()
    ensure_whisper_model(settings)
    assert (model_dir / "tokenizer.json").stat().st_size > 0


# --- speech to text ------------------------------------------------------------------


def _write_wav(path: Path, samples: np.ndarray, rate: int = 16_000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype("<i2").tobytes())
    return path


@pytest.mark.slow
def test_transcribes_a_spoken_question(
    spoken_question: Path, settings: Settings, whisper_model_dir: Path
) -> None:
    transcript = transcribe(spoken_question, settings).lower()
    assert "capital" in transcript
    assert "france" in transcript


@pytest.mark.slow
def test_silence_transcribes_to_empty_text(
    tmp_path: Path, settings: Settings, whisper_model_dir: Path
) -> None:
    silence = _write_wav(tmp_path / "silence.wav", np.zeros(2 * 16_000))
    assert transcribe(silence, settings) == ""


def test_empty_audio_file_transcribes_to_empty_text(tmp_path: Path, settings: Settings) -> None:
    assert transcribe(_write_wav(tmp_path / "empty.wav", np.zeros(0)), settings) == ""


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("random.wav", os.urandom(20_000)),
        ("question.txt", b"What is the capital of France?"),
        ("picture.png", None),  # a real image: a container without an audio stream
    ],
)
def test_unreadable_audio_is_an_input_error(
    tmp_path: Path, settings: Settings, sign_image: Path, name: str, content: bytes | None
) -> None:
    path = tmp_path / name
    path.write_bytes(content if content is not None else sign_image.read_bytes())
    with pytest.raises(InputError, match=rf"could not read audio file .*{name}: .*WAV"):
        transcribe(path, settings)


def test_missing_audio_is_an_input_error(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(InputError, match="does not exist"):
        transcribe(tmp_path / "nowhere.wav", settings)


def test_overlong_audio_is_refused(spoken_question: Path, settings: Settings) -> None:
    strict = settings.replace(max_audio_s=1.0)
    with pytest.raises(InputError, match="MEGREZ_MAX_AUDIO_S"):
        transcribe(spoken_question, strict)


# --- images ---------------------------------------------------------------------------


def test_describes_an_image(sign_image: Path) -> None:
    facts = describe_image(sign_image)
    assert facts == ImageFacts(width=640, height=240, format="PNG", mode="RGB")
    assert facts.summary() == "PNG image, 640x240 pixels"
    assert facts.to_dict() == {"width": 640, "height": 240, "format": "PNG", "mode": "RGB"}


@pytest.mark.slow
def test_reads_the_sign_in_reading_order(sign_image: Path) -> None:
    assert read_image(sign_image).splitlines() == ["STOP AHEAD", "EXIT 12"]


def _on_transparent(image: Image.Image) -> Image.Image:
    """Black text on a fully transparent background (black where transparent)."""
    alpha = Image.eval(image, lambda value: 255 - value)
    rgba = Image.new("RGBA", image.size, (0, 0, 0, 0))
    rgba.putalpha(alpha)
    return rgba


def _sixteen_bit(image: Image.Image) -> Image.Image:
    """A 16-bit greyscale copy in 1000..26500: naive 8-bit clipping turns it all white."""
    values = np.asarray(image).astype(np.uint16) * 100 + 1000
    return Image.fromarray(values).convert("I;16")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "convert"),
    [
        ("grey.png", lambda image: image),
        ("rgba.png", _on_transparent),
        ("la.png", lambda image: _on_transparent(image).convert("LA")),
        ("palette.gif", lambda image: image.convert("P")),
        ("sixteen.png", _sixteen_bit),
        ("photo.jpg", lambda image: image.convert("RGB")),
    ],
)
def test_reads_text_from_odd_image_modes(
    tmp_path: Path,
    draw_text: Callable[..., Image.Image],
    name: str,
    convert: Callable[[Image.Image], Image.Image],
) -> None:
    path = tmp_path / name
    convert(draw_text(("EXIT 12",), size=(400, 140))).save(path)
    assert read_image(path) == "EXIT 12"


@pytest.mark.slow
def test_reads_text_from_a_very_wide_image(
    tmp_path: Path, draw_text: Callable[..., Image.Image]
) -> None:
    path = tmp_path / "banner.png"
    draw_text(("EXIT 12",), size=(5000, 500), font_size=300).save(path)
    assert read_image(path) == "EXIT 12"


@pytest.mark.slow
def test_blank_image_reads_as_empty_text(tmp_path: Path) -> None:
    path = tmp_path / "blank.png"
    Image.new("RGB", (300, 200), "white").save(path)
    assert read_image(path) == ""


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims `width`x`height` pixels but holds almost nothing (a pixel bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [10_000, 30_000])  # above Pillow's warning / error limits
def test_huge_images_are_refused(tmp_path: Path, side: int) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header(side, side))
    for perceive in (describe_image, read_image):
        with pytest.raises(InputError, match="too large"):
            perceive(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("renamed.png", b"hello, I am a text file", "not an image format"),
        ("truncated.png", None, "damaged"),
    ],
)
def test_unreadable_images_are_input_errors(
    tmp_path: Path, sign_image: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content if content is not None else sign_image.read_bytes()[:300])
    for perceive in (describe_image, read_image):
        with pytest.raises(InputError, match=rf"could not read image file .*{name}: .*{message}"):
            perceive(path)


def test_missing_image_is_an_input_error(tmp_path: Path) -> None:
    for perceive in (describe_image, read_image):
        with pytest.raises(InputError, match="does not exist"):
            perceive(tmp_path / "nowhere.png")
