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
