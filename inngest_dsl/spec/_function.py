"""The compiled description of a function: what the class body declared, frozen.

A `FunctionSpec` is built once, when the class is created, and never changes. It carries no wire
concerns: the registration JSON and the opcodes are derived from it elsewhere.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic

from attrs import field, frozen

from inngest_dsl.errors import NotAFunctionError
from inngest_dsl.spec._event import D
from inngest_dsl.spec._options import FunctionOptions

if TYPE_CHECKING:
    from inngest_dsl.spec._event import Event

__all__ = [
    "DEFAULT_RETRIES",
    "Body",
    "CronTrigger",
    "EventTrigger",
    "FailureHandler",
    "FunctionSpec",
    "InvokeOp",
    "Op",
    "ParallelOp",
    "RunOp",
    "SendEventOp",
    "SleepOp",
    "SleepUntilOp",
    "StepOp",
    "Trigger",
    "WaitForEventOp",
    "spec_of",
]

DEFAULT_RETRIES = 4
"""Retries Inngest gives a function that does not set `retries`."""

# The spec describes; it does not run anything, so it names no request-time types: `ctx` is
# the engine's `Context`, `failure` its `Failure`.
Body = Callable[[Any, Any], Any | Awaitable[Any]]
"""A block's body: a method taking `(self, ctx)`, sync or async."""

FailureHandler = Callable[[Any, Any, Any], Any | Awaitable[Any]]
"""An `@on_failure` method: `(self, ctx, failure)`, sync or async."""


@frozen
class EventTrigger:
    """Run on every event named `event` (wildcards like `app/*` allowed) matching `expression`.

    One of a function's triggers, in a `triggers=[...]` class keyword:
    `EventTrigger("shop/order.paid", expression="event.data.total > 100")`. `event` may be an
    `@event_type` class; in a compiled spec it is the name, and `data_type` the class.
    """

    event: str | type[Any]
    expression: str | None = None
    data_type: type[Any] | None = field(default=None, kw_only=True, eq=False, repr=False)


@frozen
class CronTrigger:
    """Run on a cron schedule (5 fields, optional `TZ=` / `CRON_TZ=` prefix).

    `jitter` (1s to 5m, a time string or `timedelta`) delays each run by a random amount up to
    it after the fire time, so many schedules on the same minute do not start at once. In a
    compiled spec it is a `timedelta`.
    """

    cron: str
    jitter: _dt.timedelta | str | None = None


Trigger = EventTrigger | CronTrigger


@frozen
class RunOp:
    """`@run`: re-runs on every request that reaches it; never memoised, no wire op.

    `log_every_request`: its `ctx.logger` records appear on every request, not once a run.
    """

    id: str
    body: Body = field(repr=False)
    log_every_request: bool = False

    @property
    def memoised(self) -> bool:
        return False


@frozen
class StepOp:
    """`@step`: runs once, memoised; reported as `StepRun` / `StepPlanned` / `StepError`."""

    id: str
    body: Body = field(repr=False)

    @property
    def memoised(self) -> bool:
        return True


@frozen
class SleepOp:
    """`sleep(duration)`: pauses the run for a fixed duration."""

    id: str
    duration: _dt.timedelta

    @property
    def memoised(self) -> bool:
        return True


@frozen
class SleepUntilOp:
    """`sleep_until`: pauses until a fixed instant (`at`) or one computed by `body`."""

    id: str
    at: _dt.datetime | None = None
    body: Body | None = field(default=None, repr=False)

    @property
    def memoised(self) -> bool:
        return True


@frozen
class WaitForEventOp(Generic[D]):
    """`wait_for_event`: pauses until a later matching event arrives, or `timeout` passes.

    The value returned by `wait_for_event(...)` in the class body; use it as a key,
    `ctx[self.confirmed]`, to read the event (or `None` on timeout). Waiting for an
    `@event_type` class, `data_type` is that class and the event's data arrives as one.
    """

    id: str
    event: str
    timeout: _dt.timedelta
    if_: str | None = None
    data_type: type[Any] | None = field(default=None, kw_only=True, eq=False, repr=False)

    @property
    def memoised(self) -> bool:
        return True


