"""The dev server's layers: the run engine and the store import no HTTP library, each layer
imports only the ones below it, no module imports another in a circle, none is over 400 lines.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import inngest_dsl

PACKAGE = Path(inngest_dsl.__file__).resolve().parent

# Both package roots load their HTTP-bound names on first use, so importing every module of
# `core/` and `store/` shows what those modules import themselves.
_IMPORT_LOWER_LAYERS = """
import importlib, pkgutil, sys
from pathlib import Path

root = Path(sys.argv[1])
for layer in ("core", "store"):
    prefix = f"inngest_dsl.devserver.{layer}."
    for info in pkgutil.walk_packages([str(root / "devserver" / layer)], prefix):
        importlib.import_module(info.name)
print(" ".join(sorted(name for name in sys.modules if name.startswith("inngest_dsl.devserver."))))
print(" ".join(sorted(name for name in sys.modules if name.partition(".")[0] == "aiohttp")))
"""


def test_the_run_engine_and_the_store_import_no_http_library() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_LOWER_LAYERS, str(PACKAGE)],
        capture_output=True,
        text=True,
        check=True,
    )
    imported, http_modules = result.stdout.splitlines()
    assert "inngest_dsl.devserver.core.engine" in imported.split()
    assert "inngest_dsl.devserver.store.records" in imported.split()
    assert http_modules == ""


# Each layer imports only from itself and the layers before it.
LAYERS = (
    "store",
    "core",
    "config",
    "http",
    "ui",
    "app",
    "server",
    "cli",
    "__init__",
    "__main__",
)
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    """Every dev server module by dotted name (a package by its own name)."""
    found = {}
    for path in sorted((PACKAGE / "devserver").rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The dev server modules `name` imports anywhere: at the top, under `TYPE_CHECKING` or
    inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in modules else base)
    return {target for target in targets if target in modules and target != name}


def _layer(name: str) -> int:
    parts = name.split(".")
    return LAYERS.index(parts[2] if len(parts) > 2 else "__init__")


def test_no_dev_server_module_imports_another_in_a_circle() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            raise AssertionError("import circle: " + " -> ".join(cycle))
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_each_layer_imports_only_the_layers_below_it() -> None:
    modules = _modules()
    upward = [
        f"{name} -> {target}"
        for name, path in modules.items()
        for target in sorted(_imports(name, path, modules))
        if _layer(target) > _layer(name)
    ]
    assert upward == []


def test_no_dev_server_module_is_over_400_lines() -> None:
    long = {
        name: lines
        for name, path in _modules().items()
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
