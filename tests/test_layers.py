"""The layers of `megrez_search`, read from the source with `ast` (nothing is imported).

Data flows one way: cli → (ui, server, evaluation) → agent → (runtime, retrieval) → settings.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
PACKAGE_DIRS: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]

#: layer -> the layers it must never import
FORBIDDEN = {
    "runtime": {"agent", "retrieval", "ui", "server", "evaluation", "cli"},
    "retrieval": {"agent", "runtime", "ui", "server", "evaluation", "cli"},
    "agent": {"ui", "server", "evaluation", "cli"},
    "evaluation": {"ui", "server", "cli"},
    "server": {"ui", "evaluation", "cli"},
    "ui": {"server", "evaluation", "cli"},
    "store": {"agent", "runtime", "retrieval", "ui", "server", "evaluation", "cli", "accounts"},
    "accounts": {"agent", "runtime", "retrieval", "ui", "server", "evaluation", "cli"},
    "prompts": {"agent", "runtime", "retrieval", "ui", "server", "evaluation", "cli"},
}
GROUND_FLOOR = {"settings", "errors"}
MAX_MODULE_LINES = 400


def source_files() -> Iterator[tuple[str, Path]]:
    """(dotted module name, path) of every module of the package, wherever its folder is."""
    for package, folder in PACKAGE_DIRS.items():
        root = REPO / folder
        for path in sorted(root.rglob("*.py")):
            relative = path.relative_to(root).with_suffix("")
            parts = [p for p in relative.parts if p != "__init__"]
            if package == "megrez_search" and parts and parts[0] in _mapped_children():
                continue  # listed under its own mapping
            yield ".".join([package, *parts]), path


def _mapped_children() -> set[str]:
    return {name.split(".")[1] for name in PACKAGE_DIRS if name.count(".") == 1}


def imports_of(module: str, path: Path) -> set[str]:
    """Absolute names of what `module` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "megrez_search" or len(parts) < 2:
        return None
    return parts[1]


MODULES = dict(source_files())


def test_every_package_folder_is_listed_in_pyproject() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = {name for name, path in MODULES.items() if path.name == "__init__.py"}
    assert found == listed


@pytest.mark.parametrize("module", sorted(MODULES))
def test_layer_imports_point_down(module: str) -> None:
    layer = layer_of(module)
    imported = {layer_of(name) for name in imports_of(module, MODULES[module])}
    assert not imported & FORBIDDEN.get(layer or "", set()), f"{module} imports {imported}"


def test_no_bare_imports_of_the_layer_folders() -> None:
    """`import agent` would load a second copy of `megrez_search.agent`."""
    bare = {"agent", "retrieval", "ui", "prompts"}
    offenders = {
        module
        for module, path in MODULES.items()
        for name in imports_of(module, path)
        if name.split(".")[0] in bare
    }
    assert not offenders


def test_no_import_cycles_between_modules() -> None:
    graph = {
        module: {name for name in imports_of(module, path) if name in MODULES} - {module}
        for module, path in MODULES.items()
    }
    # A package's __init__ importing its own children is not a cycle of layers.
    graph = {
        module: {n for n in names if not n.startswith(module + ".")}
        for module, names in graph.items()
    }
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(node: str, trail: list[str]) -> None:
        if node in done:
            return
        assert node not in visiting, "import cycle: " + " -> ".join([*trail, node])
        visiting.add(node)
        for child in sorted(graph[node]):
            visit(child, [*trail, node])
        visiting.discard(node)
        done.add(node)

    for module in sorted(graph):
        visit(module, [])


def test_the_ground_floor_imports_no_layer() -> None:
    for name in GROUND_FLOOR:
        module = f"megrez_search.{name}"
        imported = {layer_of(n) for n in imports_of(module, MODULES[module])}
        assert imported <= GROUND_FLOOR | {None}, module


def test_retrieval_takes_policies_not_the_settings() -> None:
    """Retrieval is told what it needs by small policies (retrieval/policy.py), built from the
    settings by the agent layer: of the ground floor it imports only the errors."""
    offenders = {
        module: sorted(name for name in imports_of(module, path) if layer_of(name) == "settings")
        for module, path in MODULES.items()
        if layer_of(module) == "retrieval"
    }
    assert not {module: names for module, names in offenders.items() if names}
    annotated = {
        module
        for module, path in MODULES.items()
        if layer_of(module) == "retrieval"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Name) and node.id == "Settings"
    }
    assert not annotated


def test_no_module_is_over_the_line_budget() -> None:
    long = {
        module: lines
        for module, path in MODULES.items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not long


def test_only_the_dialect_module_tells_the_dialects_apart() -> None:
    """No `... == "megrez"` outside agent/dialect.py and the runtime's backends."""
    offenders = set()
    for module, path in MODULES.items():
        if layer_of(module) == "runtime" or module == "megrez_search.agent.dialect":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                names = {s.value for s in sides if isinstance(s, ast.Constant)}
                if names & {"megrez", "generic"}:
                    offenders.add(module)
    assert not offenders