@frozen
class InvokeOp:
    """`invoke`: runs another function with a payload and waits for its result.

    `function_id` is the callee's own id when `same_app` (the wire id is then built with the
    serving app's id), else its full `<app_id>-<fn id>`; `callee` is the callee's class when
    one was given. The payload is `data`, or what `body` returns; `timeout` bounds the wait
    (`None`: the server's default of one year).
    """

    id: str
    function_id: str
    same_app: bool = True
    data: Mapping[str, Any] | None = field(default=None, hash=False)
    timeout: _dt.timedelta | None = None
    body: Body | None = field(default=None, repr=False)
    callee: type | None = field(default=None, repr=False)

    @property
    def memoised(self) -> bool:
        return True

    def composite_id(self, app_id: str) -> str:
        """The callee's wire id when served by app `app_id`."""
        if self.same_app and app_id:
            return f"{app_id}-{self.function_id}"
        return self.function_id


@frozen
class SendEventOp:
    """`send_event`: sends `events` (or what `body` returns) exactly once, as a memoised step."""

    id: str
    events: tuple[Event, ...] | None = field(default=None, hash=False)
    body: Body | None = field(default=None, repr=False)

    @property
    def memoised(self) -> bool:
        return True


@frozen
class ParallelOp:
    """`with parallel(...)`: the `size` ops declared right after it run side by side.

    A marker, not a block: it has no wire op of its own. When the walk reaches it, every
    unfinished member is reported in one response and each runs in its own request. With
    `race`, the first member to finish wins: its result is the group's, the others' are
    dropped, and the server asks for a discovery after each completion (`parallelMode`).
    """

    id: str
    size: int
    race: bool = False

    @property
    def memoised(self) -> bool:
        return False


Op = (
    RunOp
    | StepOp
    | SleepOp
    | SleepUntilOp
    | WaitForEventOp
    | InvokeOp
    | SendEventOp
    | ParallelOp
)


@frozen
class FunctionSpec(FunctionOptions):
    """Everything a function class declared, validated.

    `id` is the function's own id (the wire id is `<app_id>-<id>`); `ops` are its blocks in
    declaration order, inherited ones first; `retries` is `None` for the server default.

    The options (the fields of its base, `FunctionOptions`) are as validated: durations are
    `timedelta`s, a `Cancel`'s `match` is already turned into its `if_`, `concurrency` and
    `cancel_on` are tuples (empty when not set).
    `on_failure` is the `@on_failure` method, if any; `middleware` the function's own
    `Middleware` objects (`middleware=[...]`), which run after the client's.
    """

    id: str
    name: str
    triggers: tuple[Trigger, ...]
    ops: tuple[Op, ...]
    cls: type = field(repr=False)
    retries: int | None = None
    description: str | None = None
    on_failure: FailureHandler | None = field(default=None, repr=False)
    middleware: tuple[Any, ...] = field(default=(), repr=False, eq=False)

    @property
    def max_attempts(self) -> int:
        """Attempts per step or request: the retries plus the first try (Inngest's default 5)."""
        return (DEFAULT_RETRIES if self.retries is None else self.retries) + 1

    def composite_id(self, app_id: str) -> str:
        """The id Inngest knows the function by: `<app_id>-<id>`."""
        return f"{app_id}-{self.id}"


def spec_of(cls: type) -> FunctionSpec:
    """The compiled `FunctionSpec` of a concrete function class; `NotAFunctionError` (a
    `TypeError`) for anything else."""
    spec = getattr(cls, "__inngest_spec__", None)
    if not isinstance(spec, FunctionSpec):
        # Every InngestFunction class has the attribute: `None` on an abstract one.
        kind = "abstract" if isinstance(cls, type) and hasattr(cls, "__inngest_spec__") else "not"
        raise NotAFunctionError(
            f"{getattr(cls, '__qualname__', cls)!r} is {kind} a concrete InngestFunction "
            "and has no spec"
        )
    return spec
