"""Function options (PROTOCOL §5.2): the class keywords checked as the server would check
them, and normalised for the spec (durations as `timedelta`s, a `Cancel`'s `match` as `if_`).

Every problem is recorded, not raised, so the class statement reports them all at once.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

import attrs

from inngest_dsl.spec._durations import format_duration, parse_duration
from inngest_dsl.spec._expressions import expression_problem, match_expression
from inngest_dsl.spec._limits import (
    DEBOUNCE_PERIOD,
    MAX_BATCH_SIZE,
    MAX_CANCELS,
    MAX_CONCURRENCY_LIMITS,
    MIN_BATCH_SIZE,
    RATE_LIMIT_PERIOD,
    SDK_MIN_DURATION,
    THROTTLE_PERIOD,
)
from inngest_dsl.spec._options import (
    Batch,
    Cancel,
    Concurrency,
    Debounce,
    Priority,
    RateLimit,
    Singleton,
    Throttle,
    Timeouts,
)

__all__ = ["OPTION_KEYWORDS", "compile_options"]

OPTION_KEYWORDS = (
    "concurrency",
    "throttle",
    "rate_limit",
    "debounce",
    "batch_events",
    "cancel_on",
    "priority",
    "idempotency",
    "timeouts",
    "singleton",
)
"""The class keywords that set function options, in the order they are checked."""


class _Checks:
    """Small checks that record a problem and return `None` instead of raising."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def whole(self, where: str, value: object, minimum: int, maximum: int | None = None) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(where, f"must be a whole number, got {value!r}")
        elif value < minimum or (maximum is not None and value > maximum):
            bounds = f"at least {minimum}" if maximum is None else f"{minimum}..{maximum}"
            self.add(where, f"must be {bounds}, got {value}")

    def duration(
        self, where: str, value: object, maximum: _dt.timedelta | None = None
    ) -> _dt.timedelta | None:
        try:
            delta = parse_duration(value)  # type: ignore[arg-type]  # parse_duration checks
        except (TypeError, ValueError) as exc:
            self.add(where, str(exc))
            return None
        if delta < SDK_MIN_DURATION or (maximum is not None and delta > maximum):
            bounds = "at least 1s"
            if maximum is not None:
                bounds = f"between 1s and {format_duration(maximum)}"
            self.add(where, f"must be {bounds}, got {value!r}")
            return None
        return delta

    def expression(self, where: str, value: object) -> None:
        if value is not None:
            problem = expression_problem(value)
            if problem is not None:
                self.add(where, problem)

    def instance(self, where: str, value: object, kind: type, example: str) -> bool:
        if isinstance(value, kind):
            return True
        self.add(where, f"expected {example}, got {value!r}")
        return False


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _concurrency(checks: _Checks, value: object) -> tuple[Concurrency, ...]:
    if value is None:
        return ()
    items = _as_list(value)
    if len(items) > MAX_CONCURRENCY_LIMITS:
        checks.add("concurrency=", f"at most {MAX_CONCURRENCY_LIMITS} limits, got {len(items)}")
    limits: list[Concurrency] = []
    for index, item in enumerate(items):
        where = "concurrency=" if len(items) == 1 else f"concurrency=[{index}]"
        if isinstance(item, int) and not isinstance(item, bool):
            item = Concurrency(limit=item)
        if not checks.instance(where, item, Concurrency, "a limit such as 2 or Concurrency(...)"):
            continue
        assert isinstance(item, Concurrency)
        checks.whole(f"{where} limit", item.limit, 0)
        checks.expression(f"{where} key", item.key)
        if item.scope not in (None, "fn", "env", "account"):
            checks.add(f"{where} scope", f"must be 'fn', 'env' or 'account', got {item.scope!r}")
        elif item.scope in ("env", "account") and item.key is None:
            checks.add(
                f"{where} scope",
                f"a limit shared across functions (scope={item.scope!r}) needs a key=",
            )
        limits.append(item)
    return tuple(limits)


def _throttle(checks: _Checks, value: object) -> Throttle | None:
    if value is None or not checks.instance("throttle=", value, Throttle, "Throttle(...)"):
        return None
    assert isinstance(value, Throttle)
    checks.whole("throttle= limit", value.limit, 1)
    checks.whole("throttle= burst", value.burst, 1)
    checks.expression("throttle= key", value.key)
    period = checks.duration("throttle= period", value.period, THROTTLE_PERIOD.maximum)
    return None if period is None else attrs.evolve(value, period=period)


def _rate_limit(checks: _Checks, value: object) -> RateLimit | None:
    if value is None or not checks.instance("rate_limit=", value, RateLimit, "RateLimit(...)"):
        return None
    assert isinstance(value, RateLimit)
    checks.whole("rate_limit= limit", value.limit, 1)
    checks.expression("rate_limit= key", value.key)
    period = checks.duration("rate_limit= period", value.period, RATE_LIMIT_PERIOD.maximum)
    return None if period is None else attrs.evolve(value, period=period)


def _debounce(checks: _Checks, value: object) -> Debounce | None:
    if value is None or not checks.instance("debounce=", value, Debounce, "Debounce(...)"):
        return None
    assert isinstance(value, Debounce)
    checks.expression("debounce= key", value.key)
    period = checks.duration("debounce= period", value.period, DEBOUNCE_PERIOD.maximum)
    timeout = None
    if value.timeout is not None:
        timeout = checks.duration("debounce= timeout", value.timeout)
        if timeout is None:
            return None
    return None if period is None else attrs.evolve(value, period=period, timeout=timeout)


