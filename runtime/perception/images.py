"""Image -> facts (Pillow) and the text on it (RapidOCR, whose ONNX models ship in its wheel)."""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..base import InputError
from .files import check_file

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image as PILImage
    from rapidocr_onnxruntime import RapidOCR

log = logging.getLogger(__name__)

#: Side length above which an image is downscaled before OCR (RapidOCR shrinks further).
MAX_OCR_SIDE = 4096


@dataclass(frozen=True)
class ImageFacts:
    """Basic facts about an image, shown to text-only models beside the text read from it."""

    width: int
    height: int
    format: str  # Pillow's format name, e.g. "PNG", "JPEG"
    mode: str  # Pillow's pixel mode, e.g. "RGB", "RGBA", "L"

    def summary(self) -> str:
        return f"{self.format} image, {self.width}x{self.height} pixels"

    def to_dict(self) -> dict[str, int | str]:
        """JSON-ready form, for `--json` output and the API."""
        return asdict(self)


def _open_image(path: Path) -> PILImage.Image:
    """Open and fully decode `path` with Pillow, turning every failure into `InputError`."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    check_file(path, "image")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; refuse those too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        log.info("refused oversized image %s: %s", path, exc)
        raise InputError(
            f"image file {path} is too large to read safely (over {Image.MAX_IMAGE_PIXELS:,} "
            "pixels); scale it down"
        ) from exc
    except UnidentifiedImageError as exc:
        log.info("not an image: %s", path)
        raise InputError(
            f"could not read image file {path}: not an image format Pillow can read; "
            "use PNG, JPEG, WebP, GIF, BMP or TIFF"
        ) from exc
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or damaged data
        log.info("could not decode image %s: %r", path, exc)
        raise InputError(
            f"could not read image file {path}: {exc}; the file may be damaged"
        ) from exc
    return image


def describe_image(path: Path) -> ImageFacts:
    """Size, format and mode of the image at `path`. Raises `InputError` if unreadable."""
    with _open_image(path) as image:
        return ImageFacts(
            width=image.width,
            height=image.height,
            format=image.format or "unknown",
            mode=image.mode,
        )


def _to_ocr_array(image: PILImage.Image) -> np.ndarray:
    """`image` as an 8-bit BGR array, the layout RapidOCR expects, at most MAX_OCR_SIDE wide."""
    import numpy as np
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(image)  # phone photos carry their rotation in EXIF
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16/32-bit greyscale: stretch the used range to 0..255 instead of clipping it.
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
        image = Image.fromarray(scaled.astype(np.uint8))  # 2-D uint8 -> mode "L"
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # Text on a transparent background is often drawn in black: put it on white, not black.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    image = image.convert("RGB")  # also covers L, 1, CMYK, YCbCr, LAB, HSV
    if max(image.size) > MAX_OCR_SIDE:
        image.thumbnail((MAX_OCR_SIDE, MAX_OCR_SIDE), Image.Resampling.LANCZOS)
    return np.ascontiguousarray(np.asarray(image)[:, :, ::-1])


_ocr_lock = threading.Lock()
_ocr_engine: RapidOCR | None = None


def _ocr() -> RapidOCR:
    global _ocr_engine
    if _ocr_engine is None:
        from rapidocr_onnxruntime import RapidOCR

        _ocr_engine = RapidOCR()
    return _ocr_engine


def _reading_order(boxes: list[tuple[list[list[float]], str]]) -> str:
    """Join OCR boxes into lines: boxes whose vertical centres overlap a line join it."""
    lines: list[tuple[float, float, list[tuple[float, str]]]] = []  # (top, bottom, [(x, text)])
    for corners, text in sorted(boxes, key=lambda box: min(y for _, y in box[0])):
        top, bottom = min(y for _, y in corners), max(y for _, y in corners)
        left, centre = min(x for x, _ in corners), (top + bottom) / 2
        for index, (line_top, line_bottom, words) in enumerate(lines):
            if line_top <= centre <= line_bottom:
                words.append((left, text))
                lines[index] = (min(line_top, top), max(line_bottom, bottom), words)
                break
        else:
            lines.append((top, bottom, [(left, text)]))
    return "\n".join(" ".join(text for _, text in sorted(words)) for _, _, words in lines)


def read_image(path: Path) -> str:
    """The text on the image at `path`, line by line in reading order ("" when none).

    Raises `InputError` when the file is not a readable image.
    """
    with _open_image(path) as image:
        try:
            pixels = _to_ocr_array(image)
        except (OSError, ValueError) as exc:  # exotic modes or broken EXIF data
            log.info("could not convert image %s for OCR: %r", path, exc)
            raise InputError(
                f"could not read image file {path}: {exc}; save it as PNG or JPEG and retry"
            ) from exc
    # One engine per process; onnxruntime sessions are thread-safe but RapidOCR keeps
    # per-call settings on the engine, so calls are serialised (under a second per image).
    with _ocr_lock:
        result, _ = _ocr()(pixels)
    boxes = [(corners, str(text).strip()) for corners, text, _score in result or ()]
    text = _reading_order([box for box in boxes if box[1]])
    log.info("read %d text boxes from %s", len(boxes), path)
    return text
