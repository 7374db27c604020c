"""Run a function in-process: the real engine, driven call by call as the executor would.

PROTOCOL §8 is the model: `StepRun` memoises `{"data"}`, `StepError` repeats the call with the
next attempt, `StepFailed` memoises `{"error"}`, `StepPlanned` is followed by a targeted call,
`Sleep` finishes at once in virtual time, `WaitForEvent` resumes with the event the test
scripted, and failed requests are retried until the attempts run out. Nothing sleeps, nothing
touches the network.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from ulid import ULID

from inngest_dsl._dsl import spec_of
from inngest_dsl._durations import format_instant, parse_instant
from inngest_dsl._event import Event
from inngest_dsl._execution import ExecutionPlan, execute, plan_for
from inngest_dsl._expressions import expression_is_true
from inngest_dsl._spec import (
    CronTrigger,
    EventTrigger,
    FunctionSpec,
    RunOp,
    SleepOp,
    SleepUntilOp,
    StepOp,
    WaitForEventOp,
)
from inngest_dsl._testing_instrument import NOT_MOCKED, current_observer, instrumented
from inngest_dsl._testing_result import ErrorInfo, OpKind, RunResult, RunStatus, TraceOp
from inngest_dsl._wire import CallContext, CallRequest, CallResult, ErrorBody, Opcode, dumps
from inngest_dsl.errors import EventError, InngestError

if TYPE_CHECKING:
    from inngest_dsl._context import Context

__all__ = [
    "DEFAULT_MAX_CALLS",
    "EventLike",
    "RunFunctionError",
    "run_function",
    "run_function_sync",
]

DEFAULT_MAX_CALLS = 1000
"""Calls to the engine after which a run is declared runaway."""

EventLike = Event | Mapping[str, Any]
"""An `Event`, or a mapping with its fields (`name`, `data`, `user`, `id`, `ts`, `v`)."""

_EVENT_FIELDS = frozenset({"name", "data", "user", "id", "ts", "v"})
_KINDS: dict[type, OpKind] = {
    RunOp: "run",
    StepOp: "step",
    SleepOp: "sleep",
    SleepUntilOp: "sleep_until",
    WaitForEventOp: "wait_for_event",
}


class RunFunctionError(InngestError):
    """`run_function` cannot drive the run as asked: a wait with no scripted event, a mock for
    a block that does not exist, a run that never ends, an input that is not valid."""


# ---------------------------------------------------------------------------------------------
# Inputs


def _json_round_trip(value: Any, where: str) -> Any:
    """`value` as it arrives on the other side of the wire (tuples become lists, ...)."""
    try:
        return json.loads(dumps(value))
    except (TypeError, ValueError) as exc:
        raise RunFunctionError(f"{where} is not JSON-serialisable: {exc}") from None


def _to_event(value: object, where: str, default_name: str | None = None) -> Event:
    if isinstance(value, Event):
        wire: Mapping[str, Any] = value.to_wire()
    elif isinstance(value, Mapping):
        unknown = sorted(str(key) for key in set(value) - _EVENT_FIELDS)
        if unknown:
            raise RunFunctionError(
                f"{where}: unknown event field(s) {', '.join(unknown)}; "
                f"an event has {', '.join(sorted(_EVENT_FIELDS))}"
            )
        wire = value if "name" in value or default_name is None else {**value, "name": default_name}
        if "name" not in wire:
            raise RunFunctionError(f"{where}: the event has no name")
    else:
        raise RunFunctionError(
            f"{where} must be an Event or a mapping such as "
            f"{{'name': 'app/thing.happened', 'data': {{...}}}}, got {type(value).__name__}"
        )
    try:
        # As the function would receive it: through JSON. Reserved `inngest/...` names are
        # allowed, since the server sends those too.
        return Event.from_wire(_json_round_trip(dict(wire), where))
    except EventError as exc:
        raise RunFunctionError(f"{where}: {exc}") from None


def _default_event(spec: FunctionSpec, now: _dt.datetime) -> Event:
    for trigger in spec.triggers:
        if isinstance(trigger, EventTrigger) and "*" not in trigger.event:
            return Event.from_wire({"name": trigger.event, "data": {}})
        if isinstance(trigger, CronTrigger):
            at = format_instant(now)
            return Event.from_wire(
                {
                    "name": "inngest/scheduled.timer",
                    "id": at,
                    "data": {"cron": trigger.cron, "scheduledAt": at, "fireAt": at},
                    "ts": int(now.timestamp() * 1000),
                }
            )
    raise RunFunctionError(
        f"function {spec.id!r} has no trigger to make a default event from; pass event="
    )


def _block_indexes(spec: FunctionSpec) -> dict[str, list[int]]:
    indexes: dict[str, list[int]] = {}
    for index, op in enumerate(spec.ops):
        indexes.setdefault(op.id, []).append(index)
    return indexes


def _mocks(spec: FunctionSpec, steps: Mapping[str, Any] | None) -> dict[int, Any]:
    if not steps:
        return {}
    indexes = _block_indexes(spec)
    mockable = [op.id for op in spec.ops if getattr(op, "body", None) is not None]
    mocks: dict[int, Any] = {}
    for key, value in steps.items():
        block_id = key.id if isinstance(key, (RunOp, StepOp, SleepUntilOp)) else key
        found = [i for i in indexes.get(block_id, ()) if spec.ops[i].id in mockable]
        if not found:
            if any(isinstance(spec.ops[i], WaitForEventOp) for i in indexes.get(block_id, ())):
                hint = f"; {block_id!r} is a wait: script it with waits={{{block_id!r}: ...}}"
            else:
                hint = ""
            raise RunFunctionError(
                f"steps= mocks {block_id!r}, which is not a block with a body of function "
                f"{spec.id!r}; blocks that can be mocked: "
                f"{', '.join(map(repr, mockable)) or 'none'}{hint}"
            )
        for index in found:
            mocks[index] = value
    return mocks


def _waits(spec: FunctionSpec, waits: Mapping[Any, Any] | None) -> dict[str, Any]:
    wait_ids = [op.id for op in spec.ops if isinstance(op, WaitForEventOp)]
    scripted: dict[str, Any] = {}
    for key, value in (waits or {}).items():
        wait_id = key.id if isinstance(key, WaitForEventOp) else key
        if wait_id not in wait_ids:
            raise RunFunctionError(
                f"waits= scripts {wait_id!r}, which is not a wait_for_event of function "
                f"{spec.id!r}; its waits: {', '.join(map(repr, wait_ids)) or 'none'}"
            )
        scripted[wait_id] = value
    return scripted


def _start_time(now: _dt.datetime | str | None) -> _dt.datetime:
    if now is None:
        return parse_instant(_dt.datetime.now(_dt.timezone.utc))
    try:
        return parse_instant(now)
    except (TypeError, ValueError) as exc:
        raise RunFunctionError(f"now=: {exc}") from None


# ---------------------------------------------------------------------------------------------
# The run in progress


@attrs.define
class _Entry:
    kind: OpKind
    id: str
    data: Any = None
    attempts: int = 0
    error: ErrorInfo | None = None
    errors: list[ErrorInfo] = attrs.field(factory=list)
    mocked: bool = False
    at: _dt.datetime | None = None

    def frozen(self) -> TraceOp:
        return TraceOp(
            kind=self.kind,
            id=self.id,
            data=self.data,
            attempts=self.attempts,
            error=self.error,
            errors=tuple(self.errors),
            mocked=self.mocked,
            at=self.at,
        )


def _code_of(error: object) -> str | None:
    return error.code if isinstance(error, ErrorBody) else None


def _error_info(error: object) -> ErrorInfo:
    if isinstance(error, ErrorBody):
        return ErrorInfo(name=error.name, message=error.message, stack=error.stack)
    if isinstance(error, Mapping):
        return ErrorInfo(
            name=str(error.get("name") or "Error"),
            message=str(error.get("message") or ""),
            stack=error.get("stack") if isinstance(error.get("stack"), str) else None,
        )
    return ErrorInfo(name="Error", message=repr(error))


class _Run:
    """One run: its memo, virtual clock and trace; also the observer of its bodies."""

    def __init__(
        self,
        spec: FunctionSpec,
        plan: ExecutionPlan,
        mocks: dict[int, Any],
        waits: dict[str, Any],
        clock: _dt.datetime,
    ) -> None:
        self.spec = spec
        self.plan = plan
        self.mocks = mocks
        self.waits = waits
        self.clock = clock
        self.memo: dict[str, Any] = {}
        self.stack: list[str] = []
        self.sleeps: list[_dt.timedelta] = []
        self.entries: dict[int, _Entry] = {}
        self.last_ctx: Context | None = None
        self.raised_in_call: int | None = None
        self.started_in_call: int | None = None

    # -- Observer --------------------------------------------------------------------------

    def entry(self, index: int) -> _Entry:
        entry = self.entries.get(index)
        if entry is None:
            op = self.spec.ops[index]
            entry = self.entries[index] = _Entry(kind=_KINDS[type(op)], id=op.id)
        return entry

    def mock(self, index: int) -> Any:
        return self.mocks.get(index, NOT_MOCKED)

    def started(self, index: int, ctx: Context, mocked: bool) -> None:
        entry = self.entry(index)
        entry.attempts += 1
        entry.mocked = entry.mocked or mocked
        self.last_ctx = ctx
        self.started_in_call = index

    def returned(self, index: int, value: Any) -> None:
        entry = self.entry(index)
        if entry.kind == "run":
            entry.data = value
            entry.at = self.clock

    def raised(self, index: int, exc: BaseException) -> None:
        self.entry(index).errors.append(ErrorInfo(name=type(exc).__name__, message=str(exc)))
        self.raised_in_call = index

    # -- Opcodes ---------------------------------------------------------------------------

    def index_of(self, opcode: Opcode) -> int:
        position = self.plan.hashes.get(opcode.id)
        if position is None:
            raise RunFunctionError(
                f"the engine reported {opcode.op} for an unknown step id {opcode.id!r}"
            )
        return position

    def finish(self, opcode: Opcode, memo_value: Any) -> None:
        self.memo[opcode.id] = memo_value
        self.stack.append(opcode.id)

    def step_ran(self, opcode: Opcode) -> None:
        index = self.index_of(opcode)
        data = _json_round_trip(opcode.data, f"the result of step {opcode.display_name!r}")
        self.finish(opcode, {"data": data})
        entry = self.entry(index)
        entry.data, entry.at = data, self.clock

    def step_failed(self, opcode: Opcode) -> None:
        index = self.index_of(opcode)
        error = _json_round_trip(opcode.error, f"the error of step {opcode.display_name!r}")
        self.finish(opcode, {"error": error})
        entry = self.entry(index)
        entry.error, entry.at = _error_info(opcode.error), self.clock

    def slept(self, opcode: Opcode) -> None:
        index = self.index_of(opcode)
        op = self.spec.ops[index]
        entry = self.entry(index)
        if isinstance(op, SleepOp):
            duration = op.duration
            entry.data = duration
        else:
            raw = (opcode.opts or {}).get("duration", opcode.name)
            instant = parse_instant(raw)
            # An instant in the past does not sleep at all.
            duration = max(instant - self.clock, _dt.timedelta(0))
            entry.data = instant
        self.clock += duration
        self.sleeps.append(duration)
        entry.at = self.clock
        self.finish(opcode, None)

    def waited(self, opcode: Opcode, trigger: Event) -> None:
        index = self.index_of(opcode)
        op = self.spec.ops[index]
        assert isinstance(op, WaitForEventOp)
        if op.id not in self.waits:
            raise RunFunctionError(
                f"the run reached wait_for_event {op.id!r} (event {op.event!r}) but waits= has "
                f"no entry for it: pass waits={{{op.id!r}: {{'data': {{...}}}}}} for the event "
                f"that arrives, or waits={{{op.id!r}: None}} for its timeout"
            )
        scripted = self.waits[op.id]
        entry = self.entry(index)
        if scripted is None:
            self.clock += op.timeout
            entry.data, entry.at = None, self.clock
            self.finish(opcode, None)
            return
        event = _to_event(scripted, f"waits[{op.id!r}]", default_name=op.event)
        if event.name != op.event:
            raise RunFunctionError(
                f"waits[{op.id!r}] is an event named {event.name!r}, but the wait is for "
                f"{op.event!r}: the server would never resume the run with it"
            )
        if op.if_ is not None:
            _check_condition(op, trigger, event)
        entry.data, entry.at = event, self.clock
        self.finish(opcode, event.to_wire())

    # -- The result ------------------------------------------------------------------------

    def trace(self) -> tuple[TraceOp, ...]:
        return tuple(entry.frozen() for entry in self.entries.values())

    def result(
        self,
        status: str,
        output: Any,
        data: dict[str, Any],
        error: ErrorInfo | None,
        run_id: str,
        started_at: _dt.datetime,
        calls: int,
    ) -> RunResult:
        draft = RunResult(
            function_id=self.spec.id,
            run_id=run_id,
            status=RunStatus(status),
            output=output,
            data=data,
            error=error,
            trace=self.trace(),
            sleeps=tuple(self.sleeps),
            started_at=started_at,
            finished_at=self.clock,
            calls=calls,
        )
        return attrs.evolve(draft, status=RunStatus(status, draft.format_trace()))


def _check_condition(op: WaitForEventOp, trigger: Event, candidate: Event) -> None:
    """The server resumes a wait only with an event satisfying its `if`; so do we."""
    assert op.if_ is not None
    problem = "it evaluates to false"
    try:
        if expression_is_true(op.if_, {"event": trigger.to_wire(), "async": candidate.to_wire()}):
            return
    except Exception as exc:  # celpy reports evaluation problems with its own types
        problem = f"it cannot be evaluated: {exc}"
    raise RunFunctionError(
        f"waits[{op.id!r}] does not satisfy the wait's condition {op.if_!r} ({problem}), "
        "so the server would never resume the run with it; fix the event's data, or script "
        "a timeout with None"
    )


# ---------------------------------------------------------------------------------------------
# Driving the engine


async def run_function(
    function: type | FunctionSpec,
    event: EventLike | None = None,
    *,
    events: Sequence[EventLike] | None = None,
    steps: Mapping[Any, Any] | None = None,
    waits: Mapping[Any, EventLike | None] | None = None,
    now: _dt.datetime | str | None = None,
    max_attempts: int | None = None,
    max_calls: int = DEFAULT_MAX_CALLS,
) -> RunResult:
    """Run `function` to its end in-process, with the real engine and no server.

    `event` triggers the run (an `Event` or a mapping; by default an empty event of the
    function's trigger); `events` is the batch, if several. `steps` mocks blocks by id: the
    body is not called and the value is the block's result (an exception instance is raised
    instead). `waits` scripts each `wait_for_event` by id (or by the handle the class body
    got): the event that arrives, or `None` for a timeout. Sleeps take no real time: `now`
    sets the virtual start. `max_attempts` defaults to the function's `retries + 1`.
    Returns a `RunResult`; raises `RunFunctionError` when the run cannot be driven as asked.
    """
    spec = function if isinstance(function, FunctionSpec) else spec_of(function)
    if max_attempts is None:
        max_attempts = spec.max_attempts
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise RunFunctionError(f"max_attempts must be a whole number >= 1, got {max_attempts!r}")
    if isinstance(max_calls, bool) or not isinstance(max_calls, int) or max_calls < 1:
        raise RunFunctionError(f"max_calls must be a whole number >= 1, got {max_calls!r}")
    started_at = _start_time(now)
    batch = tuple(_to_event(e, f"events[{i}]") for i, e in enumerate(events or ()))
    if event is not None:
        trigger = _to_event(event, "event")
    elif batch:
        trigger = batch[0]
    else:
        trigger = _default_event(spec, started_at)
    run = _Run(spec, plan_for(instrumented(spec)), _mocks(spec, steps), _waits(spec, waits),
               started_at)
    token = current_observer.set(run)
    try:
        return await _drive(run, trigger, batch or (trigger,), max_attempts, max_calls,
                            started_at)
    finally:
        current_observer.reset(token)


async def _drive(
    run: _Run,
    trigger: Event,
    batch: tuple[Event, ...],
    max_attempts: int,
    max_calls: int,
    started_at: _dt.datetime,
) -> RunResult:
    run_id = str(ULID())
    attempt = 0
    target: str | None = None
    planned: deque[str] = deque()
    for calls in range(1, max_calls + 1):
        run.raised_in_call = run.started_in_call = None
        request = CallRequest(
            event=trigger,
            events=batch,
            steps=run.memo,
            ctx=CallContext(
                run_id=run_id,
                attempt=attempt,
                max_attempts=max_attempts,
                stack=tuple(run.stack),
                fn_id=run.spec.id,
            ),
        )
        result: CallResult = await execute(run.plan, request, target=target)
        if result.status == 200:
            output = _json_round_trip(result.body, f"the output of function {run.spec.id!r}")
            return run.result("completed", output, result.body, None, run_id, started_at, calls)
        if result.status != 206:
            if result.no_retry is True or attempt + 1 >= max_attempts:
                error = _error_info(result.body)
                if run.raised_in_call is not None:
                    entry = run.entry(run.raised_in_call)
                    entry.error = entry.errors[-1]
                elif _code_of(result.body) == "output_unserializable":
                    # The block returned without raising; what failed is its result.
                    assert run.started_in_call is not None
                    run.entry(run.started_in_call).error = error
                data = dict(run.last_ctx.data) if run.last_ctx is not None else {}
                return run.result("failed", None, data, error, run_id, started_at, calls)
            attempt += 1
            continue
        opcodes: list[Opcode] = list(result.body)
        # As the executor does: arm waits first, so a sibling's event is not missed.
        opcodes.sort(key=lambda o: o.op != "WaitForEvent")
        retry = False
        for opcode in opcodes:
            if opcode.op == "StepRun":
                run.step_ran(opcode)
            elif opcode.op == "StepError":
                run.entry(run.index_of(opcode))  # the wrapper recorded the error
                retry = True
            elif opcode.op == "StepFailed":
                run.step_failed(opcode)
            elif opcode.op == "StepPlanned":
                planned.append(opcode.id)
            elif opcode.op == "Sleep":
                run.slept(opcode)
            elif opcode.op == "WaitForEvent":
                run.waited(opcode, trigger)
            else:
                raise RunFunctionError(
                    f"the engine reported an op the kit cannot drive: {opcode.op}"
                )
        if retry:
            attempt += 1  # the same call again, as the executor would after a backoff
            continue
        attempt = 0
        target = planned.popleft() if planned else None
    summary = "\n".join(f"  {op.describe()}" for op in run.trace()[-10:])
    raise RunFunctionError(
        f"run of {run.spec.id!r} did not finish within {max_calls} calls to the engine "
        f"(pass max_calls= to allow more); the last blocks:\n{summary}"
    )


def run_function_sync(
    function: type | FunctionSpec,
    event: EventLike | None = None,
    *,
    events: Sequence[EventLike] | None = None,
    steps: Mapping[Any, Any] | None = None,
    waits: Mapping[Any, EventLike | None] | None = None,
    now: _dt.datetime | str | None = None,
    max_attempts: int | None = None,
    max_calls: int = DEFAULT_MAX_CALLS,
) -> RunResult:
    """`run_function` for plain (not async) tests; refuses to run inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError(
            "run_function_sync() was called inside a running event loop (an async test?); "
            "use `await run_function(...)` there"
        )
    return asyncio.run(
        run_function(
            function,
            event,
            events=events,
            steps=steps,
            waits=waits,
            now=now,
            max_attempts=max_attempts,
            max_calls=max_calls,
        )
    )
