"""CEL expressions (trigger filters, wait and cancel conditions), compiled once and cached.

The CEL library and its environment load on first use: building them takes longer than the
rest of `import inngest_dsl`, and most processes (a CLI call, an app with no expression) never
evaluate one.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

__all__ = [
    "cel_activation",
    "compile_expression",
    "expression_is_true",
    "expression_problem",
    "match_expression",
    "match_problem",
]


@functools.cache
def _environment() -> Any:
    import celpy

    return celpy.Environment()


def _numbers(a: Any, b: Any) -> bool:
    from celpy import celtypes

    kinds = (celtypes.IntType, celtypes.UintType, celtypes.DoubleType)
    return isinstance(a, kinds) and isinstance(b, kinds)


def _same(a: Any, b: Any) -> bool:
    """CEL equality with numbers equal across int and double, in lists and maps too; a
    `TypeError` where CEL has no such overload."""
    from celpy import celtypes

    if _numbers(a, b):
        return float(a) == float(b)
    if isinstance(a, celtypes.ListType) and isinstance(b, celtypes.ListType):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, celtypes.MapType) and isinstance(b, celtypes.MapType):
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    return bool(a == b)


@functools.cache
def _relations() -> dict[str, Any]:
    """CEL's comparison operators with numbers compared across int and double, as Inngest's
    CEL does (`1 == 1.0`, `10 > 9.99`, `[1] == [1.0]`, `1 in [1.0]`); anything else as the CEL
    library compares it."""
    import operator

    from celpy import celtypes
    from celpy.evaluation import base_functions

    def ordering(name: str, compare: Any) -> Any:
        default = base_functions[name]

        def apply(a: Any, b: Any) -> Any:
            if _numbers(a, b):
                return celtypes.BoolType(compare(float(a), float(b)))
            return default(a, b)

        return apply

    def equality(name: str, negate: bool) -> Any:
        default = base_functions[name]

        def apply(a: Any, b: Any) -> Any:
            try:
                return celtypes.BoolType(_same(a, b) != negate)
            except TypeError:
                return default(a, b)  # the library's own "no such overload"

        return apply

    default_in = base_functions["_in_"]

    def contains(item: Any, container: Any) -> Any:
        if isinstance(container, celtypes.ListType) and not isinstance(item, Exception):
            for candidate in container:
                try:
                    if _same(item, candidate):
                        return celtypes.BoolType(True)
                except TypeError:
                    continue
        return default_in(item, container)

    return {
        "_==_": equality("_==_", negate=False),
        "_!=_": equality("_!=_", negate=True),
        "_in_": contains,
        **{
            name: ordering(name, compare)
            for name, compare in (
                ("_<_", operator.lt),
                ("_<=_", operator.le),
                ("_>_", operator.gt),
                ("_>=_", operator.ge),
            )
        },
    }


def cel_activation(variables: Mapping[str, Any]) -> dict[str, Any]:
    """JSON `variables` as CEL values, every number a double: Inngest reads JSON numbers as
    doubles, so `event.data.price > 9.99` holds for `{"price": 10}`."""
    from celpy.adapter import json_to_cel

    return {name: json_to_cel(_doubles(value)) for name, value in variables.items()}


def _doubles(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, Mapping):
        return {key: _doubles(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_doubles(item) for item in value]
    return value


def match_expression(path: str) -> str:
    """`match="data.user_id"` as the condition Inngest evaluates: the trigger's field equals
    the incoming event's."""
    return f"event.{path} == async.{path}"


# An event's top-level fields: a `match=` path starts with one of them.
_EVENT_FIELDS = frozenset({"data", "user", "name", "id", "ts", "v"})


def match_problem(path: object) -> str | None:
    """What is wrong with `path` as a `match=` field path, if anything: it is read on both
    events from the top (`event.<path> == async.<path>`), so it must start at one of an
    event's fields, usually `data`; `match="user_id"` could never match anything."""
    if not isinstance(path, str) or not path.strip():
        return f"must be a field path such as 'data.user_id', got {path!r}"
    first = path.split(".", 1)[0].strip()
    if first not in _EVENT_FIELDS:
        return (
            f"{path!r} is no field of an event (a path starts at the event: "
            f"{', '.join(sorted(_EVENT_FIELDS))}); did you mean 'data.{path}'?"
        )
    return expression_problem(match_expression(path))


@functools.lru_cache(maxsize=4096)
def compile_expression(expression: str) -> Any:
    """A runnable program for `expression`; raises `ValueError` naming the syntax problem."""
    from celpy.celparser import CELParseError

    environment = _environment()
    try:
        return environment.program(environment.compile(expression), functions=_relations())
    except CELParseError as exc:
        where = f"line {exc.line}, column {exc.column}" if exc.line else "unknown position"
        raise ValueError(f"invalid expression {expression!r}: syntax error at {where}") from None
    except Exception as exc:  # celpy's other compile-time errors share no base class
        raise ValueError(f"invalid expression {expression!r}: {exc}") from None


def expression_problem(expression: object) -> str | None:
    """`None` if `expression` is a valid CEL expression, else a one-line problem."""
    if not isinstance(expression, str) or not expression.strip():
        return f"an expression must be a non-empty string, got {expression!r}"
    try:
        compile_expression(expression)
    except ValueError as exc:
        return str(exc)
    return None


def expression_is_true(expression: str, variables: Mapping[str, Any]) -> bool:
    """Whether `expression` is boolean true with these JSON `variables` bound.

    Raises `ValueError` if it does not compile; evaluation errors (a missing field,
    mismatched types) propagate as celpy raises them.
    """
    from celpy import celtypes

    program = compile_expression(expression)
    result = program.evaluate(cel_activation(variables))
    return isinstance(result, celtypes.BoolType) and bool(result)
