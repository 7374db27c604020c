"""Request time, no I/O: run one call of a function and decide the response.

Resume, don't replay: the op list is declared, so a call walks it once, folds memoised results
into `ctx.data` without calling their bodies, re-runs `run` blocks, and stops at the first
unfinished op. The per-spec work (hashing step ids, classifying bodies) happens once, in
`plan_for`.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import hashlib
import inspect
import traceback
from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

from inngest_dsl._context import Context
from inngest_dsl._durations import format_duration, format_instant, parse_instant
from inngest_dsl._event import Event
from inngest_dsl._spec import (
    Body,
    FunctionSpec,
    Op,
    RunOp,
    SleepOp,
    SleepUntilOp,
    StepOp,
    WaitForEventOp,
)
from inngest_dsl._wire import (
    CallRequest,
    CallResult,
    ErrorBody,
    Opcode,
    Userland,
    check_json,
)
from inngest_dsl.errors import EventError, NonRetriableError, RetryAfterError

__all__ = ["ExecutionPlan", "execute", "hash_step_id", "plan_for"]

"""Attempts per request when neither the request nor the function says (4 retries + 1)."""

# Kinds of planned op, compared by identity on the hot path.
_RUN, _STEP, _SLEEP, _SLEEP_UNTIL, _WAIT = range(5)
_WRAPPED_KEYS = frozenset(("data", "error"))
_ABSENT: Any = object()


def hash_step_id(pre_hash: str) -> str:
    """The wire id of a step: lowercase hex SHA-1 of `<id>` or `<id>:<repeat>`."""
    return hashlib.sha1(pre_hash.encode("utf-8")).hexdigest()


@frozen
class PlannedOp:
    """One declared op with everything a request needs precomputed."""

    op: Op
    kind: int
    user_id: str
    hashed: str
    index: int | None
    body: Body | None
    is_async: bool

    @property
    def userland(self) -> Userland:
        return Userland(id=self.user_id, index=self.index)


@frozen
class ExecutionPlan:
    """A spec's ops, hashed and classified once; `hashes` maps wire ids to positions."""

    spec: FunctionSpec
    ops: tuple[PlannedOp, ...]
    hashes: Mapping[str, int]
    rows: tuple[tuple[int, str, str, PlannedOp], ...] = field(init=False)

    @rows.default
    def _rows(self) -> tuple[tuple[int, str, str, PlannedOp], ...]:
        # What the walk reads for every op, unpacked from a tuple rather than looked up.
        return tuple((p.kind, p.hashed, p.user_id, p) for p in self.ops)


def _kind(op: Op) -> int:
    if isinstance(op, RunOp):
        return _RUN
    if isinstance(op, StepOp):
        return _STEP
    if isinstance(op, SleepOp):
        return _SLEEP
    if isinstance(op, SleepUntilOp):
        return _SLEEP_UNTIL
    return _WAIT


def plan_for(spec: FunctionSpec) -> ExecutionPlan:
    """The execution plan of `spec` (hashed ids, body kinds): build it once and keep it."""
    seen: dict[str, int] = {}
    planned: list[PlannedOp] = []
    hashes: dict[str, int] = {}
    for op in spec.ops:
        kind = _kind(op)
        body: Body | None = getattr(op, "body", None)
        hashed, index = "", None
        if kind != _RUN:
            # Repeats hash "<id>:1", "<id>:2", ... exactly as the official SDKs count them.
            count = seen.get(op.id, 0)
            seen[op.id] = count + 1
            index = count or None
            hashed = hash_step_id(f"{op.id}:{count}" if count else op.id)
            hashes[hashed] = len(planned)
        planned.append(
            PlannedOp(
                op=op,
                kind=kind,
                user_id=op.id,
                hashed=hashed,
                index=index,
                body=body,
                is_async=body is not None and inspect.iscoroutinefunction(body),
            )
        )
    return ExecutionPlan(spec=spec, ops=tuple(planned), hashes=hashes)




# ---------------------------------------------------------------------------------------------
# Results


def _error_body(exc: BaseException, code: str) -> ErrorBody:
    return ErrorBody(
        name=type(exc).__name__,
        message=str(exc),
        stack="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        code=code,
    )


