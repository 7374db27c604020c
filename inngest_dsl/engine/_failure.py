"""Failure handlers: what an `@on_failure` method receives, and the function that calls it.

Inngest knows nothing of failure handlers: SDKs register a companion function,
`<composite id>-failure`, triggered by the `inngest/function.failed` event the server emits
when a run of the watched function fails for good (PROTOCOL §8.6-8.7). Here the companion is
an ordinary `FunctionSpec` with one `run` block, so the engine runs it like any function.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from inngest_dsl.errors import EventError, NonRetriableError, StepError
from inngest_dsl.spec._event import Event
from inngest_dsl.spec._function import (
    Body,
    EventTrigger,
    FailureHandler,
    FunctionSpec,
    RunOp,
    spec_of,
)

if TYPE_CHECKING:
    from inngest_dsl.engine._context import Context

__all__ = [
    "FAILED_EVENT",
    "FAILURE_SUFFIX",
    "Failure",
    "failure_problem",
    "failure_spec",
    "is_failure_spec",
    "with_failure_specs",
]

FAILED_EVENT = "inngest/function.failed"
"""The event Inngest emits when a run fails for good."""

FAILURE_SUFFIX = "-failure"
"""Appended to a function's id to make its failure handler's id."""

_MARK = "__inngest_failure_runner__"


@frozen
class Failure:
    """A run that failed for good, as its `@on_failure` handler sees it.

    `event` is the failed run's triggering event (`events` all of them, for a batch); `error`
    is the error it failed with, a `StepError` carrying the wire error's `name`, `message` and
    `stack`, to log or re-raise; `function_id` is the failed function's wire id.
    """

    event: Event
    events: tuple[Event, ...]
    error: StepError = field(eq=False)
    run_id: str = ""
    function_id: str = ""

    @classmethod
    def from_event(cls, failed: Event) -> Failure:
        """Read an `inngest/function.failed` event; raises `ValueError` naming what is wrong."""
        where = f"the {failed.name!r} event"
        data = failed.data
        error = data.get("error")
        if not isinstance(error, Mapping):
            raise ValueError(
                f"{where} has no data.error object (got {error!r}); "
                f"a failure handler runs on {FAILED_EVENT!r} events sent by Inngest"
            )
        try:
            event = Event.from_wire(data.get("event"))  # type: ignore[arg-type]  # checked
            events_raw = data.get("events")
            events = (
                tuple(Event.from_wire(item) for item in events_raw)
                if isinstance(events_raw, list) and events_raw
                else (event,)
            )
        except EventError as exc:
            raise ValueError(f"{where}: data.event / data.events: {exc}") from None
        name, message, stack = error.get("name"), error.get("message"), error.get("stack")
        run_id, function_id = data.get("run_id"), data.get("function_id")
        return cls(
            event=event,
            events=events,
            error=StepError(
                message if isinstance(message, str) else "",
                name=name if isinstance(name, str) and name else "Error",
                stack=stack if isinstance(stack, str) else None,
            ),
            run_id=run_id if isinstance(run_id, str) else "",
            function_id=function_id if isinstance(function_id, str) else "",
        )


def failure_problem(event: Event) -> str | None:
    """`None` if `event` can be handed to a failure handler, else what is wrong with it."""
    try:
        Failure.from_event(event)
    except ValueError as exc:
        return str(exc)
    return None


def _failure_of(ctx: Context) -> Failure:
    try:
        return Failure.from_event(ctx.event)
    except ValueError as exc:
        # Retrying cannot fix the event; fail the handler's run now.
        raise NonRetriableError(str(exc)) from None


def _runner(handler: FailureHandler) -> Body:
    """A `run` block body that builds the `Failure` and calls `handler` with it."""
    if inspect.iscoroutinefunction(handler):

        async def run_async(instance: Any, ctx: Context) -> Any:
            return await handler(instance, ctx, _failure_of(ctx))

        runner: Body = run_async
    else:

        def run_sync(instance: Any, ctx: Context) -> Any:
            return handler(instance, ctx, _failure_of(ctx))

        runner = run_sync
    name = getattr(handler, "__name__", "on_failure")
    runner.__name__ = name
    runner.__qualname__ = getattr(handler, "__qualname__", name)
    setattr(runner, _MARK, True)
    return runner


def _quoted(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def failure_spec(function: type | FunctionSpec, app_id: str = "") -> FunctionSpec:
    """The companion function that runs `function`'s `@on_failure` handler in app `app_id`.

    Served automatically next to its function; pass it to `inngest_dsl.testing.run_function`
    with an `inngest/function.failed` event to test a handler. Without `app_id` the watched
    id is the function's own id, as in the testing kit. Raises `TypeError` if `function` has
    no handler.
    """
    spec = function if isinstance(function, FunctionSpec) else spec_of(function)
    if spec.on_failure is None:
        raise TypeError(f"{spec.cls.__qualname__} has no @on_failure handler")
    watched = spec.composite_id(app_id) if app_id else spec.id
    runner = _runner(spec.on_failure)
    return FunctionSpec(
        id=f"{spec.id}{FAILURE_SUFFIX}",
        name=f"{spec.name} (failure)",
        triggers=(
            EventTrigger(
                event=FAILED_EVENT, expression=f"event.data.function_id == {_quoted(watched)}"
            ),
        ),
        ops=(RunOp(id=runner.__name__, body=runner),),
        cls=spec.cls,
        retries=0,
        middleware=spec.middleware,  # the function's middleware wraps its handler too
    )


def is_failure_spec(spec: FunctionSpec) -> bool:
    """Whether `spec` is a companion made by `failure_spec`."""
    return len(spec.ops) == 1 and getattr(getattr(spec.ops[0], "body", None), _MARK, False)


def with_failure_specs(specs: Iterable[FunctionSpec], app_id: str) -> tuple[FunctionSpec, ...]:
    """`specs`, each followed by its failure handler's companion if it has one."""
    expanded: list[FunctionSpec] = []
    for spec in specs:
        expanded.append(spec)
        if spec.on_failure is not None:
            expanded.append(failure_spec(spec, app_id))
    return tuple(expanded)
