"""Names re-exported by a public module are presented at that module's path.

A class or function defined in a private module (`inngest_dsl.dsl._function`) but imported
from a public one (`inngest_dsl`) gets the public path as its `__module__`, so reprs,
tracebacks and pickles show where users import it from, as httpx does.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["present"]


def _private(module: str) -> bool:
    return any(part.startswith("_") for part in module.split("."))


def present(public: str, namespace: Mapping[str, Any]) -> None:
    """Give the classes and functions in `namespace["__all__"]` that a private module defines
    the `__module__` `public`."""
    for name in namespace["__all__"]:
        value = namespace.get(name)
        if not (inspect.isclass(value) or inspect.isfunction(value)):
            continue
        if not _private(value.__module__):
            continue
        if inspect.isclass(value) and attrs.has(value):
            # String annotations are resolved in the defining module's namespace; do it while
            # `__module__` still names that module (cattrs resolves them when it meets one).
            # A name only imported for type checkers stays unresolvable, as it was.
            with contextlib.suppress(NameError):
                attrs.resolve_types(value)
        value.__module__ = public
