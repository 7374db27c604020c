"""The package's layers import only downward, and no module imports itself in a circle.

Every `import` statement of every module counts, at module level, under `TYPE_CHECKING` and
inside functions alike (ARCHITECTURE.md draws the layers). An edge is an import statement:
importing `inngest_dsl.spec._event` also runs the `__init__` of `inngest_dsl.spec` and of
`inngest_dsl`, which is why the layers' `__init__` modules import nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "inngest_dsl"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

# What each part of the package may import, besides itself. A part is a subpackage or a
# top-level module; the package's own `__init__` (the public face) may import anything.
ALLOWED: dict[str, set[str]] = {
    "_version": set(),
    "errors": set(),
    "_public": set(),
    "_settings": {"errors"},
    "spec": {"errors"},
    "dsl": {"spec", "errors"},
    "wire": {"spec", "errors"},
    "engine": {"spec", "wire", "errors"},
    "client": {"_settings", "spec", "wire", "errors", "_version"},
    "serve": {"engine", "client", "spec", "wire", "errors", "_version"},
    "aiohttp": {"serve", "client", "spec", "wire", "errors", "_public"},
    # The ASGI and WSGI shells: like aiohttp's, request conversion around serve/ only.
    "asgi": {"serve", "client", "spec", "errors", "_public"},
    "wsgi": {"serve", "client", "spec", "errors", "_public"},
    # The dev server speaks the protocol and knows nothing of the DSL.
    "devserver": {"spec", "wire", "_version"},
    "testing": {
        "devserver", "aiohttp", "serve", "client", "engine", "dsl", "wire", "spec", "errors",
        "_public",
    },
    "pytest_plugin": {"testing", "spec"},
    # Public faces of middleware: re-exports, and the encryption middleware on spec's base.
    "middleware": {"spec", "_public"},
    "encryption": {"spec", "errors", "_public"},
}  # fmt: skip

# Layers whose `__init__` only documents the layer (see the module docstring).
SILENT_PACKAGES = ("spec", "dsl", "engine", "wire", "serve")

# The dev server's web layer names `DevServer` for type checkers; the dev server's own
# reorganisation removes that circle. No other module may be part of one.
def _modules() -> dict[str, Path]:
    modules = {}
    for path in ROOT.rglob("*.py"):
        parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _imported(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        yield candidate if candidate in MODULES else base


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for name in _imported(module, node):
                    while name not in MODULES and "." in name:
                        name = name.rpartition(".")[0]
                    if name in MODULES and name != module:
                        edges.add(name)
        graph[module] = edges
    return graph


GRAPH = _graph()


def _part(module: str) -> str | None:
    """The part of the package `module` belongs to; None for the package's own `__init__`."""
    return module.split(".")[1] if module != PACKAGE else None


def _circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_part_of_the_package_has_a_rule() -> None:
    parts = {_part(module) for module in MODULES} - {None}
    assert parts == set(ALLOWED)


def test_no_module_imports_itself_in_a_circle() -> None:
    assert [sorted(circle) for circle in _circles(GRAPH)] == []


def test_the_layers_import_only_downward() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if (part := _part(module)) is not None
        and (target_part := _part(target)) != part
        and target_part not in ALLOWED[part]
    )
    assert wrong == []


@pytest.mark.parametrize("layer", SILENT_PACKAGES)
def test_a_layer_init_imports_nothing(layer: str) -> None:
    tree = ast.parse((ROOT / layer / "__init__.py").read_text())
    assert not [
        node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
    ]


def test_the_checker_sees_type_checking_and_local_imports_and_circles() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from inngest_dsl.spec._event import Event\n"
        "def f():\n    from inngest_dsl.wire import _signing\n"
    )
    names = {
        name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for name in _imported(f"{PACKAGE}.spec._function", node)
    }
    assert names == {"typing", f"{PACKAGE}.spec._event", f"{PACKAGE}.wire._signing"}
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [{"a", "b", "c"}]