def _batch(checks: _Checks, value: object) -> Batch | None:
    if value is None or not checks.instance("batch_events=", value, Batch, "Batch(...)"):
        return None
    assert isinstance(value, Batch)
    checks.whole("batch_events= max_size", value.max_size, MIN_BATCH_SIZE, MAX_BATCH_SIZE)
    checks.expression("batch_events= key", value.key)
    checks.expression("batch_events= if_", value.if_)
    timeout = checks.duration("batch_events= timeout", value.timeout)
    return None if timeout is None else attrs.evolve(value, timeout=timeout)


def _cancel(checks: _Checks, value: object) -> tuple[Cancel, ...]:
    if value is None:
        return ()
    items = _as_list(value)
    if len(items) > MAX_CANCELS:
        checks.add("cancel_on=", f"at most {MAX_CANCELS} cancellation events, got {len(items)}")
    cancels: list[Cancel] = []
    for index, item in enumerate(items):
        where = "cancel_on=" if len(items) == 1 else f"cancel_on=[{index}]"
        if isinstance(item, str):
            item = Cancel(event=item)
        if not checks.instance(where, item, Cancel, "an event name or Cancel(...)"):
            continue
        assert isinstance(item, Cancel)
        if not isinstance(item.event, str) or not item.event.strip():
            checks.add(f"{where} event", f"must be a non-empty event name, got {item.event!r}")
        condition, source = item.if_, "if_"
        if item.match is not None and item.if_ is not None:
            checks.add(where, "give match= or if_=, not both")
        elif item.match is not None:
            if not isinstance(item.match, str) or not item.match.strip():
                checks.add(f"{where} match", "must be a field path such as 'data.cart_id'")
            else:
                condition, source = match_expression(item.match), "match"
        checks.expression(f"{where} {source}", condition)
        timeout = None
        if item.timeout is not None:
            timeout = checks.duration(f"{where} timeout", item.timeout)
        cancels.append(Cancel(event=item.event, if_=condition, timeout=timeout))
    return tuple(cancels)


def _priority(checks: _Checks, value: object) -> Priority | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = Priority(run=value)
    if not checks.instance("priority=", value, Priority, "an expression or Priority(run=...)"):
        return None
    assert isinstance(value, Priority)
    checks.expression("priority= run", value.run)
    return value


def _idempotency(checks: _Checks, value: object) -> str | None:
    if value is None or not checks.instance("idempotency=", value, str, "an expression"):
        return None
    checks.expression("idempotency=", value)
    return str(value)


def _timeouts(checks: _Checks, value: object) -> Timeouts | None:
    if value is None or not checks.instance("timeouts=", value, Timeouts, "Timeouts(...)"):
        return None
    assert isinstance(value, Timeouts)
    if value.start is None and value.finish is None:
        checks.add("timeouts=", "give start=, finish= or both")
        return None
    start = finish = None
    if value.start is not None:
        start = checks.duration("timeouts= start", value.start)
    if value.finish is not None:
        finish = checks.duration("timeouts= finish", value.finish)
    return Timeouts(start=start, finish=finish)


def _singleton(checks: _Checks, value: object) -> Singleton | None:
    if value is None or not checks.instance("singleton=", value, Singleton, "Singleton(...)"):
        return None
    assert isinstance(value, Singleton)
    if value.mode not in ("skip", "cancel"):
        checks.add("singleton= mode", f"must be 'skip' or 'cancel', got {value.mode!r}")
    checks.expression("singleton= key", value.key)
    return value


# Options the server refuses alongside batching, with its reason.
_NOT_WITH_BATCH = {
    "cancel_on": "batching and cancellation are mutually exclusive",
    "debounce": "batching and debouncing are mutually exclusive",
    "singleton": "batching and singleton runs are mutually exclusive",
    "priority": "a batch has no single event to compute a priority from",
}


def compile_options(problems: list[str], options: Mapping[str, object]) -> dict[str, Any]:
    """The `FunctionSpec` fields for these option keywords; problems go to `problems`."""
    checks = _Checks(problems)
    compiled: dict[str, Any] = {
        "concurrency": _concurrency(checks, options.get("concurrency")),
        "throttle": _throttle(checks, options.get("throttle")),
        "rate_limit": _rate_limit(checks, options.get("rate_limit")),
        "debounce": _debounce(checks, options.get("debounce")),
        "batch_events": _batch(checks, options.get("batch_events")),
        "cancel_on": _cancel(checks, options.get("cancel_on")),
        "priority": _priority(checks, options.get("priority")),
        "idempotency": _idempotency(checks, options.get("idempotency")),
        "timeouts": _timeouts(checks, options.get("timeouts")),
        "singleton": _singleton(checks, options.get("singleton")),
    }
    if options.get("batch_events") is not None:
        for keyword, reason in _NOT_WITH_BATCH.items():
            if options.get(keyword) not in (None, (), []):
                problems.append(f"batch_events= cannot be combined with {keyword}=: {reason}")
    return compiled
