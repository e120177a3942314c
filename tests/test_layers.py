"""The layers, one top-level folder each, read from the source with `ast` (nothing is imported).

The order itself is `tools.layers.LAYERS` (`make layers` prints it and any arrow that breaks
it); these tests check the same table with the same code, plus the rules within layers.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from tools.layers import (
    LAYERS,
    REPO,
    broken_arrows,
    imports_of,
    layer_of,
    level_of,
    main,
    source_files,
)

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
MAX_MODULE_LINES = 400
MODULES = dict(source_files())


def short(layer: str | None) -> str | None:
    """`agent` -> `agent` (the layer's last name)."""
    return layer.rsplit(".", 1)[-1] if layer else None


def test_every_package_folder_is_listed_in_pyproject() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = {name for name, path in MODULES.items() if path.name == "__init__.py"}
    assert found == listed


def test_every_module_is_in_a_declared_layer() -> None:
    assert {module for module in MODULES if layer_of(module) is None} == set()


def test_layer_imports_point_down() -> None:
    assert [str(arrow) for arrow in broken_arrows(MODULES)] == []


def test_the_layer_check_finds_an_arrow_that_points_up(tmp_path: Path) -> None:
    """A store module importing the agent, and a sibling import (runtime -> retrieval)."""
    up = tmp_path / "up.py"
    up.write_text("from agent.api import SearchAgent\n", encoding="utf-8")
    side = tmp_path / "side.py"
    side.write_text("from ..retrieval import fetch\n", encoding="utf-8")
    modules = {"store.up": up, "runtime.side": side}
    found = {(a.module, a.target_layer) for a in broken_arrows(modules)}
    assert found == {
        ("store.up", "agent"),
        ("runtime.side", "retrieval"),
    }


def test_make_layers_prints_the_order_and_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main() == 0
    printed = capsys.readouterr().out
    assert printed.index("cli") < printed.index("agent")
    assert "No import breaks the order." in printed
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "\nlayers:" in makefile and "-m tools.layers" in makefile


def test_the_ground_floor_is_below_every_layer() -> None:
    bottom = {name for level in LAYERS[:2] for name in level}
    assert bottom == {"core", "core.errors", "core.settings"}
    assert all(level_of(layer) >= 2 for level in LAYERS[2:] for layer in level)


def test_every_top_level_folder_of_code_is_a_layer() -> None:
    """A new top-level folder of code is a new layer: it must be listed (and so placed)."""
    folders = {
        path.parent.name
        for path in REPO.glob("*/__init__.py")
        if path.parent.name not in {"tests", "benchmarks", "tools", "build"}
    }
    assert folders <= {name for name in PYPROJECT["tool"]["setuptools"]["packages"]}


@pytest.mark.parametrize(
    "layer", [n for n in PYPROJECT["tool"]["setuptools"]["packages"] if "." not in n]
)
def test_each_layer_name_is_this_repo_not_a_dependency(layer: str) -> None:
    """The layers are top-level names in site-packages: none may be shadowed by, or shadow, an
    installed distribution's module of the same name."""
    import importlib.util

    spec = importlib.util.find_spec(layer)
    assert spec is not None and spec.origin is not None
    assert Path(spec.origin).resolve().is_relative_to(REPO), spec.origin


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


def test_retrieval_takes_policies_not_the_settings() -> None:
    """Retrieval is told what it needs by small policies (retrieval/policy.py), built from the
    settings by `wiring`: of the ground floor it imports only the errors."""
    offenders = {
        module: sorted(
            name for name in imports_of(module, path) if short(layer_of(name)) == "settings"
        )
        for module, path in MODULES.items()
        if short(layer_of(module)) == "retrieval"
    }
    assert not {module: names for module, names in offenders.items() if names}
    annotated = {
        module
        for module, path in MODULES.items()
        if short(layer_of(module)) == "retrieval"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Name) and node.id == "Settings"
    }
    assert not annotated


def test_the_settings_are_composed_in_one_module() -> None:
    """`wiring` alone makes the settings into retrieval policies and the agent: no layer
    below it reads the settings into a policy, no face builds an agent its own way."""
    builders = {
        module
        for module, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in {"RetrievalPolicy", "SearchAgent"}
    }
    assert builders == {"wiring"}


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
        if short(layer_of(module)) == "runtime" or module == "agent.dialect":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                names = {s.value for s in sides if isinstance(s, ast.Constant)}
                if names & {"megrez", "generic"}:
                    offenders.add(module)
    assert not offenders


DIALECT_MODULE = "agent.dialect"


def _tree(module: str) -> ast.Module:
    return ast.parse(MODULES[module].read_text(encoding="utf-8"))


def test_only_the_dialect_module_looks_at_what_a_dialect_is() -> None:
    """Behaviour that differs per dialect is a method of the dialect object: no module asks
    which dialect it has (`isinstance(..., MegrezDialect)`) or reads a capability flag."""
    dialect_types = {
        node.name for node in ast.walk(_tree(DIALECT_MODULE)) if isinstance(node, ast.ClassDef)
    }
    offenders = set()
    for module in MODULES:
        if module == DIALECT_MODULE:
            continue
        for node in ast.walk(_tree(module)):
            if isinstance(node, ast.Attribute) and node.attr == "native_function_calls":
                offenders.add(f"{module}: reads native_function_calls")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"isinstance", "type"}
                and len(node.args) == 2
                and {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
                & (dialect_types - {"ModelAsk"})
            ):
                offenders.add(f"{module}: isinstance on a dialect type")
    assert offenders == set()


def test_one_type_is_named_dialect() -> None:
    named = {
        module
        for module in MODULES
        for node in ast.walk(_tree(module))
        if (isinstance(node, ast.ClassDef) and node.name == "Dialect")
        or (isinstance(node, ast.Name) and node.id == "Dialect" and isinstance(node.ctx, ast.Store))
    }
    assert named == {DIALECT_MODULE}


#: The threads and event loops the request path still starts, each a named executor (the
#: async item of issue 23 shrinks this list): module -> the functions that may.
BRIDGES_ALLOWED = {
    # the model calls' executor, a backend's threads reused (`__init__`: their annotation)
    "agent.workers": {"__init__", "submit"},
    # the process's one I/O loop, started once (`__init__`: the thread's annotation)
    "retrieval.io_loop": {"__init__", "_running_loop"},
    "retrieval.index": {"build_index"},  # the crawl of `index build`
    "retrieval.static_site": {"__init__"},  # the served folder of an index
}
BRIDGE_LAYERS = {"agent", "retrieval", "server"}


def _bridges(module: str) -> set[str]:
    """The functions of `module` that name `asyncio.run` or `threading.Thread`."""
    found: set[str] = set()

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = function or node.name  # the outermost function owns nested ones
        if (
            isinstance(node, ast.ImportFrom)
            and node.module in {"asyncio", "threading"}
            and {a.name for a in node.names} & {"run", "Thread"}
        ):
            found.add(function or "<module>")
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and (node.value.id, node.attr) in {("asyncio", "run"), ("threading", "Thread")}
        ):
            found.add(function or "<module>")
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(_tree(module), "")
    return found


def test_no_new_thread_or_event_loop_in_the_request_path() -> None:
    found = {
        module: bridges
        for module in MODULES
        if layer_of(module) in BRIDGE_LAYERS and (bridges := _bridges(module))
    }
    assert found == BRIDGES_ALLOWED
