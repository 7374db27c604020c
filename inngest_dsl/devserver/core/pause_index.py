"""The indexable part of a wait or cancellation expression: one equality on the incoming event.

A pause whose expression is `async.<path> == <value>` (or `<value> == async.<path>`), where the
value is `event.<path>` of the run's trigger or a literal, or a `&&` conjunction holding such an
equality, can only match an incoming event whose field at that path equals that value. The
pause is stored under `(path, canonical value)` so an event finds its candidates by one indexed
lookup instead of evaluating every armed expression. Values are keyed as Inngest compares them:
JSON numbers as doubles (`1` and `1.0` share a key), strings exactly, each type apart.

Anything else (other operators, `||`, macros, escapes in string literals, a trigger field that
is missing or not a scalar) is not indexable and is evaluated as before: the index is only a
shortcut, never a different answer.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["Shape", "event_value_key", "pause_key", "shape_of"]

_PATH = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_SIDE = re.compile(
    rf"""\s*(?:
        (?P<root>event|async)\.(?P<path>{_PATH})
      | "(?P<dq>[^"\\\n]*)"
      | '(?P<sq>[^'\\\n]*)'
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      | (?P<const>true|false|null)
    )\s*""",
    re.VERBOSE,
)
_MISSING = object()


@attrs.frozen
class Shape:
    """An expression's indexable equality: `async.<path>` equals `event.<source>` or `literal`.

    `alone` is true when the expression is just that equality (a hit needs no evaluation).
    """

    path: str
    source: str | None
    literal: str | None
    alone: bool


def _key(value: Any) -> str | None:
    """A scalar's index key (numbers as doubles); None for maps, lists and other values."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int | float):
        number = float(value)
        return repr(number) if number == number else None
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return None


def _lookup(document: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(document, Mapping) or part not in document:
            return _MISSING
        document = document[part]
    return document


def _conjuncts(expression: str) -> list[str] | None:
    """The expression split on its top-level `&&`; None if it has a top-level `||` or `?:`,
    or a string literal this scanner does not read plainly."""
    terms: list[str] = []
    depth = 0
    start = 0
    i = 0
    text = expression
    while i < len(text):
        char = text[i]
        if char in "\"'":
            if text.startswith(char * 3, i) or (i and text[i - 1] in "rRbB"):
                return None
            end = text.find(char, i + 1)
            if end < 0 or "\\" in text[i:end]:
                return None
            i = end + 1
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0 and text.startswith("&&", i):
            terms.append(text[start:i])
            start = i + 2
            i += 2
            continue
        elif depth == 0 and (text.startswith("||", i) or char == "?"):
            return None
        i += 1
    terms.append(text[start:])
    return terms


def _unwrap(term: str) -> str:
    """A term without the parentheses that enclose all of it."""
    term = term.strip()
    while term.startswith("(") and term.endswith(")"):
        depth = 0
        for i, char in enumerate(term):
            depth += char == "("
            depth -= char == ")"
            if depth == 0 and i < len(term) - 1:
                return term  # `(a) == (b)`: the first parenthesis closes early
        term = term[1:-1].strip()
    return term


def _side(text: str) -> tuple[str, str] | None:
    """`("async"|"event", path)` or `("literal", key)` for one side of an equality."""
    found = _SIDE.fullmatch(text)
    if found is None:
        return None
    if found["root"]:
        return found["root"], found["path"]
    if found["dq"] is not None or found["sq"] is not None:
        literal: Any = found["dq"] if found["dq"] is not None else found["sq"]
    elif found["number"]:
        literal = float(found["number"])
    else:
        literal = {"true": True, "false": False, "null": None}[found["const"]]
    key = _key(literal)
    return None if key is None else ("literal", key)


def _equality(term: str) -> tuple[str, str | None, str | None] | None:
    term = _unwrap(term)
    left, sep, right = term.partition("==")
    if not sep or "==" in right or "!" in left[-1:] or right.startswith("="):
        return None
    first, second = _side(left), _side(right)
    if first is None or second is None:
        return None
    for (root, path), (kind, value) in ((first, second), (second, first)):
        if root == "async" and kind == "event":
            return path, value, None
        if root == "async" and kind == "literal":
            return path, None, value
    return None


@functools.lru_cache(maxsize=4096)
def shape_of(expression: str) -> Shape | None:
    """The indexable equality of a (valid CEL) expression, or None if it has none."""
    terms = _conjuncts(expression)
    if terms is None:
        return None
    for term in terms:
        equality = _equality(term)
        if equality is not None:
            path, source, literal = equality
            return Shape(path, source, literal, alone=len(terms) == 1)
    return None


def pause_key(expression: str | None, trigger_json: str) -> tuple[str, str] | None:
    """Where a pause with this expression, armed for a run with this trigger (JSON text), is
    indexed: `(path, value key)` of the incoming event's field it needs; None when it must be
    evaluated against every event of its name."""
    shape = None if expression is None else shape_of(expression)
    if shape is None:
        return None
    if shape.literal is not None:
        return shape.path, shape.literal
    assert shape.source is not None
    value = _key(_lookup(json.loads(trigger_json), shape.source))
    # A trigger field that is missing (the expression can never be true) or not a scalar is
    # left to evaluation, which knows what it means.
    return None if value is None else (shape.path, value)


def event_value_key(event: Mapping[str, Any], path: str) -> str | None:
    """The key of the incoming event's field at `path`; None if it has no scalar there."""
    return _key(_lookup(event, path))
