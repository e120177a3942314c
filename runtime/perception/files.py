"""Input files of perception: checked before any engine sees them."""

from __future__ import annotations

from pathlib import Path

from ..base import InputError


def check_file(path: Path, kind: str) -> None:
    """Fail early, with a clear message, on a path that is not an existing file."""
    if not path.exists():
        raise InputError(f"{kind} file {path} does not exist; check the path")
    if not path.is_file():
        raise InputError(f"{kind} path {path} is not a file")
