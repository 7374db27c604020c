"""Evaluating a function's flow control expressions over a run's first event.

Every limit is counted per key: the key expression's value (CEL over `event`) inside a
namespace (the function, or the whole server for `env`/`account` concurrency scopes). An
expression that cannot be evaluated for an event (a missing field...) leaves that option off
for the run, with a warning in the log, so a bad key never blocks work forever.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
from collections.abc import Mapping
from typing import Any

import attrs

from inngest_dsl.devserver.core.flow import IDEMPOTENCY_PERIOD, FlowControl, Window
from inngest_dsl.devserver.core.matching import evaluate, evaluate_key, evaluate_value
from inngest_dsl.devserver.core.protocol import canonical
from inngest_dsl.spec import _durations, _limits

__all__ = [
    "RunShape",
    "StartLimit",
    "ThrottleGate",
    "batch_key",
    "batches_event",
    "debounce_key",
    "gates_of",
    "shape_run",
    "start_limits",
]

log = logging.getLogger("inngest_dsl.devserver")


def _key(
    function_id: str, option: str, expression: str | None, event: Mapping[str, Any]
) -> str | None:
    """The key text, or None when the expression fails (the option is then not applied)."""
    if expression is None:
        return ""
    try:
        return evaluate_key(expression, event)
    except ValueError as exc:
        log.warning("%s of %s: cannot evaluate the key %s", option, function_id, exc)
        return None


@attrs.frozen
class ThrottleGate:
    """A run's throttle: the bucket key and its GCRA parameters."""

    key: str
    limit: int
    period: float
    capacity: int


@attrs.frozen
class RunShape:
    """What flow control decided for a new run, from its first event."""

    priority: int = 0
    concurrency: tuple[tuple[str, int], ...] = ()
    throttle: ThrottleGate | None = None
    singleton: str | None = None

    @property
    def flow_json(self) -> str | None:
        """The gates as stored with the run (None when its calls are never gated)."""
        if not self.concurrency and self.throttle is None:
            return None
        value: dict[str, Any] = {}
        if self.concurrency:
            value["concurrency"] = [list(pair) for pair in self.concurrency]
        if self.throttle is not None:
            value["throttle"] = attrs.asdict(self.throttle)
        return canonical(value)


def gates_of(flow_json: str | None) -> tuple[tuple[tuple[str, int], ...], ThrottleGate | None]:
    """The concurrency keys and throttle of a run, from its stored `flow_json`."""
    if flow_json is None:
        return (), None
    value = json.loads(flow_json)
    concurrency = tuple((str(key), int(limit)) for key, limit in value.get("concurrency", ()))
    throttle = value.get("throttle")
    return concurrency, ThrottleGate(**throttle) if throttle else None


def _priority(function_id: str, expression: str, event: Mapping[str, Any]) -> int:
    try:
        value = evaluate_value(expression, {"event": event})
    except ValueError as exc:
        log.warning("priority of %s: cannot evaluate %s", function_id, exc)
        return 0
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, float) and not math.isfinite(value))
    ):
        log.warning("priority of %s: %r is not a number of seconds", function_id, value)
        return 0
    return _limits.clamp_priority(int(value))


def shape_run(function_id: str, flow: FlowControl, event: Mapping[str, Any]) -> RunShape:
    """Priority, concurrency keys, throttle and singleton key of a run triggered by `event`."""
    if not flow.shapes_runs:
        return RunShape()
    concurrency = []
    for limit in flow.concurrency:
        value = _key(function_id, "concurrency", limit.key, event)
        if value is None:
            continue
        namespace = function_id if limit.scope == "fn" else ""
        concurrency.append((canonical([limit.scope, namespace, value]), limit.limit))
    throttle = None
    if flow.throttle is not None:
        value = _key(function_id, "throttle", flow.throttle.key, event)
        if value is not None:
            window = flow.throttle
            throttle = ThrottleGate(
                canonical(["throttle", function_id, value]),
                window.limit,
                window.period,
                window.limit + window.burst,
            )
    singleton = None
    if flow.singleton is not None:
        value = _key(function_id, "singleton", flow.singleton.key, event)
        if value is not None:
            singleton = canonical(["singleton", function_id, value])
    priority = 0 if flow.priority is None else _priority(function_id, flow.priority, event)
    return RunShape(priority, tuple(concurrency), throttle, singleton)


@attrs.frozen
class StartLimit:
    """A limit a new run must pass to start (a rate limit, or idempotency as 1 per 24h)."""

    bucket: str
    """The limiter key: option, function and key value."""
    window: Window
    name: str
    """`"idempotency"` or `"rate limit"`."""
    value: str
    """The key expression's value for this event ("" without a key)."""

    @property
    def refusal(self) -> str:
        """Why a run over this limit is skipped, as shown with the run."""
        if self.name == "idempotency":
            return (
                f"idempotency: duplicate of an earlier event with idempotency key {self.value!r}"
            )
        window = self.window
        period = _durations.format_duration(datetime.timedelta(seconds=window.period))
        reason = f"rate limit: over {window.limit} per {period}"
        if window.key:
            reason += f" for the key {self.value!r} ({window.key})"
        return reason


def start_limits(function_id: str, flow: FlowControl, event: Mapping[str, Any]) -> list[StartLimit]:
    """The limits a new run must pass, idempotency first (its key value names the duplicate)."""
    limits = []
    if flow.idempotency is not None:
        value = _key(function_id, "idempotency", flow.idempotency, event)
        if value is not None:
            window = Window(1, IDEMPOTENCY_PERIOD, 0, flow.idempotency)
            bucket = canonical(["idempotency", function_id, value])
            limits.append(StartLimit(bucket, window, "idempotency", value))
    if flow.rate_limit is not None:
        value = _key(function_id, "rateLimit", flow.rate_limit.key, event)
        if value is not None:
            bucket = canonical(["rateLimit", function_id, value])
            limits.append(StartLimit(bucket, flow.rate_limit, "rate limit", value))
    return limits


def debounce_key(function_id: str, flow: FlowControl, event: Mapping[str, Any]) -> str | None:
    """The debounce key value of `event` ("" without a key; None if it cannot be evaluated)."""
    assert flow.debounce is not None
    return _key(function_id, "debounce", flow.debounce.key, event)


def batch_key(function_id: str, flow: FlowControl, event: Mapping[str, Any]) -> str | None:
    """The batch key value of `event` ("" without a key; None if it cannot be evaluated)."""
    assert flow.batch is not None
    return _key(function_id, "batchEvents", flow.batch.key, event)


def batches_event(flow: FlowControl, event: Mapping[str, Any]) -> bool:
    """Whether `event` joins a batch: batching is on and its `if` (if any) is true."""
    if flow.batch is None:
        return False
    condition = flow.batch.condition
    return condition is None or evaluate(condition, {"event": event})
