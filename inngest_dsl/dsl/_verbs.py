"""The class-body verbs: each declares one block of the function whose body calls it.

`run`, `step`, `sleep`, `sleep_until`, `wait_for_event`, `invoke`, `send_event`, `parallel` and
`on_failure` check what they are given and record it in the class body's namespace; problems
are recorded too, for the class statement to report all at once.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, cast, overload

import attrs

from inngest_dsl.dsl._function import InngestFunction
from inngest_dsl.dsl._recording import (
    Declarations,
    Deferred,
    ParallelGroup,
    check_message,
    declarations,
    decorator_verb,
)
from inngest_dsl.errors import EventError
from inngest_dsl.spec._durations import (
    format_duration,
    parse_duration,
    parse_instant,
    yearless_stamp,
)
from inngest_dsl.spec._event import D, Event, SendableEvents, to_events
from inngest_dsl.spec._event_types import event_name, name_of, type_of
from inngest_dsl.spec._expressions import match_expression, match_problem
from inngest_dsl.spec._function import (
    FunctionSpec,
    InvokeOp,
    SendEventOp,
    SleepOp,
    SleepUntilOp,
    WaitForEventOp,
)
from inngest_dsl.spec._handles import StepDecorator

__all__ = [
    "invoke",
    "on_failure",
    "parallel",
    "run",
    "send_event",
    "sleep",
    "sleep_until",
    "step",
    "wait_for_event",
]

F = TypeVar("F", bound=Callable[..., Any])
# A failure handler: `(self, ctx: Context, failure: Failure)`. Definition time names no
# request-time types; the arity is what a type checker can hold a handler to here.
H = TypeVar("H", bound=Callable[[Any, Any, Any], Any])

_NO_TIMEOUT = _dt.timedelta(0)


def run(
    message: str, *, id: str | None = None, log_every_request: bool = False
) -> Callable[[F], F]:
    """Declare a block that runs on every request reaching it (not memoised).

    Use as a decorator on a `(self, ctx)` method, sync or async. Its `ctx.logger` records
    appear once per run; `log_every_request=True` shows them on every request.
    """
    return decorator_verb("run", message, id, log_every_request=bool(log_every_request))


def step(message: str, *, id: str | None = None) -> StepDecorator:
    """Declare a memoised step: it runs once, its result is kept, and it is retried on its own.

    Use as a decorator on a `(self, ctx)` method, sync or async; its id is the message. A
    later block reads its result as `ctx[self.method]`, typed as the method's return type: an
    attrs instance (or a datetime, a dataclass, ...) comes back as one.
    """
    return cast(StepDecorator, decorator_verb("step", message, id))


def sleep(duration: str | _dt.timedelta, *, id: str | None = None) -> None:
    """Declare a pause of `duration` (`"30s"`, `"1h30m"`, `"1.5d"` or a `timedelta`)."""
    decl = declarations("sleep")
    try:
        delta = parse_duration(duration)
    except (TypeError, ValueError) as exc:
        decl.problems.append(f"sleep: {exc}")
        return
    if id is None:
        # Automatic ids may repeat; the wire hashes repeats as "<id>:1", "<id>:2", ...
        block_id = f"sleep {format_duration(delta)}"
    else:
        block_id = check_message(decl, "sleep", id, None)
    decl.items.append(SleepOp(id=block_id, duration=delta))


@overload
def sleep_until(
    message: str, *, at: str | _dt.datetime | _dt.date, id: str | None = None
) -> None: ...


@overload
def sleep_until(message: str, *, id: str | None = None) -> Callable[[F], F]: ...


def sleep_until(
    message: str,
    *,
    at: str | _dt.datetime | _dt.date | None = None,
    id: str | None = None,
) -> Callable[[F], F] | None:
    """Declare a pause until an instant.

    Either give the instant now, `sleep_until("launch", at="2027-01-01T09:00:00Z")`, or decorate
    a `(self, ctx)` method returning it (a `datetime` or a string in an accepted layout).
    """
    if at is None:
        return decorator_verb("sleep_until", message, id)
    decl = declarations("sleep_until")
    block_id = check_message(decl, "sleep_until", message, id)
    if yearless_stamp(at):
        # "Jan  2 15:04:05" is a different instant each year: read when the run reaches it.
        decl.items.append(SleepUntilOp(id=block_id, body=_stamp(str(at))))
        return None
    try:
        instant = parse_instant(at)
    except (TypeError, ValueError) as exc:
        decl.problems.append(f"sleep_until {block_id!r}: {exc}")
        return None
    decl.items.append(SleepUntilOp(id=block_id, at=instant))
    return None


def _stamp(text: str) -> Callable[[Any, Any], Any]:
    async def stamp(self: Any, ctx: Any) -> str:
        return text

    return stamp


@overload
def wait_for_event(
    event: type[D],
    *,
    timeout: str | _dt.timedelta | None = None,
    match: str | None = None,
    if_: str | None = None,
    id: str | None = None,
) -> WaitForEventOp[D]: ...


@overload
def wait_for_event(
    event: str,
    *,
    timeout: str | _dt.timedelta | None = None,
    match: str | None = None,
    if_: str | None = None,
    id: str | None = None,
) -> WaitForEventOp: ...


def wait_for_event(
    event: str | type[Any],
    *,
    timeout: str | _dt.timedelta | None = None,
    match: str | None = None,
    if_: str | None = None,
    id: str | None = None,
) -> WaitForEventOp[Any]:
    """Declare a wait for a later event named `event`, for at most `timeout`.

    `match="data.user_id"` pairs it with the triggering event on that field; `if_=` takes a
    full expression over `event` (the trigger) and `async` (the candidate). Returns a handle:
    `ctx[self.handle]` is the event, or `None` after a timeout. `event` may be an
    `@event_type` class: the event's data then arrives as an instance of it.
    """
    decl = declarations("wait_for_event")
    data_type = type_of(event)
    if isinstance(event, type) and data_type is None:
        decl.problems.append(
            f"wait_for_event: {event.__qualname__} is not an event type: decorate it with "
            "@event_type('app/some.event')"
        )
    event = name_of(event)
    if not isinstance(event, str) or not event.strip():
        decl.problems.append(
            f"wait_for_event: the event name must be a non-empty string, got {event!r}"
        )
        event = str(event)
    block_id = check_message(decl, "wait_for_event", event, id)
    where = f"wait_for_event {block_id!r}"
    delta = _NO_TIMEOUT
    if timeout is None:
        decl.problems.append(f"{where}: timeout= is required (e.g. timeout='1d')")
    else:
        try:
            delta = parse_duration(timeout)
        except (TypeError, ValueError) as exc:
            decl.problems.append(f"{where}: timeout: {exc}")
    expression = if_
    if match is not None and if_ is not None:
        decl.problems.append(f"{where}: give match= or if_=, not both")
    elif match is not None:
        problem = match_problem(match)
        if problem is not None:
            decl.problems.append(f"{where}: match= {problem}")
        else:
            expression = match_expression(match)
    op: WaitForEventOp[Any] = WaitForEventOp(
        id=block_id, event=event, timeout=delta, if_=expression, data_type=data_type
    )
    decl.items.append(op)
    return op


@overload
def on_failure(handler: H) -> H: ...


@overload
def on_failure() -> Callable[[H], H]: ...


def on_failure(handler: H | None = None) -> H | Callable[[H], H]:
    """Declare the method that runs after the function has failed for good (retries exhausted).

    Use as a decorator, `@on_failure` (or `@on_failure()`), once per class, on a
    `(self, ctx, failure)` method, sync or async; `failure` is a `Failure` (the failed run's
    event, its error as a `StepError`, its run id). Inngest runs it as a companion function,
    `<id>-failure`, which is not retried.
    """
    decl = declarations("on_failure")
    if handler is None:
        return lambda method: _failure_handler(decl, method)
    return _failure_handler(decl, handler)


def _failure_handler(decl: Declarations, handler: H) -> H:
    if isinstance(handler, str):
        decl.problems.append(
            "on_failure takes no message: write @on_failure above the method, "
            f"not @on_failure({handler!r})"
        )
        return _unchanged  # keeps the class body running
    name = getattr(handler, "__name__", repr(handler))
    if not callable(handler):
        decl.problems.append(f"on_failure: the decorated object is not callable: {handler!r}")
    elif decl.failure_handlers:
        first = getattr(decl.failure_handlers[0], "__name__", "?")
        decl.problems.append(
            f"on_failure: a function has one failure handler, got {first!r} and {name!r}"
        )
    else:
        try:
            inspect.signature(handler).bind(None, None, None)
        except TypeError:
            decl.problems.append(
                f"on_failure {name!r}: the method must take (self, ctx, failure)"
            )
        except ValueError:  # no signature to inspect (some builtins): trust the caller
            pass
        decl.failure_handlers.append(handler)
    return handler


def _unchanged(method: H) -> H:
    return method


def _json_problem(value: object) -> str | None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return str(exc)
    return None


def _callee(
    where: str, function: object, problems: list[str]
) -> tuple[str, bool, type | None]:
    """(function id, same app?, class) of an invoke target, or a problem."""
    if isinstance(function, str):
        if not function.strip():
            problems.append(f"{where}: function= must name a function, got {function!r}")
        return function, False, None
    spec = function if isinstance(function, FunctionSpec) else None
    if spec is None and isinstance(function, type) and issubclass(function, InngestFunction):
        spec = function.__inngest_spec__
    if spec is None:
        problems.append(
            f"{where}: function= must be a concrete InngestFunction class or a "
            f"'<app id>-<function id>' string, got {function!r}"
        )
        return str(function), True, None
    return spec.id, True, spec.cls


def invoke(
    message: str,
    *,
    function: type | FunctionSpec | str,
    data: Mapping[str, Any] | attrs.AttrsInstance | None = None,
    timeout: str | _dt.timedelta | None = None,
    id: str | None = None,
) -> Callable[[F], F]:
    """Declare a call of another function: it runs as its own run and this one waits for it.

    `function` is the callee's class (invoked in the same app) or its wire id
    `"<app id>-<function id>"`. The callee's trigger event carries `data` (plain form, a
    mapping or an instance of an `@event_type` class,
    `invoke("charge", function=Charge, data={...})`), or what a decorated `(self, ctx)` method
    returns (`@invoke("charge", function=Charge)`). Memoised: the callee's return value is
    folded into `ctx.data` like a step's; a failed callee (or `timeout` passing) fails this
    function as a failed step does.
    """
    decl = declarations("invoke")
    block_id = check_message(decl, "invoke", message, id)
    where = f"invoke {block_id!r}"
    function_id, same_app, callee = _callee(where, function, decl.problems)
    if data is not None and event_name(type(data)) is not None:
        from inngest_dsl.spec._payloads import unstructure  # cattrs, when first needed

        data = unstructure(data)  # a typed event's data: the callee's event carries its JSON
    if data is not None:
        if not isinstance(data, Mapping):
            decl.problems.append(f"{where}: data= must be a mapping, got {type(data).__name__}")
            data = None
        else:
            problem = _json_problem(dict(data))
            if problem is not None:
                decl.problems.append(f"{where}: data= is not JSON-serialisable: {problem}")
    delta = None
    if timeout is not None:
        try:
            delta = parse_duration(timeout)
        except (TypeError, ValueError) as exc:
            decl.problems.append(f"{where}: timeout: {exc}")
    op = InvokeOp(
        id=block_id,
        function_id=function_id,
        same_app=same_app,
        data=dict(data) if data is not None else None,
        timeout=delta,
        callee=callee,
    )
    deferred = Deferred(op, "invoke", static=None if data is None else "data=")
    decl.items.append(deferred)
    return deferred.attach


def _static_events(where: str, events: object, problems: list[str]) -> tuple[Event, ...] | None:
    try:
        return tuple(to_events(events))  # type: ignore[arg-type]  # checked by to_events
    except EventError as exc:
        problems.append(f"{where}: {exc}")
        return None


def send_event(
    message: str,
    *,
    events: SendableEvents | None = None,
    id: str | None = None,
) -> Callable[[F], F]:
    """Declare a memoised step that sends events exactly once.

    Decorate a `(self, ctx)` method returning an `Event`, a mapping, or a list of them, or
    give `events=` in the plain form. The events go through the serving `Inngest` client;
    those without an `id` get one derived from the run id and the step (so a retried send is
    deduplicated by the server: functions it triggers do not run twice). The block's result
    is the list of event ids, stored in `ctx.data` under the block id.
    """
    decl = declarations("send_event")
    block_id = check_message(decl, "send_event", message, id)
    where = f"send_event {block_id!r}"
    static = None if events is None else _static_events(where, events, decl.problems)
    deferred = Deferred(
        SendEventOp(id=block_id, events=static),
        "send_event",
        static=None if events is None else "events=",
        required="events=",
    )
    decl.items.append(deferred)
    if callable(message):  # a bare `@send_event`: reported once, by check_message
        return cast(Callable[[F], F], deferred.attach(message))
    return deferred.attach


def parallel(
    message: str, *, id: str | None = None, mode: Literal["wait", "race"] = "wait"
) -> ParallelGroup:
    """Declare a group of memoised blocks that run side by side; use it as `with parallel(...):`.

    When the run reaches the group, every unfinished block in it is reported at once and runs
    in its own request; the run goes on once all have finished, with their results folded
    into `ctx.data` in declaration order. Each block sees `ctx.data` as it was before the
    group. Groups cannot be nested, hold no `run` blocks, and their steps cannot use
    `ctx.step`.

    `mode="race"`: the run goes on as soon as the first block finishes, with only that
    block's result folded in (a failure if it failed); the others still run to their end,
    but their results are not used (Inngest's `parallelMode: "race"`).
    """
    decl = declarations("parallel")
    block_id = id if id is not None else message
    if not isinstance(block_id, str) or not block_id.strip():
        decl.problems.append(f"parallel: the message must be a non-empty string, got {block_id!r}")
        block_id = str(block_id)
    if mode not in ("wait", "race"):
        decl.problems.append(f"parallel {block_id!r}: mode= must be 'wait' or 'race', got {mode!r}")
    group = ParallelGroup(decl, block_id, race=mode == "race")
    decl.groups.append(group)
    return group
