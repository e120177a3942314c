"""The shared dev set (shared/eval/dev.jsonl), found the one way every test looks for it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_RELATIVE = Path("shared") / "eval" / "dev.jsonl"


def dev_set_path() -> Path | None:
    """$MEGREZ_TEST_DEV_SET, else shared/ beside the repository, else inside it; or None."""
    candidates = [REPO.parent / _RELATIVE, REPO / _RELATIVE]
    if configured := os.environ.get("MEGREZ_TEST_DEV_SET"):
        candidates.insert(0, Path(configured))
    return next((path for path in candidates if path.is_file()), None)


def dev_set() -> Path:
    """The dev set's path; skips the calling test when it is not there."""
    path = dev_set_path()
    if path is None:
        pytest.skip("the shared dev set (shared/eval/dev.jsonl) is not beside the repository")
    return path
