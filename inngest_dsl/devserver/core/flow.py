"""Flow control options of a FunctionConfig (§5.2), parsed and validated once per sync.

`parse_flow(config)` turns `concurrency`, `throttle`, `rateLimit`, `idempotency`, `debounce`,
`batchEvents`, `priority`, `timeouts` and `singleton` into a frozen `FlowControl` with
durations in seconds; it raises `FlowConfigError` naming the field when one is malformed. The
executor and the scheduler read only these records, never the raw JSON.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from inngest_dsl.devserver.core.matching import ExpressionError, check_expression
from inngest_dsl.spec import _durations, _limits

__all__ = [
    "Batching",
    "ConcurrencyLimit",
    "Debounce",
    "FlowConfigError",
    "FlowControl",
    "Singleton",
    "Window",
    "parse_flow",
]

SCOPES = ("fn", "env", "account")
SINGLETON_MODES = ("skip", "cancel")
IDEMPOTENCY_PERIOD = _limits.IDEMPOTENCY_PERIOD / datetime.timedelta(seconds=1)


class FlowConfigError(ValueError):
    """A flow control option the dev server refuses; the message names the field."""


@attrs.frozen
class ConcurrencyLimit:
    """At most `limit` calls in flight per value of `key` (CEL over `event`), within `scope`."""

    limit: int
    key: str | None
    scope: str


@attrs.frozen
class Window:
    """`limit` run starts per `period` seconds (plus `burst` at once, for throttles), per key."""

    limit: int
    period: float
    burst: int
    key: str | None


@attrs.frozen
class Debounce:
    """Run once `period` seconds after the last event of a burst (per key), at most `timeout`
    seconds after its first event."""

    period: float
    key: str | None
    timeout: float | None


@attrs.frozen
class Batching:
    """Hand up to `max_size` events (per key, those passing `condition`) to one run, flushing a
    partial batch `timeout` seconds after it opened."""

    max_size: int
    timeout: float
    key: str | None
    condition: str | None


@attrs.frozen
class Singleton:
    """At most one queued or running run per key: a new one is skipped, or replaces it."""

    mode: str
    key: str | None


@attrs.frozen
class FlowControl:
    """Every flow control option of one function; the defaults mean "none"."""

    concurrency: tuple[ConcurrencyLimit, ...] = ()
    throttle: Window | None = None
    rate_limit: Window | None = None
    idempotency: str | None = None
    debounce: Debounce | None = None
    batch: Batching | None = None
    priority: str | None = None
    start_timeout: float | None = None
    finish_timeout: float | None = None
    singleton: Singleton | None = None

    @property
    def gates_calls(self) -> bool:
        """Whether calls of this function's runs wait for concurrency or throttle capacity."""
        return bool(self.concurrency) or self.throttle is not None

    @property
    def shapes_runs(self) -> bool:
        """Whether anything decides per run (keys, priority, timeouts, singleton)."""
        return (
            self.gates_calls
            or self.priority is not None
            or self.start_timeout is not None
            or self.finish_timeout is not None
            or self.singleton is not None
        )


NO_FLOW = FlowControl()


def _seconds(
    value: Any,
    where: str,
    *,
    go_only: bool = False,
    bounds: _limits.DurationRange | None = None,
) -> float:
    if isinstance(value, bool) or not isinstance(value, str) or not value.strip():
        raise FlowConfigError(f"{where}: must be a duration string like '30s' or '1h'")
    if go_only and any(unit in value for unit in ("d", "w")):
        raise FlowConfigError(
            f"{where}: {value!r} uses days or weeks, which this field does not accept "
            "(use hours, e.g. '48h')"
        )
    try:
        delta = _durations.parse_duration(value)
    except ValueError as exc:
        raise FlowConfigError(f"{where}: {exc}") from None
    problem = None if bounds is None else bounds.problem(delta)
    if problem is not None:
        raise FlowConfigError(f"{where}: {problem}, got {value!r}")
    return delta / datetime.timedelta(seconds=1)


