"""Run a function in-process: the real engine, driven call by call as the executor would.

PROTOCOL §8 is the model: `StepRun` memoises `{"data"}`, `StepError` repeats the call with the
next attempt, `StepFailed` memoises `{"error"}`, `StepPlanned` is followed by a targeted call
(several at once, as after a parallel group, with immediate execution disabled until they are
all done), `Sleep` finishes at once in virtual time, `WaitForEvent` resumes with the event the
test scripted, `InvokeFunction` resumes with the mocked result or the callee run in-process,
and failed requests are retried until the attempts run out. Events are sent to a
`CapturingClient`. Nothing sleeps, nothing touches the network.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import inspect
import json
from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from ulid import ULID

from inngest_dsl._dsl import spec_of
from inngest_dsl._durations import format_instant, parse_duration, parse_instant
from inngest_dsl._dynamic import NO_MOCK
from inngest_dsl._event import Event
from inngest_dsl._execution import ExecutionPlan, execute, plan_for
from inngest_dsl._expressions import expression_is_true
from inngest_dsl._outcomes import StepRef, sent_ids
from inngest_dsl._spec import (
    CronTrigger,
    EventTrigger,
    FunctionSpec,
    InvokeOp,
    RunOp,
    SendEventOp,
    SleepOp,
    SleepUntilOp,
    StepOp,
    WaitForEventOp,
)
from inngest_dsl._testing_client import CapturingClient
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
    InvokeOp: "invoke",
    SendEventOp: "send_event",
}
# What an opcode says about a step added at run time that the kit has not seen yet.
_OP_KINDS: dict[str, OpKind] = {
    "StepRun": "step",
    "StepError": "step",
    "StepFailed": "step",
    "StepPlanned": "step",
    "Sleep": "sleep",
    "WaitForEvent": "wait_for_event",
    "InvokeFunction": "invoke",
}
_DYNAMIC_KINDS: dict[str, OpKind] = {kind: kind for kind in _KINDS.values()}
_INVOKED = "inngest/function.invoked"


class RunFunctionError(InngestError):
    """`run_function` cannot drive the run as asked: a wait with no scripted event, a mock for
    a block that does not exist, an invoke with neither a mock nor a callee class, a run that
    never ends, an input that is not valid."""


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


def _mockable(spec: FunctionSpec) -> list[str]:
    return [
        op.id
        for op in spec.ops
        if getattr(op, "body", None) is not None or isinstance(op, InvokeOp)
    ]


@attrs.define
class _Mocks:
    """`steps=` sorted out: declared bodies by index, invokes and steps added at run time by id.

    An id that is no declared block may be a `ctx.step` step: whether it is shows only once
    the run has ended, so such mocks are checked then (`unused`).
    """

    bodies: dict[int, Any] = attrs.field(factory=dict)
    by_id: dict[str, Any] = attrs.field(factory=dict)
    dynamic: set[str] = attrs.field(factory=set)
    used: set[str] = attrs.field(factory=set)

    def unused(self) -> list[str]:
        return sorted(self.dynamic - self.used)


def _adds_steps(spec: FunctionSpec) -> bool:
    """Whether a body may use `ctx.step` (only async run and step bodies can)."""
    return any(
        isinstance(op, (RunOp, StepOp)) and inspect.iscoroutinefunction(op.body)
        for op in spec.ops
    )


def _mocks(spec: FunctionSpec, steps: Mapping[Any, Any] | None) -> _Mocks:
    mocks = _Mocks()
    indexes = _block_indexes(spec)
    mockable = _mockable(spec)
    for key, value in (steps or {}).items():
        block_id = key.id if isinstance(key, (RunOp, StepOp, SleepUntilOp)) else key
        found = [i for i in indexes.get(block_id, ()) if spec.ops[i].id in mockable]
        is_wait = any(isinstance(spec.ops[i], WaitForEventOp) for i in indexes.get(block_id, ()))
        if not found and (is_wait or not _adds_steps(spec)):
            hint = f"; {block_id!r} is a wait: script it with waits={{{block_id!r}: ...}}"
            raise RunFunctionError(
                f"steps= mocks {block_id!r}, which is not a block with a body of function "
                f"{spec.id!r}; blocks that can be mocked: "
                f"{', '.join(map(repr, mockable)) or 'none'}{hint if is_wait else ''}"
            )
        mocks.by_id[block_id] = value
        if not found:
            mocks.dynamic.add(block_id)
        for index in found:
            if not isinstance(spec.ops[index], InvokeOp):  # an invoke's mock is its result
                mocks.bodies[index] = value
    return mocks


def _waits(spec: FunctionSpec, waits: Mapping[Any, Any] | None) -> tuple[dict[str, Any], set[str]]:
    """The scripted waits by id, and those that are no declared wait (maybe `ctx.step` ones)."""
    wait_ids = [op.id for op in spec.ops if isinstance(op, WaitForEventOp)]
    scripted: dict[str, Any] = {}
    for key, value in (waits or {}).items():
        wait_id = key.id if isinstance(key, WaitForEventOp) else key
        if wait_id not in wait_ids and not _adds_steps(spec):
            raise RunFunctionError(
                f"waits= scripts {wait_id!r}, which is not a wait_for_event of function "
                f"{spec.id!r}; its waits: {', '.join(map(repr, wait_ids)) or 'none'}"
            )
        scripted[wait_id] = value
    return scripted, set(scripted) - set(wait_ids)


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
    dynamic: bool = False
    callee: type | None = None

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
            dynamic=self.dynamic,
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


_Key = int | str
"""A trace entry's key: a declared op's position, or the wire id of a `ctx.step` step."""


class _Run:
    """One run: its memo, virtual clock and trace; also the observer of its bodies and of
    the steps they add at run time."""

    def __init__(
        self,
        spec: FunctionSpec,
        plan: ExecutionPlan,
        mocks: _Mocks,
        waits: tuple[dict[str, Any], set[str]],
        clock: _dt.datetime,
        client: CapturingClient,
        callees: Mapping[str, FunctionSpec],
    ) -> None:
        self.spec = spec
        self.plan = plan
        self.mocks = mocks
        self.waits, self.dynamic_waits = waits
        self.used_waits: set[str] = set()
        self.clock = clock
        self.client = client
        self.callees = callees
        self.memo: dict[str, Any] = {}
        self.stack: list[str] = []
        self.sleeps: list[_dt.timedelta] = []
        self.entries: dict[_Key, _Entry] = {}
        self.last_ctx: Context | None = None
        self.raised_in_call: _Key | None = None
        self.started_in_call: _Key | None = None

    # -- Observer of declared bodies -------------------------------------------------------

    def entry(self, key: _Key) -> _Entry:
        entry = self.entries.get(key)
        if entry is None:
            assert isinstance(key, int)  # steps added at run time are entered when reached
            op = self.spec.ops[key]
            entry = self.entries[key] = _Entry(kind=_KINDS[type(op)], id=op.id)
        return entry

    def mock(self, index: int) -> Any:
        return self.mocks.bodies.get(index, NOT_MOCKED)

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

    # -- Observer of steps added at run time (StepObserver) --------------------------------

    def dynamic_reached(self, ref: StepRef, kind: str, callee: type | None) -> None:
        entry = self.entries.get(ref.hashed)
        if entry is None:
            entry = self.entries[ref.hashed] = _Entry(
                kind=_DYNAMIC_KINDS.get(kind, "step"),
                id=ref.user_id,
                dynamic=True,
            )
        if callee is not None:
            entry.callee = callee

    def dynamic_mock(self, ref: StepRef) -> Any:
        if ref.user_id in self.mocks.by_id:
            self.mocks.used.add(ref.user_id)
            return self.mocks.by_id[ref.user_id]
        return NO_MOCK

    def dynamic_started(self, ref: StepRef, mocked: bool) -> None:
        entry = self.entries[ref.hashed]
        entry.attempts += 1
        entry.mocked = entry.mocked or mocked
        self.started_in_call = ref.hashed

    def dynamic_returned(self, ref: StepRef, value: Any) -> None:
        """The result is recorded from the `StepRun` that reports it."""

    def dynamic_raised(self, ref: StepRef, exc: BaseException) -> None:
        self.entries[ref.hashed].errors.append(
            ErrorInfo(name=type(exc).__name__, message=str(exc))
        )
        self.raised_in_call = ref.hashed

    # -- Opcodes ---------------------------------------------------------------------------

    def key_of(self, opcode: Opcode) -> _Key:
        position = self.plan.hashes.get(opcode.id)
        if position is not None:
            return position
        if opcode.id not in self.entries:
            kind = _OP_KINDS.get(opcode.op)
            if kind is None:
                raise RunFunctionError(
                    f"the engine reported {opcode.op} for an unknown step id {opcode.id!r}"
                )
            self.entries[opcode.id] = _Entry(kind=kind, id=opcode.display_name, dynamic=True)
        return opcode.id

    def attempted(self, opcode: Opcode) -> None:
        """A step reported how an attempt went; count it if no body told us already."""
        key = self.key_of(opcode)
        entry = self.entry(key)
        if self.started_in_call != key:  # a send of fixed events has no body
            entry.attempts += 1
        if opcode.op != "StepRun" and self.raised_in_call != key:
            entry.errors.append(_error_info(opcode.error))

    def finish(self, opcode: Opcode, memo_value: Any) -> None:
        self.memo[opcode.id] = memo_value
        self.stack.append(opcode.id)

    def step_ran(self, opcode: Opcode) -> None:
        entry = self.entry(self.key_of(opcode))
        data = _json_round_trip(opcode.data, f"the result of step {opcode.display_name!r}")
        self.finish(opcode, {"data": data})
        entry.data = sent_ids(data) if entry.kind == "send_event" else data
        entry.at = self.clock

    def step_failed(self, opcode: Opcode) -> None:
        entry = self.entry(self.key_of(opcode))
        error = _json_round_trip(opcode.error, f"the error of step {opcode.display_name!r}")
        self.finish(opcode, {"error": error})
        entry.error, entry.at = _error_info(opcode.error), self.clock

    def slept(self, opcode: Opcode) -> None:
        key = self.key_of(opcode)
        entry = self.entry(key)
        raw = (opcode.opts or {}).get("duration", opcode.name)
        op = self.spec.ops[key] if isinstance(key, int) else None
        if isinstance(op, SleepOp):
            duration = op.duration
            entry.data = duration
        elif entry.kind == "sleep":
            duration = parse_duration(raw)
            entry.data = duration
        else:
            instant = parse_instant(raw)
            # An instant in the past does not sleep at all.
            duration = max(instant - self.clock, _dt.timedelta(0))
            entry.data = instant
        self.clock += duration
        self.sleeps.append(duration)
        entry.at = self.clock
        self.finish(opcode, None)

    def waited(self, opcode: Opcode, trigger: Event) -> None:
        entry = self.entry(self.key_of(opcode))
        opts = opcode.opts or {}
        wait_id, event_name = entry.id, str(opts.get("event", opcode.name))
        condition = opts.get("if")
        verb = "ctx.step.wait_for_event" if entry.dynamic else "wait_for_event"
        if wait_id not in self.waits:
            unused = sorted(self.dynamic_waits - self.used_waits)
            hint = f" (waits= also scripts {', '.join(map(repr, unused))})" if unused else ""
            raise RunFunctionError(
                f"the run reached {verb} {wait_id!r} (event {event_name!r}) but waits= has "
                f"no entry for it: pass waits={{{wait_id!r}: {{'data': {{...}}}}}} for the "
                f"event that arrives, or waits={{{wait_id!r}: None}} for its timeout{hint}"
            )
        self.used_waits.add(wait_id)
        scripted = self.waits[wait_id]
        if scripted is None:
            self.clock += parse_duration(str(opts.get("timeout")))
            entry.data, entry.at = None, self.clock
            self.finish(opcode, None)
            return
        event = _to_event(scripted, f"waits[{wait_id!r}]", default_name=event_name)
        if event.name != event_name:
            raise RunFunctionError(
                f"waits[{wait_id!r}] is an event named {event.name!r}, but the wait is for "
                f"{event_name!r}: the server would never resume the run with it"
            )
        if condition is not None:
            _check_condition(wait_id, str(condition), trigger, event)
        entry.data, entry.at = event, self.clock
        self.finish(opcode, event.to_wire())

    async def invoked(self, opcode: Opcode, max_calls: int) -> None:
        key = self.key_of(opcode)
        entry = self.entry(key)
        opts = opcode.opts or {}
        function_id = str(opts.get("function_id"))
        payload = (opts.get("payload") or {}).get("data") or {}
        if entry.id in self.mocks.by_id:
            self.mocks.used.add(entry.id)
            entry.mocked = True
            outcome = self.mocks.by_id[entry.id]
            if isinstance(outcome, BaseException):
                error = ErrorInfo(name=type(outcome).__name__, message=str(outcome))
                memo: dict[str, Any] = {"error": {"name": error.name, "message": error.message}}
                entry.error = error
            else:
                memo = {"data": _json_round_trip(outcome, f"steps[{entry.id!r}]")}
                entry.data = memo["data"]
        else:
            callee = self._callee(key, entry, function_id)
            result = await run_function(
                callee,
                {"name": _INVOKED, "data": payload},
                now=self.clock,
                client=self.client,
                functions=tuple(self.callees.values()),
                max_calls=max_calls,
            )
            self.clock = result.finished_at
            if result.completed:
                memo, entry.data = {"data": result.output}, result.output
            else:
                assert result.error is not None
                memo = {"error": {"name": result.error.name, "message": result.error.message}}
                entry.error = result.error
        entry.at = self.clock
        self.finish(opcode, memo)

    def _callee(self, key: _Key, entry: _Entry, function_id: str) -> FunctionSpec:
        op = self.spec.ops[key] if isinstance(key, int) else None
        callee = op.callee if isinstance(op, InvokeOp) else entry.callee
        if callee is not None:
            return spec_of(callee)
        known = self.callees.get(function_id)
        if known is None:
            # A function of another app: found by its own id, if that is unambiguous.
            by_id = [s for s in self.callees.values() if function_id.endswith(f"-{s.id}")]
            known = by_id[0] if len(by_id) == 1 else None
        if known is not None:
            return known
        raise RunFunctionError(
            f"the run reached invoke {entry.id!r} of {function_id!r}, which the kit cannot "
            f"run in-process: give its result with steps={{{entry.id!r}: ...}} (an exception "
            "instance for a failure), or pass the function with functions=[...]"
        )

    # -- The result ------------------------------------------------------------------------

    def check_scripts_used(self, draft: RunResult) -> None:
        """Mocks and waits for ids that are no declared block must have met a `ctx.step`
        by the time the run completed."""
        problems = [
            f"steps= mocks {block_id!r}, which is not a block with a body of function "
            f"{self.spec.id!r} and no ctx.step step of that id ran; blocks that can be "
            f"mocked: {', '.join(map(repr, _mockable(self.spec))) or 'none'}"
            for block_id in self.mocks.unused()
        ]
        declared_waits = [op.id for op in self.spec.ops if isinstance(op, WaitForEventOp)]
        problems += [
            f"waits= scripts {wait_id!r}, which is not a wait_for_event of function "
            f"{self.spec.id!r} and no ctx.step.wait_for_event of that id ran; its waits: "
            f"{', '.join(map(repr, declared_waits)) or 'none'}"
            for wait_id in sorted(self.dynamic_waits - self.used_waits)
        ]
        if problems:
            raise RunFunctionError("\n".join([*problems, draft.format_trace()]))

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
        sent: tuple[Event, ...],
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
            sent_events=sent,
        )
        draft = attrs.evolve(draft, status=RunStatus(status, draft.format_trace()))
        if draft.completed:  # a failed run may just not have got that far
            self.check_scripts_used(draft)
        return draft


def _check_condition(wait_id: str, condition: str, trigger: Event, candidate: Event) -> None:
    """The server resumes a wait only with an event satisfying its `if`; so do we."""
    problem = "it evaluates to false"
    try:
        if expression_is_true(
            condition, {"event": trigger.to_wire(), "async": candidate.to_wire()}
        ):
            return
    except Exception as exc:  # celpy reports evaluation problems with its own types
        problem = f"it cannot be evaluated: {exc}"
    raise RunFunctionError(
        f"waits[{wait_id!r}] does not satisfy the wait's condition {condition!r} ({problem}), "
        "so the server would never resume the run with it; fix the event's data, or script "
        "a timeout with None"
    )


# ---------------------------------------------------------------------------------------------
# Driving the engine


def _callees(
    functions: Sequence[type | FunctionSpec], app_id: str
) -> dict[str, FunctionSpec]:
    specs = [f if isinstance(f, FunctionSpec) else spec_of(f) for f in functions]
    return {spec.composite_id(app_id): spec for spec in specs}


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
    client: CapturingClient | None = None,
    functions: Sequence[type | FunctionSpec] = (),
) -> RunResult:
    """Run `function` to its end in-process, with the real engine and no server.

    `event` triggers the run (an `Event` or a mapping; by default an empty event of the
    function's trigger); `events` is the batch, if several. `steps` mocks blocks by id: the
    body is not called and the value is the block's result (an exception instance is raised
    instead); it also mocks `ctx.step.run` steps by their id, and gives an `invoke`'s result
    (else the invoked function runs in-process: its class was given, or it is one of
    `functions`). `waits` scripts each `wait_for_event` (declared or `ctx.step`) by id (or by
    the handle the class body got): the event that arrives, or `None` for a timeout. A mock
    or a wait for an id the run never met is an error. Sleeps take no real time: `now` sets
    the virtual start. `max_attempts` defaults to the function's `retries + 1`. Events sent
    go to `client` (a fresh `CapturingClient` by default) and show in `sent_events`.
    Returns a `RunResult`; raises `RunFunctionError` when the run cannot be driven as asked.
    """
    spec = function if isinstance(function, FunctionSpec) else spec_of(function)
    if max_attempts is None:
        max_attempts = spec.max_attempts
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise RunFunctionError(f"max_attempts must be a whole number >= 1, got {max_attempts!r}")
    if isinstance(max_calls, bool) or not isinstance(max_calls, int) or max_calls < 1:
        raise RunFunctionError(f"max_calls must be a whole number >= 1, got {max_calls!r}")
    if client is None:
        client = CapturingClient()
    elif not isinstance(client, CapturingClient):
        raise RunFunctionError(
            f"client= must be a CapturingClient (the kit never sends events for real), got "
            f"{type(client).__name__}"
        )
    started_at = _start_time(now)
    batch = tuple(_to_event(e, f"events[{i}]") for i, e in enumerate(events or ()))
    if event is not None:
        trigger = _to_event(event, "event")
    elif batch:
        trigger = batch[0]
    else:
        trigger = _default_event(spec, started_at)
    run = _Run(
        spec,
        plan_for(instrumented(spec)),
        _mocks(spec, steps),
        _waits(spec, waits),
        started_at,
        client,
        _callees(functions, client.app_id),
    )
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
    # As the executor: after a response with several ops, immediate execution stays
    # disabled until the planned steps are all done.
    force_plan = False
    sent_before = len(run.client.sent)

    def sent() -> tuple[Event, ...]:
        return tuple(run.client.sent[sent_before:])

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
                disable_immediate_execution=force_plan,
                stack=tuple(run.stack),
                fn_id=run.spec.id,
            ),
        )
        result: CallResult = await execute(
            run.plan, request, target=target, client=run.client, observer=run
        )
        if result.status == 200:
            output = _json_round_trip(result.body, f"the output of function {run.spec.id!r}")
            return run.result(
                "completed", output, result.body, None, run_id, started_at, calls, sent()
            )
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
                return run.result(
                    "failed", None, data, error, run_id, started_at, calls, sent()
                )
            attempt += 1
            continue
        opcodes: list[Opcode] = list(result.body)
        force_plan = force_plan or len(opcodes) > 1
        # As the executor does: arm waits first, so a sibling's event is not missed.
        opcodes.sort(key=lambda o: o.op != "WaitForEvent")
        retry = False
        for opcode in opcodes:
            if opcode.op in ("StepRun", "StepError", "StepFailed"):
                run.attempted(opcode)
            if opcode.op == "StepRun":
                run.step_ran(opcode)
            elif opcode.op == "StepError":
                retry = True
            elif opcode.op == "StepFailed":
                run.step_failed(opcode)
            elif opcode.op == "StepPlanned":
                run.entry(run.key_of(opcode))
                planned.append(opcode.id)
            elif opcode.op == "Sleep":
                run.slept(opcode)
            elif opcode.op == "WaitForEvent":
                run.waited(opcode, trigger)
            elif opcode.op == "InvokeFunction":
                await run.invoked(opcode, max_calls)
            else:
                raise RunFunctionError(
                    f"the engine reported an op the kit cannot drive: {opcode.op}"
                )
        if retry:
            attempt += 1  # the same call again, as the executor would after a backoff
            continue
        attempt = 0
        target = planned.popleft() if planned else None
        if target is None:
            force_plan = False
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
    client: CapturingClient | None = None,
    functions: Sequence[type | FunctionSpec] = (),
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
            client=client,
            functions=functions,
        )
    )
