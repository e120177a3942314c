"""Run mypy on every layer of the project, straight from the repo's folders.

Each layer is a top-level package (`core`, `runtime`, `agent`, ...: the list is
`[tool.setuptools] packages` in pyproject.toml), so mypy reads the tree as it is; its
configuration is `[tool.mypy]` in pyproject.toml.

    python tests/typecheck.py          # exit status is mypy's
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def top_level_packages() -> list[str]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    listed: list[str] = pyproject["tool"]["setuptools"]["packages"]
    return [name for name in listed if "." not in name]


def main() -> int:
    command = [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml")]
    command += ["--cache-dir", str(REPO / ".mypy_cache")]
    for package in top_level_packages():
        command += ["-p", package]
    return subprocess.call(command, cwd=REPO)


if __name__ == "__main__":
    sys.exit(main())
