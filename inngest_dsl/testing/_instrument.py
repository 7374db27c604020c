"""Watching a function's bodies during an in-process run, and replacing mocked steps.

Each function gets one instrumented copy of its spec (cached), whose bodies report to the run
in progress, found through a context variable: the engine runs sync bodies in worker threads
with a copy of the caller's context, so they see it too. Outside a test run the wrappers just
call the original bodies.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from inngest_dsl.spec._function import (
    Body,
    FunctionSpec,
    InvokeOp,
    Op,
    RunOp,
    SendEventOp,
    SleepUntilOp,
    StepOp,
)

if TYPE_CHECKING:
    from inngest_dsl.engine._context import Context

__all__ = ["NOT_MOCKED", "Observer", "current_observer", "instrumented"]

NOT_MOCKED: Any = object()
"""Returned by `Observer.mock` for a block whose real body should run."""


class Observer(Protocol):
    """What a run in progress is told about each body call."""

    def mock(self, index: int) -> Any:
        """The mocked result of block `index`, or `NOT_MOCKED`."""

    def started(self, index: int, ctx: Context, mocked: bool) -> None:
        """Block `index` is being called (or its mock used) with `ctx`."""

    def returned(self, index: int, value: Any) -> None:
        """Block `index` returned `value`."""

    def raised(self, index: int, exc: BaseException) -> None:
        """Block `index` raised `exc`."""


current_observer: contextvars.ContextVar[Observer | None] = contextvars.ContextVar(
    "inngest_dsl_testing_observer", default=None
)


def _outcome(observer: Observer, index: int, value: Any) -> Any:
    if isinstance(value, BaseException):
        # A mocked failure: the step raises it, as its body would have.
        observer.raised(index, value)
        raise value
    observer.returned(index, value)
    return value


def _wrap(body: Body, index: int) -> Body:
    if inspect.iscoroutinefunction(body):

        @functools.wraps(body)
        async def async_body(instance: Any, ctx: Context) -> Any:
            observer = current_observer.get()
            if observer is None:
                return await body(instance, ctx)
            mocked = observer.mock(index)
            observer.started(index, ctx, mocked is not NOT_MOCKED)
            if mocked is not NOT_MOCKED:
                return _outcome(observer, index, mocked)
            try:
                value = await body(instance, ctx)
            except BaseException as exc:
                observer.raised(index, exc)
                raise
            observer.returned(index, value)
            return value

        return async_body

    @functools.wraps(body)
    def sync_body(instance: Any, ctx: Context) -> Any:
        observer = current_observer.get()
        if observer is None:
            return body(instance, ctx)
        mocked = observer.mock(index)
        observer.started(index, ctx, mocked is not NOT_MOCKED)
        if mocked is not NOT_MOCKED:
            return _outcome(observer, index, mocked)
        try:
            value = body(instance, ctx)
        except BaseException as exc:
            observer.raised(index, exc)
            raise
        if inspect.isawaitable(value):
            return _finish_later(observer, index, value)
        observer.returned(index, value)
        return value

    return sync_body


async def _finish_later(observer: Observer, index: int, pending: Awaitable[Any]) -> Any:
    # A sync body that returned an awaitable: the engine awaits it on the loop.
    try:
        value = await pending
    except BaseException as exc:
        observer.raised(index, exc)
        raise
    observer.returned(index, value)
    return value


def _instrument_op(op: Op, index: int) -> Op:
    if isinstance(op, (RunOp, StepOp)):
        return attrs.evolve(op, body=_wrap(op.body, index))
    if isinstance(op, (SleepUntilOp, InvokeOp, SendEventOp)) and op.body is not None:
        return attrs.evolve(op, body=_wrap(op.body, index))
    return op


@functools.cache
def instrumented(spec: FunctionSpec) -> FunctionSpec:
    """`spec` with every body reporting to `current_observer`; same ops, same order."""
    ops = tuple(_instrument_op(op, index) for index, op in enumerate(spec.ops))
    return attrs.evolve(spec, ops=ops)

