"""How the tests are written, read with `ast`: shared helpers live in tests/support/, and
nothing depends on where a development machine keeps its folders."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: every layer's top-level folder, as pyproject.toml lists the packages
LAYERS = [
    name
    for name in tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]["packages"]
    if "." not in name
]
TEST_FILES = sorted((REPO / "tests").rglob("*.py"))
#: the one place that looks for the shared folder beside the repository, and this test
EXEMPT = {REPO / "tests" / "support" / "dev_set.py", Path(__file__).resolve()}
CODE_FILES = [
    path
    for folder in (*LAYERS, "benchmarks", "tools")
    for path in sorted((REPO / folder).rglob("*.py"))
]


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
    return found


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_test_imports_another_test_module_or_a_conftest(path: Path) -> None:
    offenders = {
        name
        for name in _imported_modules(path)
        if name.rsplit(".", 1)[-1].startswith("test_") or name.endswith("conftest")
    }
    assert not offenders, f"move shared helpers to tests/support/: {offenders}"


@pytest.mark.parametrize("path", TEST_FILES + CODE_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_nothing_climbs_out_of_the_repository(path: Path) -> None:
    """No `parents[N] / "shared"` and no `/work/...` paths: a checkout may be anywhere."""
    if path in EXEMPT:
        return
    tree = ast.parse(path.read_text(encoding="utf-8"))
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)]
    # `something / "shared"`: a path into the folder beside the checkout (a thread id or a
    # dict key that happens to read "shared" is no path).
    joins = [
        side.value
        for node in ast.walk(tree)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)
        for side in (node.left, node.right)
        if isinstance(side, ast.Constant)
    ]
    assert "shared" not in joins, "find the dev set through tests/support/dev_set.py"
    assert not [s for s in strings if isinstance(s, str) and s.startswith(("/work", "/home"))]