def _retry_after(value: float | _dt.timedelta | _dt.datetime) -> str:
    if isinstance(value, _dt.datetime):
        return format_instant(value)
    seconds = value.total_seconds() if isinstance(value, _dt.timedelta) else float(value)
    return str(max(1, round(seconds)))


def _function_error(exc: Exception) -> CallResult:
    """A function-level failure: 500, retried unless the error says otherwise."""
    if isinstance(exc, NonRetriableError):
        return CallResult(500, _error_body(exc, "non_retriable_error"), no_retry=True)
    if isinstance(exc, RetryAfterError):
        return CallResult(
            500,
            _error_body(exc, "retry_after_error"),
            no_retry=False,
            retry_after=_retry_after(exc.retry_after),
        )
    return CallResult(500, _error_body(exc, "unknown"), no_retry=False)


def _failure(message: str, code: str, *, retry: bool, name: str = "Error") -> CallResult:
    return CallResult(500, ErrorBody(name=name, message=message, code=code), no_retry=not retry)


def _unserialisable(entry: PlannedOp, exc: Exception) -> CallResult:
    kind = "run" if entry.kind == _RUN else "step"
    return _failure(
        f"{kind} {entry.user_id!r} returned a value that is not JSON-serialisable: {exc}",
        "output_unserializable",
        retry=False,
    )


def _op(entry: PlannedOp, op: str, name: str, **fields: Any) -> Opcode:
    return Opcode(
        op=op,
        id=entry.hashed,
        name=name,
        display_name=entry.user_id,
        userland=entry.userland,
        **fields,
    )


# ---------------------------------------------------------------------------------------------
# Calling bodies


async def _call(entry: PlannedOp, instance: object, ctx: Context) -> Any:
    body = entry.body
    assert body is not None  # planned ops with a body kind always carry one
    if entry.is_async:
        return await body(instance, ctx)
    # Sync bodies may block (requests, time.sleep): keep them off the event loop.
    result = await asyncio.to_thread(body, instance, ctx)
    if inspect.isawaitable(result):
        result = await result
    return result


def _fold(data: dict[str, Any], key: str, value: Any) -> None:
    """DESIGN §2: a mapping merges, None adds nothing, anything else is stored under `key`."""
    if value is None:
        return
    if isinstance(value, Mapping):
        data.update(value)
    else:
        data[key] = value


def _wait_result(value: Any) -> Any:
    if isinstance(value, dict):
        try:
            return Event.from_wire(value)
        except EventError:
            return value
    return value


# ---------------------------------------------------------------------------------------------
# The walk


def _context(plan: ExecutionPlan, request: CallRequest, app_id: str) -> Context:
    ctx = request.ctx
    max_attempts = plan.spec.max_attempts if ctx.max_attempts is None else ctx.max_attempts
    return Context(
        event=request.event,
        events=request.events,
        data={},
        run_id=ctx.run_id,
        attempt=ctx.attempt,
        max_attempts=max_attempts,
        function_id=plan.spec.composite_id(app_id) if app_id else plan.spec.id,
    )


async def execute(
    plan: ExecutionPlan,
    request: CallRequest,
    *,
    target: str | None = None,
    app_id: str = "",
) -> CallResult:
    """Run one call request; `target` is the `stepId` query value (`None`/"step" = discovery).

    Never raises for anything user code or the request does: every outcome is a `CallResult`.
    """
    if target == "step":
        target = None
    if target is not None and target not in plan.hashes:
        return _failure(
            f"step {target!r} is not a step of function {plan.spec.id!r}; "
            "was the function changed while this run was in flight?",
            "step_not_found",
            retry=False,
        )
    ctx = _context(plan, request, app_id)
    data = ctx.data
    memo = request.steps
    instance: object = None
    for kind, hashed, user_id, entry in plan.rows:
        if kind == _RUN:
            if instance is None:
                instance = plan.spec.cls()
            try:
                result = await _call(entry, instance, ctx)
            except Exception as exc:
                return _function_error(exc)
            if result is not None:
                try:
                    check_json(result)
                except (TypeError, ValueError) as exc:
                    return _unserialisable(entry, exc)
                _fold(data, user_id, result)
            continue
        value = memo.get(hashed, _ABSENT)
        if value is _ABSENT:
            if instance is None:
                instance = plan.spec.cls()
            return await _pending(entry, plan, request, ctx, instance, target)
        if type(value) is dict and value.keys() <= _WRAPPED_KEYS:
            if value.get("error") is not None:
                return _memoised_failure(entry, value["error"])
            value = value.get("data")
        if kind == _STEP:
            # The hot path: memo values are plain JSON, so test exact types before the ABC.
            if type(value) is dict:
                data.update(value)
            elif value is not None:
                _fold(data, user_id, value)
        elif kind == _WAIT:
            data[user_id] = _wait_result(value)
        # Sleeps finish with a bare null and add nothing.
    return CallResult(200, data)


