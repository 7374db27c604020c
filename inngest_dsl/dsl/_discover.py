"""Find function classes by importing modules: the Python counterpart of a source-path glob."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from types import ModuleType

from inngest_dsl.dsl._function import InngestFunction
from inngest_dsl.errors import DefinitionError

__all__ = ["discover"]


def _modules(root: ModuleType, broken: dict[str, BaseException]) -> list[ModuleType]:
    found = [root]
    search_path = getattr(root, "__path__", None)
    if search_path is None:
        return found
    prefix = root.__name__ + "."

    def failed(name: str) -> None:
        # walk_packages imports subpackages to look inside: one that fails is recorded.
        error = sys.exc_info()[1]
        if error is not None:
            broken.setdefault(name, error)

    names = sorted(info.name for info in pkgutil.walk_packages(search_path, prefix, failed))
    for name in names:
        if name in broken:
            continue
        try:
            found.append(importlib.import_module(name))
        except Exception as exc:  # a module that fails to import: report it with the others
            broken[name] = exc
    return found


def _problem(name: str, error: BaseException) -> str:
    lines = str(error).splitlines() or [""]
    return "\n    ".join([f"{name}: {type(error).__name__}: {lines[0]}", *lines[1:]])


def discover(*modules: str) -> list[type[InngestFunction]]:
    """Import the named modules (packages recursively) and return their concrete functions.

    Order is stable: modules by name, then classes in definition order. A class defined in one
    module and imported into another is returned once, from the module that defines it. A
    module that fails to import raises its error; when several do, one `DefinitionError`
    names each of them.
    """
    found: list[type[InngestFunction]] = []
    seen: set[type] = set()
    broken: dict[str, BaseException] = {}
    for dotted in modules:
        try:
            root = importlib.import_module(dotted)
        except Exception as exc:
            broken[dotted] = exc
            continue
        for module in _modules(root, broken):
            for value in vars(module).values():
                if (
                    isinstance(value, type)
                    and issubclass(value, InngestFunction)
                    and value.__module__ == module.__name__
                    and value.__inngest_spec__ is not None
                    and value not in seen
                ):
                    seen.add(value)
                    found.append(value)
    if len(broken) == 1:
        raise next(iter(broken.values()))
    if broken:
        first = next(iter(broken.values()))
        raise DefinitionError(
            f"discover({', '.join(map(repr, modules))}): {len(broken)} modules failed to import",
            [_problem(name, error) for name, error in broken.items()],
        ) from first
    return found
