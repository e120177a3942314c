"""Run mypy on the `megrez_search` package as it is installed, not as it sits in the repo.

The package's layers live in top-level folders mapped by setuptools' `package-dir`, which mypy
cannot follow (nor the editable install's import hook). So this builds a tree of symbolic links
shaped like the installed package, from the same `package-dir` table in pyproject.toml, and
points mypy at it; its configuration is `[tool.mypy]` in pyproject.toml.

    python tests/typecheck.py          # exit status is mypy's
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TREE = REPO / "build" / "typecheck"


def link_tree() -> Path:
    """build/typecheck/megrez_search/... -> the repo's folders, as package-dir maps them."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    package_dir: dict[str, str] = pyproject["tool"]["setuptools"]["package-dir"]
    shutil.rmtree(TREE, ignore_errors=True)
    root = TREE / "megrez_search"
    root.mkdir(parents=True)
    children = {name.split(".")[1]: folder for name, folder in package_dir.items() if "." in name}
    for entry in (REPO / package_dir["megrez_search"]).iterdir():
        if entry.name != "__pycache__" and entry.name not in children:
            (root / entry.name).symlink_to(entry)
    for child, folder in children.items():
        (root / child).symlink_to(REPO / folder)
    return TREE


def main() -> int:
    tree = link_tree()
    command = [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml")]
    command += ["--cache-dir", str(REPO / ".mypy_cache"), "-p", "megrez_search"]
    return subprocess.call(command, cwd=tree)


if __name__ == "__main__":
    sys.exit(main())
