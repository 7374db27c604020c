"""Type checkers see the DSL as users write it: class keywords are checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TYPING_DIR = Path(__file__).parent / "typing"


def _mypy(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_example_user_code_is_strictly_typed() -> None:
    result = _mypy(TYPING_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


def test_misspelt_class_keyword_is_reported() -> None:
    result = _mypy(Path(__file__).parent / "data" / "misspelt_keyword.py")
    assert result.returncode == 1, result.stdout
    assert 'Unexpected keyword argument "evnt"' in result.stdout


def test_typed_payloads_are_held_to_their_types() -> None:
    # A step's handle carries its result type, a typed wait its event type, and
    # `Context[SignedUp]` the trigger's data: each misuse below must be reported.
    result = _mypy(Path(__file__).parent / "data" / "typed_mistakes.py")
    assert result.returncode == 1, result.stdout
    found = result.stdout
    assert 'expression has type "Receipt", variable has type "str"' in found
    assert '"SignedUp" has no attribute "email"' in found
    assert 'expected type "WaitForEventOp[Receipt]"' in found
    assert found.count('expression has type "Receipt", variable has type "str"') == 2
    assert 'Unsupported target for indexed assignment ("ReadOnlyData")' in found
    assert "Found 5 errors" in found
