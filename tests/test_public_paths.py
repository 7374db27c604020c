"""Public names show their public path, and the declaration and engine layers load no HTTP."""

from __future__ import annotations

import inspect
import pickle
import subprocess
import sys
from types import ModuleType

import pytest

import inngest_dsl
import inngest_dsl.aiohttp
import inngest_dsl.asgi
import inngest_dsl.testing
import inngest_dsl.wsgi
from inngest_dsl import (
    Concurrency,
    Event,
    InngestError,
    InngestFunction,
    NotAFunctionError,
    spec_of,
    step,
)


@pytest.mark.parametrize(
    "module",
    [inngest_dsl, inngest_dsl.testing, inngest_dsl.aiohttp, inngest_dsl.asgi, inngest_dsl.wsgi],
    ids=lambda m: m.__name__,
)
def test_exported_classes_and_functions_name_their_public_module(module: ModuleType) -> None:
    private = []
    for name in module.__all__:
        value = getattr(module, name)
        if not (inspect.isclass(value) or inspect.isfunction(value)):
            continue
        if any(part.startswith("_") for part in value.__module__.split(".")):
            private.append(f"{name}: {value.__module__}")
    assert private == []


def test_reprs_and_pickles_use_the_public_path() -> None:
    assert repr(InngestFunction) == "<class 'inngest_dsl.InngestFunction'>"
    assert f"{step.__module__}.{step.__qualname__}" == "inngest_dsl.step"
    assert repr(inngest_dsl.testing.RunResult) == "<class 'inngest_dsl.testing.RunResult'>"
    event = Event(name="app/thing.happened", data={"n": 1})
    assert pickle.loads(pickle.dumps(event)) == event


def test_attrs_classes_still_resolve_their_annotations() -> None:
    # cattrs resolves string annotations when it meets a class; they were resolved where the
    # class is defined, before it took its public path.
    assert inngest_dsl.testing.ErrorInfo.__module__ == "inngest_dsl.testing"
    from inngest_dsl.wire._json import to_json

    assert to_json(Concurrency(limit=2, key="event.data.user_id")) == {
        "limit": 2,
        "key": "event.data.user_id",
    }


@pytest.mark.parametrize("value", [int, object(), InngestFunction, "shop-checkout"])
def test_spec_of_a_non_function_raises_from_the_error_tree(value: object) -> None:
    with pytest.raises(NotAFunctionError, match="concrete InngestFunction") as raised:
        spec_of(value)  # type: ignore[arg-type]
    assert isinstance(raised.value, InngestError)
    assert isinstance(raised.value, TypeError)


def test_the_client_loads_on_first_use() -> None:
    assert "Inngest" in dir(inngest_dsl)
    assert inngest_dsl.Inngest.__name__ == "Inngest"
    with pytest.raises(AttributeError, match="no attribute 'Missing'"):
        inngest_dsl.Missing


_IO_FREE = """
import importlib, pathlib, sys
import inngest_dsl
root = pathlib.Path(inngest_dsl.__file__).parent
for layer in ("spec", "dsl", "engine", "wire"):
    for path in sorted((root / layer).glob("*.py")):
        name = f"inngest_dsl.{layer}" + ("" if path.stem == "__init__" else f".{path.stem}")
        importlib.import_module(name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("aiohttp", "yarl", "multidict")
                or m == "inngest_dsl.client")
print(",".join(loaded))
"""


def test_the_declaration_and_engine_layers_import_no_http_library() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _IO_FREE], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_the_pytest_plugin_loads_the_testing_kit_only_when_asked() -> None:
    code = "import sys, inngest_dsl.pytest_plugin; print('inngest_dsl.testing' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"
