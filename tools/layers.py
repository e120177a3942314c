"""The layers (one top-level folder each) and the import arrows that break them, read with `ast`.

    python -m tools.layers      # or: make layers; exit status 1 when an arrow points up

`LAYERS` is the one declaration of the order, bottom first: a module may import its own
layer and any layer of a lower level, never one of its own level (siblings) or above.
tests/test_layers.py checks the same table with the same code, so the two cannot disagree.
A layer is named by its module prefix: moving a folder is a one-line edit here.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: Levels of layers, bottom first; the layers of one level must not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("core", "core.errors"),  # `core` itself is only its docstring
    ("core.settings",),
    ("prompts", "store"),
    ("runtime", "retrieval", "accounts"),
    ("agent",),
    ("wiring",),  # settings into policies and the agent: what the faces run
    ("evaluation", "server", "ui"),
    ("cli",),
    ("megrez_search", "megrez_search.__main__"),  # the package itself: the entry point
)


def top_level_packages() -> list[str]:
    """The layers' packages, one top-level folder each, as pyproject.toml lists them."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    listed: list[str] = pyproject["tool"]["setuptools"]["packages"]
    return [name for name in listed if "." not in name]


def source_files() -> Iterator[tuple[str, Path]]:
    """(dotted module name, path) of every module of every layer."""
    for package in top_level_packages():
        root = REPO / package
        for path in sorted(root.rglob("*.py")):
            relative = path.relative_to(root).with_suffix("")
            parts = [p for p in relative.parts if p != "__init__"]
            yield ".".join([package, *parts]), path


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
    """The declared layer `module` belongs to (the longest prefix), None outside them all."""
    names = [
        name
        for level in LAYERS
        for name in level
        if module == name or (module.startswith(name + ".") and name != "megrez_search")
    ]
    return max(names, key=len) if names else None


def level_of(layer: str) -> int:
    return next(i for i, level in enumerate(LAYERS) if layer in level)


@dataclass(frozen=True)
class Arrow:
    """`module` (in `layer`) imports `target` (in `target_layer`)."""

    module: str
    layer: str
    target: str
    target_layer: str

    @property
    def breaks(self) -> bool:
        if self.layer == self.target_layer:
            return False
        return level_of(self.target_layer) >= level_of(self.layer)

    def __str__(self) -> str:
        return f"{self.module} ({self.layer}) -> {self.target} ({self.target_layer})"


def arrows(modules: dict[str, Path] | None = None) -> list[Arrow]:
    """Every import of one layer's module into another layer (or its own)."""
    modules = modules if modules is not None else dict(source_files())
    found = []
    for module, path in sorted(modules.items()):
        layer = layer_of(module)
        if layer is None:
            continue
        for target in sorted(imports_of(module, path)):
            target_layer = layer_of(target)
            if target_layer is not None and (target in modules or target_layer != layer):
                found.append(Arrow(module, layer, target, target_layer))
    return found


def broken_arrows(modules: dict[str, Path] | None = None) -> list[Arrow]:
    """The imports that point sideways or up; one per (module, imported layer)."""
    seen: set[tuple[str, str]] = set()
    broken = []
    for arrow in arrows(modules):
        if arrow.breaks and (arrow.module, arrow.target_layer) not in seen:
            seen.add((arrow.module, arrow.target_layer))
            broken.append(arrow)
    return broken


def main() -> int:
    print("Layers, top first (a layer imports only the levels below it):")
    for number, level in reversed(list(enumerate(LAYERS))):
        print(f"  {number}  {'  '.join(level)}")
    broken = broken_arrows()
    if not broken:
        print("No import breaks the order.")
        return 0
    print(f"{len(broken)} import(s) break the order:")
    for arrow in broken:
        print(f"  {arrow}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
