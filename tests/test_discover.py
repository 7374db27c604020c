"""`discover()` finds function classes by module, and names every module that fails."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from inngest_dsl import DefinitionError, discover

GOOD = """
from inngest_dsl import Context, InngestFunction, step

class Greet(InngestFunction, event="app/hello"):
    @step("greet")
    def greet(self, ctx: Context) -> str:
        return "hi"
"""

BROKEN_CLASS = """
from inngest_dsl import InngestFunction

class Broken(InngestFunction, evnt="app/x"):
    pass
"""


@pytest.fixture
def package(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "flowpkg_discover"
    root.mkdir()
    (root / "__init__.py").write_text("")
    sys.path.insert(0, str(tmp_path))
    yield root
    sys.path.remove(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("flowpkg_discover")]:
        del sys.modules[name]


def write(root: Path, name: str, source: str) -> None:
    (root / f"{name}.py").write_text(textwrap.dedent(source))


def test_functions_are_found_in_every_module(package: Path) -> None:
    write(package, "a", GOOD)
    write(package, "b", GOOD.replace("Greet", "Wave").replace("app/hello", "app/wave"))
    assert [cls.__name__ for cls in discover("flowpkg_discover")] == ["Greet", "Wave"]


def test_one_broken_module_raises_its_own_error(package: Path) -> None:
    write(package, "a", GOOD)
    write(package, "b", BROKEN_CLASS)
    with pytest.raises(DefinitionError, match="did you mean event="):
        discover("flowpkg_discover")


def test_every_broken_module_is_named_at_once(package: Path) -> None:
    write(package, "a", BROKEN_CLASS)
    write(package, "b", GOOD)
    write(package, "c", "import no_such_module_anywhere\n")
    write(package, "d", "def oops(:\n")
    with pytest.raises(DefinitionError) as info:
        discover("flowpkg_discover")
    error = info.value
    assert "3 modules failed to import" in str(error)
    assert [p.split(":")[0] for p in error.problems] == [
        "flowpkg_discover.a", "flowpkg_discover.c", "flowpkg_discover.d",
    ]  # fmt: skip
    assert "ModuleNotFoundError" in error.problems[1]
    assert "SyntaxError" in error.problems[2]
    assert "unknown class keyword evnt=" in error.problems[0]
