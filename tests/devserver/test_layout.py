"""The dev server's layers: the run engine and the store import no HTTP library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import inngest_dsl

PACKAGE = Path(inngest_dsl.__file__).resolve().parent

# The package roots stand in bare: `inngest_dsl/__init__.py` imports the SDK's client and
# `inngest_dsl/devserver/__init__.py` the server, both on aiohttp. What is checked is what the
# modules of `core/` and `store/` import themselves.
_IMPORT_LOWER_LAYERS = """
import importlib, pkgutil, sys, types
from pathlib import Path

root = Path(sys.argv[1])
for name, path in (("inngest_dsl", root), ("inngest_dsl.devserver", root / "devserver")):
    package = types.ModuleType(name)
    package.__path__ = [str(path)]
    sys.modules[name] = package
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
