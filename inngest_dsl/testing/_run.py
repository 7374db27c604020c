"""Run one function in-process, on the dev server's own engine in a `TestEnvironment`.

The engine applies every rule of PROTOCOL §8 (memoising, retries and their backoff, sleeps,
parallel fan-out, waits, invokes); this module only starts the run, watches each call's
answer to keep the run's trace, resumes the waits the test scripted, stands mocked invokes
in for the real ones, and moves virtual time on until the run ends. Events are sent to a
`CapturingClient`. Nothing sleeps, nothing touches the network.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast, get_args

import attrs

from inngest_dsl.devserver.protocol import STEP_KINDS, canonical
from inngest_dsl.devserver.records import RunRecord
from inngest_dsl.devserver.records import RunStatus as RunRecordStatus
from inngest_dsl.engine._call_state import NO_MOCK
from inngest_dsl.engine._outcomes import StepRef, sent_ids
from inngest_dsl.engine._plan import ExecutionPlan, plan_for, verb_of
from inngest_dsl.errors import EventError, InngestError
from inngest_dsl.serve._call import Answer
from inngest_dsl.spec._durations import format_instant, parse_duration, parse_instant
from inngest_dsl.spec._event import Event
from inngest_dsl.spec._expressions import expression_is_true
from inngest_dsl.spec._function import (
    CronTrigger,
    EventTrigger,
    FunctionSpec,
    InvokeOp,
    RunOp,
    SleepOp,
    SleepUntilOp,
    StepOp,
    WaitForEventOp,
    spec_of,
)
from inngest_dsl.testing._client import CapturingClient
from inngest_dsl.testing._environment import CallHooks, TestEnvironment, adds_steps
from inngest_dsl.testing._instrument import NOT_MOCKED, instrumented
from inngest_dsl.testing._result import ErrorInfo, OpKind, RunResult, RunStatus, TraceOp
from inngest_dsl.wire._calls import CallRequest
from inngest_dsl.wire._json import dumps
from inngest_dsl.wire._responses import ErrorBody, Opcode

if TYPE_CHECKING:
    from inngest_dsl.engine._context import Context

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
# The trace's names for the kinds of step an opcode reports (see `protocol.STEP_KINDS`).
_TRACE_KINDS: dict[str, OpKind] = {
    "Run": "step",
    "Sleep": "sleep",
    "WaitForEvent": "wait_for_event",
    "InvokeFunction": "invoke",
}
_VERBS: frozenset[str] = frozenset(get_args(OpKind))
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


def _mocks(spec: FunctionSpec, steps: Mapping[Any, Any] | None) -> _Mocks:
    mocks = _Mocks()
    indexes = _block_indexes(spec)
    mockable = _mockable(spec)
    for key, value in (steps or {}).items():
        block_id = key.id if isinstance(key, (RunOp, StepOp, SleepUntilOp)) else key
        found = [i for i in indexes.get(block_id, ()) if spec.ops[i].id in mockable]
        is_wait = any(isinstance(spec.ops[i], WaitForEventOp) for i in indexes.get(block_id, ()))
        if not found and (is_wait or not adds_steps(spec)):
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
        if wait_id not in wait_ids and not adds_steps(spec):
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
    """One run's trace, mocks and scripts: the observer of its bodies and of the steps they
    add at run time, and the reader of what each of its calls answered."""

    def __init__(
        self,
        spec: FunctionSpec,
        plan: ExecutionPlan,
        mocks: _Mocks,
        waits: tuple[dict[str, Any], set[str]],
        trigger: Event,
        now: Callable[[], _dt.datetime],
        callees: Mapping[str, FunctionSpec],
        app_id: str,
    ) -> None:
        self.spec = spec
        self.app_id = app_id
        self.plan = plan
        self.mocks = mocks
        self.waits, self.dynamic_waits = waits
        self.used_waits: set[str] = set()
        self.trigger = trigger
        self.now = now
        self.callees = callees
        self.sleeps: list[_dt.timedelta] = []
        self.entries: dict[_Key, _Entry] = {}
        self.last_ctx: Context | None = None
        self.raised_in_call: _Key | None = None
        self.started_in_call: _Key | None = None
        # Waits to resume with their scripted event once armed, by wire id (a wait scripted
        # to time out is not here: virtual time runs out its timeout).
        self.scripted: dict[str, Any] = {}
        self.invokes: dict[str, _Entry] = {}
        self.wanted_callees: list[FunctionSpec] = []
        self.output: Any = None
        self.data: dict[str, Any] = {}
        self.failure: tuple[ErrorInfo, _Key | None, _Key | None, str | None] | None = None

    # -- Observer of declared bodies -------------------------------------------------------

    def entry(self, key: _Key) -> _Entry:
        entry = self.entries.get(key)
        if entry is None:
            assert isinstance(key, int)  # steps added at run time are entered when reached
            op = self.spec.ops[key]
            entry = self.entries[key] = _Entry(kind=cast(OpKind, verb_of(op)), id=op.id)
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
            entry.at = self.now()

    def raised(self, index: int, exc: BaseException) -> None:
        self.entry(index).errors.append(ErrorInfo(name=type(exc).__name__, message=str(exc)))
        self.raised_in_call = index

    # -- Observer of steps added at run time (StepObserver) --------------------------------

    def dynamic_reached(self, ref: StepRef, kind: str, callee: type | None) -> None:
        entry = self.entries.get(ref.hashed)
        if entry is None:
            entry = self.entries[ref.hashed] = _Entry(
                kind=cast(OpKind, kind) if kind in _VERBS else "step",
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

    # -- What a call answered ----------------------------------------------------------------

    def call_started(self) -> None:
        self.raised_in_call = self.started_in_call = None

    def answered(self, answer: Answer, last_attempt: bool) -> Answer:
        """Trace what one call of this run answered; the engine decides what follows.

        A mocked invoke is handed on as a finished step with the mocked outcome: the engine
        memoises it as the invoked run's end would, and nothing is invoked.
        """
        if answer.status == 200:
            self.output = _json_round_trip(
                answer.body, f"the output of function {self.spec.id!r}"
            )
            self.data = answer.body if isinstance(answer.body, dict) else {}
            return answer
        if answer.status != 206:
            code = _code_of(answer.body)
            self.failure = (
                _error_info(answer.body), self.raised_in_call, self.started_in_call, code
            )
            self.data = dict(self.last_ctx.data) if self.last_ctx is not None else {}
            return answer
        opcodes: list[Opcode] = list(answer.body)
        no_retry = answer.headers.get("X-Inngest-No-Retry") == "true"
        handed_on: list[Opcode] = []
        for opcode in sorted(opcodes, key=lambda o: o.op != "WaitForEvent"):
            if opcode.op in ("StepRun", "StepError", "StepFailed"):
                self.attempted(opcode)
            if opcode.op == "StepRun":
                self.step_ran(opcode)
            elif opcode.op == "StepFailed" or (
                opcode.op == "StepError" and (last_attempt or no_retry)
            ):
                self.step_failed(opcode)
            elif opcode.op == "StepPlanned":
                self.entry(self.key_of(opcode))
            elif opcode.op == "Sleep":
                self.slept(opcode)
            elif opcode.op == "WaitForEvent":
                self.waited(opcode)
            elif opcode.op == "InvokeFunction":
                opcode = self.invoked(opcode)
            handed_on.append(opcode)
        return attrs.evolve(answer, body=handed_on)

    def key_of(self, opcode: Opcode) -> _Key:
        position = self.plan.hashes.get(opcode.id)
        if position is not None:
            return position
        if opcode.id not in self.entries:
            kind = _TRACE_KINDS.get(STEP_KINDS.get(opcode.op, ""))
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

    def step_ran(self, opcode: Opcode) -> None:
        entry = self.entry(self.key_of(opcode))
        data = _json_round_trip(opcode.data, f"the result of step {opcode.display_name!r}")
        entry.data = sent_ids(data) if entry.kind == "send_event" else data
        entry.at = self.now()

    def step_failed(self, opcode: Opcode) -> None:
        entry = self.entry(self.key_of(opcode))
        _json_round_trip(opcode.error, f"the error of step {opcode.display_name!r}")
        entry.error, entry.at = _error_info(opcode.error), self.now()

    def slept(self, opcode: Opcode) -> None:
        key = self.key_of(opcode)
        entry = self.entry(key)
        raw = (opcode.opts or {}).get("duration", opcode.name)
        op = self.spec.ops[key] if isinstance(key, int) else None
        now = self.now()
        if isinstance(op, SleepOp):
            duration = op.duration
            entry.data = duration
        elif entry.kind == "sleep":
            duration = parse_duration(raw)
            entry.data = duration
        else:
            instant = parse_instant(raw)
            # An instant in the past does not sleep at all.
            duration = max(instant - now, _dt.timedelta(0))
            entry.data = instant
        self.sleeps.append(duration)
        entry.at = now + duration

    def waited(self, opcode: Opcode) -> None:
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
            entry.data = None
            entry.at = self.now() + parse_duration(str(opts.get("timeout")))
            return
        event = _to_event(scripted, f"waits[{wait_id!r}]", default_name=event_name)
        if event.name != event_name:
            raise RunFunctionError(
                f"waits[{wait_id!r}] is an event named {event.name!r}, but the wait is for "
                f"{event_name!r}: the server would never resume the run with it"
            )
        if condition is not None:
            _check_condition(wait_id, str(condition), self.trigger, event)
        entry.data, entry.at = event, self.now()
        self.scripted[opcode.id] = event.to_wire()

    def invoked(self, opcode: Opcode) -> Opcode:
        """Trace an invoke; what the engine is to see of it: a finished step with the mocked
        outcome, or the invoke of the callee as the test environment serves it."""
        key = self.key_of(opcode)
        entry = self.entry(key)
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
            entry.at = self.now()
            return attrs.evolve(opcode, op="Step", opts=None, data=memo)
        opts = opcode.opts or {}
        callee = self._callee(key, entry, str(opts.get("function_id")))
        self.wanted_callees.append(callee)
        self.invokes[opcode.id] = entry
        # A callee of another app joins this one: invoke it under the id it has here.
        served_id = callee.composite_id(self.app_id)
        return attrs.evolve(opcode, opts={**opts, "function_id": served_id})

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

    def invoke_finished(self, step_id: str, memo: Any, at: _dt.datetime) -> None:
        """The invoked run ended: its result (or error) is the invoke's."""
        entry = self.invokes.pop(step_id)
        entry.at = at
        if isinstance(memo, dict) and memo.get("error") is not None:
            entry.error = _error_info(memo["error"])
        elif isinstance(memo, dict):
            entry.data = memo.get("data")

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
        record: RunRecord,
        started_at: _dt.datetime,
        calls: int,
        sent: tuple[Event, ...],
    ) -> RunResult:
        status = record.status.lower()
        error: ErrorInfo | None = None
        output: Any = None
        data = self.data
        if record.status == "Completed":
            output = self.output
        elif self.failure is not None:
            error, raised, started, code = self.failure
            if record.error is not None:
                error = _error_info(record.error)  # as the engine recorded it
            if raised is not None:
                entry = self.entry(raised)
                entry.error = entry.errors[-1]
            elif code == "output_unserializable" and started is not None:
                # The block returned without raising; what failed is its result.
                self.entry(started).error = error
        elif record.error is not None:
            error = _error_info(record.error)
        elif record.reason is not None:
            error = ErrorInfo(name="Cancelled", message=record.reason)
        finished_at = record.ended_at if record.ended_at is not None else started_at.timestamp()
        draft = RunResult(
            function_id=self.spec.id,
            run_id=record.run_id,
            status=RunStatus(status),
            output=output,
            data=data,
            error=error,
            trace=self.trace(),
            sleeps=tuple(self.sleeps),
            started_at=started_at,
            finished_at=_dt.datetime.fromtimestamp(finished_at, _dt.timezone.utc),
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


class _Hooks:
    """Routes the calls of the run under test to its `_Run`; counts them; stops a runaway."""

    def __init__(self, run: _Run, max_calls: int) -> None:
        self.run = run
        self.run_id: str | None = None
        self.max_calls = max_calls
        self.calls = 0
        self.problem: RunFunctionError | None = None
        # Functions the run invokes join the app before the engine starts their runs.
        self.add_functions: Callable[[Sequence[FunctionSpec]], None] = lambda specs: None

    def observer(self, call: CallRequest, function_id: str) -> Any:
        if call.ctx.run_id != self.run_id:
            return None
        self.run.call_started()
        return self.run

    def answered(self, call: CallRequest, function_id: str, answer: Answer) -> Answer:
        if call.ctx.run_id != self.run_id or self.problem is not None:
            return answer
        self.calls += 1
        try:
            if self.calls > self.max_calls:
                summary = "\n".join(f"  {op.describe()}" for op in self.run.trace()[-10:])
                raise RunFunctionError(
                    f"run of {self.run.spec.id!r} did not finish within {self.max_calls} calls "
                    f"to the engine (pass max_calls= to allow more); the last blocks:\n{summary}"
                )
            limit = call.ctx.max_attempts
            last = limit is not None and call.ctx.attempt + 1 >= limit
            answer = self.run.answered(answer, last)
            if self.run.wanted_callees:
                self.add_functions(self.run.wanted_callees)
                self.run.wanted_callees.clear()
        except RunFunctionError as exc:
            # Stop the run where it is; `run_function` raises this once the engine is idle.
            self.problem = exc
            return Answer(400, {"name": "RunFunctionError", "message": str(exc)},
                          {"X-Inngest-No-Retry": "true"})
        return answer


class _RunEnvironment(TestEnvironment):
    """The engine for one `run_function`: the caller's client, the run's hooks, no extras."""

    def __init__(
        self,
        specs: Sequence[FunctionSpec],
        *,
        now: _dt.datetime,
        client: CapturingClient,
        hooks: _Hooks,
        attempts: Mapping[str, int],
    ) -> None:
        self._given_client = client
        self._run_hooks = hooks
        super().__init__(specs, now=now, app_id=client.app_id)
        self._attempts = dict(attempts)

    def _make_client(self) -> CapturingClient:
        return self._given_client  # it records sends; they trigger nothing here

    def _make_hooks(self, steps: Mapping[Any, Any]) -> CallHooks:
        return self._run_hooks

    def _with_callees(self, specs: list[FunctionSpec]) -> tuple[FunctionSpec, ...]:
        return tuple(specs)  # invoked functions join when the run reaches them

    def add_functions(self, specs: Sequence[FunctionSpec]) -> None:
        new = [spec for spec in specs if spec.id not in {s.id for s in self._specs}]
        if new:
            self._specs = (*self._specs, *new)
            self._register(self._specs)


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
    """Run `function` to its end in-process, on the dev server's engine and virtual time.

    `event` triggers the run (an `Event` or a mapping; by default an empty event of the
    function's trigger); `events` is the batch, if several. `steps` mocks blocks by id: the
    body is not called and the value is the block's result (an exception instance is raised
    instead); it also mocks `ctx.step.run` steps by their id, and gives an `invoke`'s result
    (else the invoked function runs in-process: its class was given, or it is one of
    `functions`). `waits` scripts each `wait_for_event` (declared or `ctx.step`) by id (or by
    the handle the class body got): the event that arrives, or `None` for a timeout. A mock
    or a wait for an id the run never met is an error. Sleeps, timeouts and retry backoffs
    take no real time: `now` sets the virtual start. `max_attempts` defaults to the
    function's `retries + 1`. Events sent go to `client` (a fresh `CapturingClient` by
    default) and show in `sent_events`. The run starts at once, whatever the function's flow
    control; its retries, sleeps, waits and invokes follow the dev server's rules exactly.
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
    plan = plan_for(instrumented(spec))
    environment: _RunEnvironment | None = None

    def virtual_now() -> _dt.datetime:
        return environment.now if environment is not None else started_at

    run = _Run(
        spec,
        plan,
        _mocks(spec, steps),
        _waits(spec, waits),
        trigger,
        virtual_now,
        _callees(functions, client.app_id),
        client.app_id,
    )
    hooks = _Hooks(run, max_calls)
    environment = _RunEnvironment(
        [spec],
        now=started_at,
        client=client,
        hooks=hooks,
        attempts={spec.composite_id(client.app_id): max_attempts},
    )
    hooks.add_functions = environment.add_functions
    sent_before = len(client.sent)
    async with environment:
        record = await _drive(environment, run, hooks, batch or (trigger,))
        return run.result(
            record, started_at, hooks.calls, tuple(client.sent[sent_before:])
        )


async def _drive(
    environment: _RunEnvironment, run: _Run, hooks: _Hooks, batch: tuple[Event, ...]
) -> RunRecord:
    """Start the run, then move virtual time on until it ends, resolving what was scripted."""
    engine, store, clock = environment.engine, environment.store, environment.clock
    function = engine.registry.get(run.spec.composite_id(environment.app_id))
    assert function is not None
    run_id = engine.runs.start_run(function, [event.to_wire() for event in batch])
    if run_id is None:
        raise RunFunctionError(f"function {run.spec.id!r} did not start (a singleton skipped it)")
    hooks.run_id = run_id
    while True:
        await environment.settle()
        if hooks.problem is not None:
            raise hooks.problem
        resolved = _resolve_scripted(environment, run, run_id)
        record = store.get_run(run_id)
        assert record is not None
        if record.status in RunRecordStatus.FINAL:
            return record
        if resolved:
            continue
        due = clock.next_at()
        if due is None:
            raise RunFunctionError(
                f"the run of {run.spec.id!r} can go no further: nothing is scheduled "
                f"(status {record.status}{f', {record.reason}' if record.reason else ''})"
            )
        clock.move_to(due)


def _resolve_scripted(environment: _RunEnvironment, run: _Run, run_id: str) -> bool:
    """Resume armed waits and invokes whose outcome the test gave; whether any was."""
    resolved = False
    for pause in environment.store.pauses_of_run(run_id):
        memo = run.scripted.pop(pause.step_id, None)
        if memo is not None:
            environment.engine.runs.resolve_pause(pause, canonical(memo))
            resolved = True
    for step_id in list(run.invokes):
        step = environment.store.get_step(run_id, step_id)
        if step is not None and step.status in ("Completed", "Failed"):
            at = step.ended_at if step.ended_at is not None else environment.clock.now()
            run.invoke_finished(
                step_id, step.memo, _dt.datetime.fromtimestamp(at, _dt.timezone.utc)
            )
    return resolved


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
