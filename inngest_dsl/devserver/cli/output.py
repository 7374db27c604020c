"""How the client commands print: `--json` as the API answered, else short tables and lines
for a person (times as the API gives them, in UTC with a `Z`; counts with their noun)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["answer", "count", "print_json", "print_listing", "table"]


def print_json(value: Any) -> None:
    """An answer as `--json` prints it."""
    print(json.dumps(value, indent=2))


def answer(args: argparse.Namespace, reply: Any, show: Callable[[Any], None]) -> None:
    """Print `reply` as JSON with `--json`, else as `show` puts it."""
    if getattr(args, "json", False):
        print_json(reply)
    else:
        show(reply)


def count(number: int, noun: str) -> str:
    """`1 run`, `3 runs`."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def table(rows: Sequence[Sequence[str]]) -> str:
    """Rows as left-aligned columns two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def print_listing(
    header: Sequence[str], rows: Sequence[Sequence[str]], noun: str, cursor: str | None = None
) -> None:
    """A page of a listing: `no <noun>s` when empty, else a table, then how to get the next
    page if there is one."""
    if not rows:
        print(f"no {noun}s")
        return
    print(table([header, *rows]))
    if cursor:
        print(f"(more: --cursor {cursor})")
