"""CEL expressions (trigger filters, wait and cancel conditions), compiled once and cached.

The CEL library and its environment load on first use: building them takes longer than the
rest of `import inngest_dsl`, and most processes (a CLI call, an app with no expression) never
evaluate one.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

__all__ = ["compile_expression", "expression_is_true", "expression_problem", "match_expression"]


@functools.cache
def _environment() -> Any:
    import celpy

    return celpy.Environment()


def match_expression(path: str) -> str:
    """`match="data.user_id"` as the condition Inngest evaluates: the trigger's field equals
    the incoming event's."""
    return f"event.{path} == async.{path}"


@functools.lru_cache(maxsize=4096)
def compile_expression(expression: str) -> Any:
    """A runnable program for `expression`; raises `ValueError` naming the syntax problem."""
    from celpy.celparser import CELParseError

    environment = _environment()
    try:
        return environment.program(environment.compile(expression))
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
    from celpy.adapter import json_to_cel

    program = compile_expression(expression)
    result = program.evaluate({name: json_to_cel(value) for name, value in variables.items()})
    return isinstance(result, celtypes.BoolType) and bool(result)