def _memoised_failure(entry: PlannedOp, error: Any) -> CallResult:
    """A step failed for good in an earlier request: the function fails, without retry."""
    fields = error if isinstance(error, dict) else {}
    name = fields.get("name")
    message = fields.get("message")
    stack = fields.get("stack")
    return CallResult(
        500,
        ErrorBody(
            name=name if isinstance(name, str) and name else "StepError",
            message=message if isinstance(message, str) else f"step {entry.user_id!r} failed",
            stack=stack if isinstance(stack, str) else None,
            code="step_errored",
        ),
        no_retry=True,
    )


async def _pending(
    entry: PlannedOp,
    plan: ExecutionPlan,
    request: CallRequest,
    ctx: Context,
    instance: object,
    target: str | None,
) -> CallResult:
    """The first unfinished op: run it (a step) or report it."""
    kind = entry.kind
    op = entry.op
    if target is not None and target != entry.hashed and target not in request.steps:
        return _failure(
            f"targeted step {target!r} is not the next unfinished op "
            f"(that is {entry.user_id!r}); the run's memo does not match this function",
            "step_unexpected",
            retry=False,
        )
    if kind == _STEP:
        targeted = target == entry.hashed
        if request.ctx.disable_immediate_execution and not targeted:
            return CallResult(206, [_op(entry, "StepPlanned", entry.user_id)])
        return await _run_step(entry, ctx, instance)
    if kind == _SLEEP:
        assert isinstance(op, SleepOp)
        duration = format_duration(op.duration)
        return CallResult(206, [_op(entry, "Sleep", duration, opts={"duration": duration})])
    if kind == _SLEEP_UNTIL:
        assert isinstance(op, SleepUntilOp)
        return await _sleep_until(entry, op, ctx, instance)
    assert isinstance(op, WaitForEventOp)
    opts: dict[str, Any] = {"event": op.event, "timeout": format_duration(op.timeout)}
    if op.if_ is not None:
        opts["if"] = op.if_
    return CallResult(206, [_op(entry, "WaitForEvent", op.event, opts=opts)])


async def _run_step(entry: PlannedOp, ctx: Context, instance: object) -> CallResult:
    try:
        result = await _call(entry, instance, ctx)
    except (NonRetriableError, RetryAfterError) as exc:
        # As the official SDK does: these decide the whole request's fate, not the step's.
        return _function_error(exc)
    except Exception as exc:
        assert ctx.max_attempts is not None  # `_context` always sets it
        op = "StepFailed" if ctx.attempt + 1 >= ctx.max_attempts else "StepError"
        error = _error_body(exc, "unknown")
        return CallResult(206, [_op(entry, op, entry.user_id, error=error)])
    try:
        check_json(result)
    except (TypeError, ValueError) as exc:
        return _unserialisable(entry, exc)
    return CallResult(206, [_op(entry, "StepRun", entry.user_id, data=result)])


async def _sleep_until(
    entry: PlannedOp, op: SleepUntilOp, ctx: Context, instance: object
) -> CallResult:
    at = op.at
    if at is None:
        try:
            returned = await _call(entry, instance, ctx)
        except Exception as exc:
            return _function_error(exc)
        try:
            at = parse_instant(returned)
        except (TypeError, ValueError) as exc:
            return _failure(
                f"sleep_until {entry.user_id!r} must return a datetime or an instant string: {exc}",
                "invalid_sleep_until",
                retry=False,
            )
    instant = format_instant(at)
    return CallResult(206, [_op(entry, "Sleep", instant, opts={"duration": instant})])
