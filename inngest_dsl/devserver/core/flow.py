"""Flow control options of a FunctionConfig (§5.2), parsed and validated once per sync.

A registration's options are read into the SDK's own option classes (`parse_options`, through
the wire's hooks and the same rules the SDK checks with: one description of each option);
`FlowConfigError` names the malformed field. `flow_of` derives from them the frozen
`FlowControl` the executor and the scheduler read, with durations in seconds, never the raw
JSON; `parse_flow(config)` does both.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import attrs

from inngest_dsl.spec import _limits
from inngest_dsl.spec._options import FunctionOptions
from inngest_dsl.wire._options import OptionError, options_from_wire

__all__ = [
    "Batching",
    "ConcurrencyLimit",
    "Debounce",
    "FlowConfigError",
    "FlowControl",
    "Singleton",
    "Window",
    "flow_of",
    "parse_flow",
    "parse_options",
]

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


def _seconds(value: datetime.timedelta) -> float:
    return value / datetime.timedelta(seconds=1)


def _maybe_seconds(value: datetime.timedelta | None) -> float | None:
    return None if value is None else _seconds(value)


def parse_options(config: Mapping[str, Any]) -> FunctionOptions:
    """The options of a FunctionConfig in the SDK's own classes; raises `FlowConfigError`."""
    try:
        return options_from_wire(config)
    except OptionError as exc:
        raise FlowConfigError(str(exc)) from None


def flow_of(options: FunctionOptions) -> FlowControl:
    """The flow control records of parsed options, with durations in seconds."""
    throttle, rate_limit, debounce, batch = (
        options.throttle, options.rate_limit, options.debounce, options.batch_events
    )
    timeouts = options.timeouts
    flow = FlowControl(
        concurrency=tuple(
            ConcurrencyLimit(c.limit, c.key, c.scope or "fn")
            for c in options.concurrency
            if c.limit > 0  # 0 means "no limit"
        ),
        throttle=None if throttle is None else Window(
            throttle.limit, _seconds(throttle.period), throttle.burst, throttle.key
        ),
        rate_limit=None if rate_limit is None else Window(
            rate_limit.limit, _seconds(rate_limit.period), 0, rate_limit.key
        ),
        idempotency=options.idempotency,
        debounce=None if debounce is None else Debounce(
            _seconds(debounce.period), debounce.key, _maybe_seconds(debounce.timeout)
        ),
        batch=None if batch is None else Batching(
            batch.max_size, _seconds(batch.timeout), batch.key, batch.if_
        ),
        priority=None if options.priority is None else options.priority.run,
        start_timeout=None if timeouts is None else _maybe_seconds(timeouts.start),
        finish_timeout=None if timeouts is None else _maybe_seconds(timeouts.finish),
        singleton=None if options.singleton is None else Singleton(
            options.singleton.mode, options.singleton.key
        ),
    )  # fmt: skip
    return NO_FLOW if flow == NO_FLOW else flow


def parse_flow(config: Mapping[str, Any]) -> FlowControl:
    """The flow control options of a FunctionConfig; raises `FlowConfigError`."""
    return flow_of(parse_options(config))