def _int(value: Any, where: str, *, minimum: int, maximum: int | None = None) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, float) and not (math.isfinite(value) and value.is_integer()))
    ):
        raise FlowConfigError(f"{where}: must be an integer")
    if value < minimum:
        raise FlowConfigError(f"{where}: must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise FlowConfigError(f"{where}: must be at most {maximum}")
    return int(value)


def _expression(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise FlowConfigError(f"{where}: must be a CEL expression string")
    try:
        check_expression(value)
    except ExpressionError as exc:
        raise FlowConfigError(f"{where}: {exc}") from None
    return value


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise FlowConfigError(f"{where}: must be an object")
    return value


def _concurrency(value: Any) -> tuple[ConcurrencyLimit, ...]:
    if value is None:
        return ()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [{"limit": value}]
    elif isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise FlowConfigError("concurrency: must be a number, an object or a list of objects")
    if len(value) > _limits.MAX_CONCURRENCY_LIMITS:
        raise FlowConfigError(
            f"concurrency: at most {_limits.MAX_CONCURRENCY_LIMITS} limits, got {len(value)}"
        )
    limits = []
    for index, raw in enumerate(value):
        where = f"concurrency[{index}]"
        entry = _object(raw, where)
        limit = _int(entry.get("limit"), f"{where}.limit", minimum=0)
        scope = entry.get("scope") or "fn"
        if scope not in SCOPES:
            raise FlowConfigError(f"{where}.scope: must be one of {', '.join(SCOPES)}")
        key = _expression(entry.get("key"), f"{where}.key")
        if scope != "fn" and key is None:
            raise FlowConfigError(f"{where}.key: required when the scope is {scope!r}")
        if limit > 0:  # 0 means "no limit"
            limits.append(ConcurrencyLimit(limit, key, scope))
    return tuple(limits)


def _window(value: Any, where: str, *, throttle: bool) -> Window | None:
    if value is None:
        return None
    entry = _object(value, where)
    limit = _int(entry.get("limit"), f"{where}.limit", minimum=1)
    bounds = _limits.THROTTLE_PERIOD if throttle else _limits.RATE_LIMIT_PERIOD
    period = _seconds(entry.get("period"), f"{where}.period", bounds=bounds)
    # Capacity is `limit + burst`. Inngest reads an omitted or zero burst as 1 (its
    # Throttle.UnmarshalJSON), as the SDKs' default is: so `limit + 1` start at once.
    burst = 0
    if throttle:
        given = entry.get("burst")
        burst = 1 if given is None else max(1, _int(given, f"{where}.burst", minimum=0))
    return Window(limit, period, burst, _expression(entry.get("key"), f"{where}.key"))


def _debounce(value: Any) -> Debounce | None:
    if value is None:
        return None
    entry = _object(value, "debounce")
    period = _seconds(entry.get("period"), "debounce.period", bounds=_limits.DEBOUNCE_PERIOD)
    timeout = None
    if entry.get("timeout") is not None:
        timeout = _seconds(entry.get("timeout"), "debounce.timeout")
    return Debounce(period, _expression(entry.get("key"), "debounce.key"), timeout)


def _batch(value: Any) -> Batching | None:
    if value is None:
        return None
    entry = _object(value, "batchEvents")
    max_size = _int(
        entry.get("maxSize"),
        "batchEvents.maxSize",
        minimum=_limits.MIN_BATCH_SIZE,
        maximum=_limits.MAX_BATCH_SIZE,
    )
    timeout = _seconds(
        entry.get("timeout"), "batchEvents.timeout", go_only=True, bounds=_limits.BATCH_TIMEOUT
    )
    return Batching(
        max_size,
        timeout,
        _expression(entry.get("key"), "batchEvents.key"),
        _expression(entry.get("if"), "batchEvents.if"),
    )


def _timeouts(value: Any) -> tuple[float | None, float | None]:
    if value is None:
        return None, None
    entry = _object(value, "timeouts")
    start = entry.get("start")
    finish = entry.get("finish")
    return (
        None if start is None else _seconds(start, "timeouts.start"),
        None if finish is None else _seconds(finish, "timeouts.finish"),
    )


def _singleton(value: Any) -> Singleton | None:
    if value is None:
        return None
    entry = _object(value, "singleton")
    mode = entry.get("mode")
    if mode not in SINGLETON_MODES:
        raise FlowConfigError(f"singleton.mode: must be one of {', '.join(SINGLETON_MODES)}")
    return Singleton(str(mode), _expression(entry.get("key"), "singleton.key"))


def _priority(value: Any) -> str | None:
    if value is None:
        return None
    entry = _object(value, "priority")
    return _expression(entry.get("run"), "priority.run")


def _refuse_combinations(config: Mapping[str, Any], flow: FlowControl) -> None:
    # As the Inngest server does: a batch run has no single event to key these on.
    if flow.batch is None:
        return
    clashes = [
        name
        for name, present in (
            ("cancel", bool(config.get("cancel"))),
            ("debounce", flow.debounce is not None),
            ("singleton", flow.singleton is not None),
            ("priority", flow.priority is not None),
        )
        if present
    ]
    if clashes:
        raise FlowConfigError(f"batchEvents: cannot be combined with {', '.join(clashes)}")


def parse_flow(config: Mapping[str, Any]) -> FlowControl:
    """The flow control options of a FunctionConfig; raises `FlowConfigError`."""
    idempotency = config.get("idempotency")
    if idempotency is not None and not isinstance(idempotency, str):
        raise FlowConfigError("idempotency: must be a CEL expression string")
    start, finish = _timeouts(config.get("timeouts"))
    flow = FlowControl(
        concurrency=_concurrency(config.get("concurrency")),
        throttle=_window(config.get("throttle"), "throttle", throttle=True),
        rate_limit=_window(config.get("rateLimit"), "rateLimit", throttle=False),
        idempotency=_expression(idempotency, "idempotency"),
        debounce=_debounce(config.get("debounce")),
        batch=_batch(config.get("batchEvents")),
        priority=_priority(config.get("priority")),
        start_timeout=start,
        finish_timeout=finish,
        singleton=_singleton(config.get("singleton")),
    )
    _refuse_combinations(config, flow)
    return NO_FLOW if flow == NO_FLOW else flow
