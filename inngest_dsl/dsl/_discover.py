"""Find function classes by importing modules: the Python counterpart of a source-path glob."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from inngest_dsl.dsl._function import InngestFunction

__all__ = ["discover"]


def _modules(root: ModuleType) -> list[ModuleType]:
    found = [root]
    search_path = getattr(root, "__path__", None)
    if search_path is not None:
        prefix = root.__name__ + "."
        names = sorted(info.name for info in pkgutil.walk_packages(search_path, prefix))
        found.extend(importlib.import_module(name) for name in names)
    return found


def discover(*modules: str) -> list[type[InngestFunction]]:
    """Import the named modules (packages recursively) and return their concrete functions.

    Order is stable: modules by name, then classes in definition order. A class defined in one
    module and imported into another is returned once, from the module that defines it.
    """
    found: list[type[InngestFunction]] = []
    seen: set[type] = set()
    for dotted in modules:
        for module in _modules(importlib.import_module(dotted)):
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
    return found
