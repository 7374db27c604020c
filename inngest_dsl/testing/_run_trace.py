"""The trace of a run in progress, and the `RunResult` it ends in.

One entry per block, in the order the blocks ran: declared blocks are told about by their
instrumented bodies (as the `Observer`), steps added at run time by the engine (as the
`StepObserver`); what each call answered fills in the rest (`_run_answers`).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast, get_args

import attrs

from inngest_dsl.devserver.store.records import RunRecord
from inngest_dsl.engine._call_state import NO_MOCK
from inngest_dsl.engine._outcomes import StepRef
from inngest_dsl.engine._plan import ExecutionPlan, verb_of
from inngest_dsl.spec._event import Event
from inngest_dsl.spec._function import FunctionSpec, WaitForEventOp
from inngest_dsl.testing._instrument import NOT_MOCKED
from inngest_dsl.testing._result import ErrorInfo, OpKind, RunResult, RunStatus, TraceOp
from inngest_dsl.testing._run_inputs import Mocks, RunFunctionError, mockable
from inngest_dsl.wire._responses import ErrorBody

if TYPE_CHECKING:
    from inngest_dsl.engine._context import Context

__all__ = ["Entry", "Key", "RunTrace", "code_of", "error_info"]

_VERBS: frozenset[str] = frozenset(get_args(OpKind))


@attrs.define
class Entry:
    """One block of the trace, as it is so far."""

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


def code_of(error: object) -> str | None:
    """The machine-readable code of a wire error, if it has one."""
    return error.code if isinstance(error, ErrorBody) else None


def error_info(error: object) -> ErrorInfo:
    """An error as the trace shows it, from a wire error or a recorded one."""
    if isinstance(error, ErrorBody):
        return ErrorInfo(name=error.name, message=error.message, stack=error.stack)
    if isinstance(error, Mapping):
        return ErrorInfo(
            name=str(error.get("name") or "Error"),
            message=str(error.get("message") or ""),
            stack=error.get("stack") if isinstance(error.get("stack"), str) else None,
        )
    return ErrorInfo(name="Error", message=repr(error))


Key = int | str
"""A trace entry's key: a declared op's position, or the wire id of a `ctx.step` step."""


class RunTrace:
    """One run's trace, mocks and scripts: the observer of its bodies and of the steps they
    add at run time; `RunResult` at the end."""

    def __init__(
        self,
        spec: FunctionSpec,
        plan: ExecutionPlan,
        mocks: Mocks,
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
        self.entries: dict[Key, Entry] = {}
        self.last_ctx: Context | None = None
        self.raised_in_call: Key | None = None
        self.started_in_call: Key | None = None
        # Waits to resume with their scripted event once armed, by wire id (a wait scripted
        # to time out is not here: virtual time runs out its timeout).
        self.scripted: dict[str, Any] = {}
        self.invokes: dict[str, Entry] = {}
        self.wanted_callees: list[FunctionSpec] = []
        self.output: Any = None
        self.data: dict[str, Any] = {}
        self.failure: tuple[ErrorInfo, Key | None, Key | None, str | None] | None = None

    # -- Observer of declared bodies -------------------------------------------------------

    def entry(self, key: Key) -> Entry:
        entry = self.entries.get(key)
        if entry is None:
            assert isinstance(key, int)  # steps added at run time are entered when reached
            op = self.spec.ops[key]
            entry = self.entries[key] = Entry(kind=cast(OpKind, verb_of(op)), id=op.id)
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
            entry = self.entries[ref.hashed] = Entry(
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

    def call_started(self) -> None:
        self.raised_in_call = self.started_in_call = None

    # -- The result ------------------------------------------------------------------------

    def check_scripts_used(self, draft: RunResult) -> None:
        """Mocks and waits for ids that are no declared block must have met a `ctx.step`
        by the time the run completed."""
        problems = [
            f"steps= mocks {block_id!r}, which is not a block with a body of function "
            f"{self.spec.id!r} and no ctx.step step of that id ran; blocks that can be "
            f"mocked: {', '.join(map(repr, mockable(self.spec))) or 'none'}"
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
                error = error_info(record.error)  # as the engine recorded it
            if raised is not None:
                entry = self.entry(raised)
                entry.error = entry.errors[-1]
            elif code == "output_unserializable" and started is not None:
                # The block returned without raising; what failed is its result.
                self.entry(started).error = error
        elif record.error is not None:
            error = error_info(record.error)
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
            spec=self.spec,
        )
        draft = attrs.evolve(draft, status=RunStatus(status, draft.format_trace()))
        if draft.completed:  # a failed run may just not have got that far
            self.check_scripts_used(draft)
        return draft
