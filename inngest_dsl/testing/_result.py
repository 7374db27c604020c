"""What `run_function` returns: the outcome of a run and a readable trace of how it got there."""

from __future__ import annotations

import datetime as _dt
import reprlib
from typing import TYPE_CHECKING, Any, Literal

from attrs import field, frozen

from inngest_dsl.testing._step_keys import method_id

if TYPE_CHECKING:
    from inngest_dsl.spec._event import Event
    from inngest_dsl.spec._function import FunctionSpec

__all__ = ["ErrorInfo", "OpKind", "RunResult", "RunStatus", "TraceOp"]

OpKind = Literal[
    "run", "step", "sleep", "sleep_until", "wait_for_event", "invoke", "send_event"
]

class _ShortRepr(reprlib.Repr):
    def repr_Event(self, event: Any, level: int) -> str:  # reprlib dispatches on the type name
        return f"Event({event.name!r}, data={self.repr1(dict(event.data), level - 1)})"


_repr = _ShortRepr()
_repr.maxstring = 80
_repr.maxother = 80
_repr.maxdict = 8
_repr.maxlist = 8
_repr.maxlevel = 3


def _short(value: Any) -> str:
    return _repr.repr(value)


def _instant(value: _dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@frozen
class ErrorInfo:
    """An error as the executor records it: the exception's class name and message."""

    name: str
    message: str
    stack: str | None = field(default=None, repr=False, eq=False)

    def __str__(self) -> str:
        return f"{self.name}: {self.message}" if self.message else self.name


@frozen
class TraceOp:
    """One block of the run, as it happened.

    `data` is what the block produced: a step's result (as memoised, so after a JSON round
    trip), a run block's latest return value, a sleep's duration (`timedelta`), a
    `sleep_until`'s instant (`datetime`), a wait's `Event` (or `None` after its timeout), an
    invoke's result (the invoked function's output), a send's event ids.
    `attempts` counts the calls of the body (for a run block: one per request that reached
    it); `errors` holds the error of every failed attempt and `error` the final one, if the
    block failed for good. `at` is the virtual time at which the block finished. `dynamic`
    is true for a step a body added at run time with `ctx.step`.
    """

    kind: OpKind
    id: str
    data: Any = None
    attempts: int = 0
    error: ErrorInfo | None = None
    errors: tuple[ErrorInfo, ...] = ()
    mocked: bool = False
    at: _dt.datetime | None = None
    dynamic: bool = False

    @property
    def timed_out(self) -> bool:
        """True for a `wait_for_event` that ended with its timeout."""
        return self.kind == "wait_for_event" and self.data is None

    def describe(self, started_at: _dt.datetime | None = None) -> str:
        """One line: what the block did (and when, relative to `started_at`, once time passed)."""
        label = f"{self.kind:<14} {self.id!r}"
        if self.kind == "sleep":
            outcome = f"slept {self.data}"
        elif self.kind == "sleep_until":
            outcome = f"slept until {_instant(self.data)}" if self.data else "slept"
        elif self.kind == "wait_for_event":
            outcome = "timed out" if self.data is None else f"received {_short(self.data)}"
        elif self.error is not None:
            noun = "attempt" if self.attempts == 1 else "attempts"
            outcome = f"FAILED after {self.attempts} {noun}: {self.error}"
        elif self.kind == "run":
            outcome = f"ran {self.attempts}x -> {_short(self.data)}"
        elif self.kind == "send_event":
            outcome = f"sent {_short(self.data)}"
        else:
            outcome = f"-> {_short(self.data)}"
            if self.attempts > 1:
                outcome += f" (attempt {self.attempts})"
        if self.errors and self.error is None:
            outcome += f"; earlier errors: {', '.join(str(e) for e in self.errors)}"
        if self.mocked:
            outcome += " [mocked]"
        if self.dynamic:
            outcome += " [ctx.step]"
        if started_at is not None and self.at is not None and self.at != started_at:
            outcome += f"  (at +{self.at - started_at})"
        return f"{label}  {outcome}"


class RunStatus(str):
    """`"completed"` or `"failed"`: a plain string that also knows the run's trace.

    Compares like the string; the pytest plugin prints the trace when an assertion such as
    `assert result.status == "completed"` fails.
    """

    trace_text: str

    def __new__(cls, value: str, trace_text: str = "") -> RunStatus:
        status = super().__new__(cls, value)
        status.trace_text = trace_text
        return status

    def __repr__(self) -> str:
        return repr(str(self))


@frozen
class RunResult:
    """The outcome of `run_function`.

    `output` is the function's return value as the executor records it (JSON; `None` when
    the run failed); `data` is `ctx.data` when the run stopped (waits as `Event`s); `error` is
    why it failed; `trace` lists the blocks in the order they ran; `sleeps` the virtual time
    each sleep took; `started_at`/`finished_at` are virtual times; `calls` counts the
    requests the engine served; `sent_events` are the events the run's `send_event` blocks
    and `ctx.step.send_event` calls sent, in order.
    """

    function_id: str
    run_id: str
    status: RunStatus
    output: Any
    data: dict[str, Any]
    error: ErrorInfo | None
    trace: tuple[TraceOp, ...]
    sleeps: tuple[_dt.timedelta, ...]
    started_at: _dt.datetime
    finished_at: _dt.datetime
    calls: int
    sent_events: tuple[Event, ...] = ()
    # The function run, to find a block by its method (`result.step(Checkout.charge)`).
    spec: FunctionSpec | None = field(default=None, repr=False, eq=False)

    @property
    def completed(self) -> bool:
        """The run finished successfully."""
        return self.status == "completed"

    @property
    def failed(self) -> bool:
        """The run failed (see `error`)."""
        return self.status == "failed"

    @property
    def elapsed(self) -> _dt.timedelta:
        """Virtual time the run took (its sleeps and wait timeouts)."""
        return self.finished_at - self.started_at

    def step(self, id: object) -> TraceOp:
        """The first trace entry with this block id (a step, run, sleep or wait id), or of the
        block a method (`Checkout.charge`) or a handle (`Checkout.confirmed`) names."""
        if not isinstance(id, str):
            try:
                id = method_id(id, [self.spec] if self.spec is not None else []) or id
            except ValueError as exc:
                raise KeyError(str(exc)) from None
            id = getattr(id, "id", id)
        for op in self.trace:
            if op.id == id:
                return op
        known = ", ".join(repr(op.id) for op in self.trace) or "none"
        raise KeyError(f"no block {id!r} ran in this run; blocks that ran: {known}")

    def ops(self, kind: OpKind | None = None) -> tuple[TraceOp, ...]:
        """The trace entries, optionally only those of one kind."""
        return self.trace if kind is None else tuple(op for op in self.trace if op.kind == kind)

    def format_trace(self) -> str:
        """A readable, multi-line account of the run: outcome, each block, final data."""
        noun = "call" if self.calls == 1 else "calls"
        lines = [
            f"run of {self.function_id!r} {self.status} after {self.calls} {noun} "
            f"(virtual time {_instant(self.started_at)} + {self.elapsed})"
        ]
        if self.error is not None:
            lines.append(f"error: {self.error}")
        lines.append("trace:" if self.trace else "trace: (no block ran)")
        lines.extend(
            f"  {index}. {op.describe(self.started_at)}" for index, op in enumerate(self.trace, 1)
        )
        lines.append(f"data: {_short(self.data)}")
        return "\n".join(lines)

    def assert_completed(self) -> None:
        """Raise `AssertionError` with the trace unless the run completed."""
        if not self.completed:
            raise AssertionError(f"expected the run to complete\n{self.format_trace()}")

    def assert_failed(self, message: str | None = None) -> None:
        """Raise `AssertionError` with the trace unless the run failed (with `message` in it)."""
        if not self.failed:
            raise AssertionError(f"expected the run to fail\n{self.format_trace()}")
        if message is not None and (self.error is None or message not in str(self.error)):
            raise AssertionError(
                f"expected the run to fail with {message!r}\n{self.format_trace()}"
            )

    def __repr__(self) -> str:
        error = f", error={str(self.error)!r}" if self.error is not None else ""
        return (
            f"<RunResult {self.function_id!r} {self.status}{error}, "
            f"{len(self.trace)} ops, output={_short(self.output)}>"
        )
