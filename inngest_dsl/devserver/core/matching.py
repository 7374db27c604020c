"""Which functions an event triggers, and which waits and cancellations it satisfies.

Expressions are CEL (cel-python), compiled once per text and cached. Variables: `event` (the
candidate for triggers; the run's triggering event for waits and cancellations) and `async`
(the candidate event for waits and cancellations). Both are bound at evaluation time instead
of substituting `event.*` literals into the text, which gives the same result.
An expression that fails to evaluate (a missing field, mismatched types) does not match.

An event reaches only the pauses it can match: those indexed under the value its fields have
(`pause_index`), where a hit on a plain equality needs no evaluation, and those that could not
be indexed, each distinct expression evaluated once per event.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from celpy import celtypes

from inngest_dsl.devserver.core.pause_index import event_value_key, shape_of
from inngest_dsl.devserver.core.protocol import canonical
from inngest_dsl.devserver.store.pauses import PauseTable
from inngest_dsl.devserver.store.records import PauseRecord
from inngest_dsl.spec._durations import parse_duration
from inngest_dsl.spec._expressions import (
    cel_activation,
    compile_expression,
    expression_is_true,
)

__all__ = [
    "ExpressionError",
    "TriggerIndex",
    "check_expression",
    "evaluate",
    "evaluate_key",
    "evaluate_value",
    "matching_pauses",
    "trigger_names",
]


class ExpressionError(ValueError):
    """A CEL expression that does not compile."""


def _program(expression: str) -> Any:
    try:
        return compile_expression(expression)
    except ValueError as exc:
        raise ExpressionError(str(exc)) from None


def check_expression(expression: str) -> None:
    """Raise `ExpressionError` unless the expression compiles."""
    _program(expression)


def evaluate(expression: str, variables: Mapping[str, Any]) -> bool:
    """True iff the expression evaluates to boolean true with these JSON variables."""
    try:
        return expression_is_true(expression, variables)
    except Exception:
        return False


def _plain(value: Any) -> Any:
    """A CEL result as plain JSON-like Python (integral doubles become ints)."""
    if isinstance(value, Exception):
        raise ValueError(str(value.args[0] if value.args else value))
    if value is None or isinstance(value, celtypes.BoolType):
        return None if value is None else bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        number = float(value)
        return int(number) if number.is_integer() else number
    if isinstance(value, str):
        return str(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    return str(value)


def evaluate_value(expression: str, variables: Mapping[str, Any]) -> Any:
    """The value of an expression (a key, a priority) with these JSON variables bound.

    Raises `ValueError` when it does not compile or cannot be evaluated (a missing field...).
    """
    program = _program(expression)
    try:
        result = program.evaluate(cel_activation(variables))
    except Exception as exc:
        raise ValueError(f"{expression!r}: {exc.args[0] if exc.args else exc}") from None
    return _plain(result)


def evaluate_key(expression: str, event: Mapping[str, Any]) -> str:
    """A key expression's value over `event`, as text (strings as-is, other values as JSON)."""
    value = evaluate_value(expression, {"event": event})
    return value if isinstance(value, str) else canonical(value)


@attrs.frozen
class _Trigger:
    function_id: str
    expression: str | None


def trigger_names(trigger: str, name: str) -> bool:
    """Whether an event trigger on `trigger` (a name, or a prefix ending in `*`) is for events
    named `name`; `TriggerIndex` applies the same rule through its index."""
    return name == trigger or (trigger.endswith("*") and name.startswith(trigger[:-1]))


class TriggerIndex:
    """Event triggers of all registered functions, indexed by event name."""

    def __init__(self, functions: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
        """`functions` yields `(function id, FunctionConfig)` pairs."""
        self._exact: dict[str, list[_Trigger]] = {}
        self._wildcards: list[tuple[str, _Trigger]] = []
        self.crons: list[tuple[str, str]] = []
        self.jitters: dict[tuple[str, str], float] = {}
        for function_id, config in functions:
            for trigger in config.get("triggers") or ():
                if trigger.get("cron"):
                    key = (function_id, str(trigger["cron"]))
                    self.crons.append(key)
                    if trigger.get("jitter"):
                        self.jitters[key] = parse_duration(trigger["jitter"]).total_seconds()
                    continue
                name = trigger.get("event")
                if not isinstance(name, str) or not name:
                    continue
                entry = _Trigger(function_id, trigger.get("expression") or None)
                if name.endswith("*"):
                    self._wildcards.append((name[:-1], entry))
                else:
                    self._exact.setdefault(name, []).append(entry)

    def match(self, event: Mapping[str, Any]) -> list[str]:
        """Ids of the functions this event starts (each at most once, in a stable order)."""
        name = event.get("name", "")
        candidates = list(self._exact.get(name, ()))
        candidates.extend(entry for prefix, entry in self._wildcards if name.startswith(prefix))
        matched: list[str] = []
        for entry in candidates:
            if entry.function_id in matched:
                continue
            if entry.expression is None or evaluate(entry.expression, {"event": event}):
                matched.append(entry.function_id)
        return matched


_MENTIONS_EVENT = re.compile(r"\bevent\b")


def matching_pauses(pauses: PauseTable, event: Mapping[str, Any]) -> list[PauseRecord]:
    """The waits and cancellations `event` satisfies, in the order they were armed."""
    name = str(event.get("name", ""))
    candidates: list[tuple[PauseRecord, bool]] = []  # (pause, matched without evaluating)
    for path in pauses.pause_paths(name):
        if path is None:
            candidates.extend((pause, False) for pause in pauses.unindexed_pauses(name))
            continue
        key = event_value_key(event, path)
        if key is None:
            continue
        for pause in pauses.indexed_pauses(name, path, key):
            shape = shape_of(pause.expression) if pause.expression else None
            candidates.append((pause, shape is not None and shape.alone))
    candidates.sort(key=lambda candidate: candidate[0].id)
    verdicts: dict[tuple[str, str], bool] = {}
    matched: list[PauseRecord] = []
    for pause, known in candidates:
        expression = pause.expression
        if not known and expression:
            # Pauses of one step share their expression, and their trigger when it is read.
            trigger = pause.trigger_json if _MENTIONS_EVENT.search(expression) else ""
            verdict = verdicts.get((expression, trigger))
            if verdict is None:
                variables = {"event": json.loads(pause.trigger_json), "async": event}
                verdict = verdicts[expression, trigger] = evaluate(expression, variables)
            if not verdict:
                continue
        matched.append(pause)
    return matched
