"""Reading what each call of the run under test answered: the trace's results, errors,
sleeps and waits; scripted waits and mocked invokes handed on to the engine."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import attrs

from inngest_dsl.devserver.core.protocol import STEP_KINDS
from inngest_dsl.engine._outcomes import sent_ids
from inngest_dsl.serve._call import Answer
from inngest_dsl.spec._durations import parse_duration, parse_instant
from inngest_dsl.spec._event import Event
from inngest_dsl.spec._expressions import expression_is_true
from inngest_dsl.spec._function import FunctionSpec, InvokeOp, SleepOp, spec_of
from inngest_dsl.testing._result import ErrorInfo, OpKind
from inngest_dsl.testing._run_inputs import RunFunctionError, json_round_trip, to_event
from inngest_dsl.testing._run_trace import Entry, Key, RunTrace, code_of, error_info
from inngest_dsl.wire._responses import Opcode

__all__ = ["RunInProgress"]

# The trace's names for the kinds of step an opcode reports (see `protocol.STEP_KINDS`).
_TRACE_KINDS: dict[str, OpKind] = {
    "Run": "step",
    "Sleep": "sleep",
    "WaitForEvent": "wait_for_event",
    "InvokeFunction": "invoke",
}


class RunInProgress(RunTrace):
    """The trace of the run under test, kept from what its calls answered."""

    def answered(self, answer: Answer, last_attempt: bool) -> Answer:
        """Trace what one call of this run answered; the engine decides what follows.

        A mocked invoke is handed on as a finished step with the mocked outcome: the engine
        memoises it as the invoked run's end would, and nothing is invoked.
        """
        if answer.status == 200:
            self.output = json_round_trip(
                answer.body, f"the output of function {self.spec.id!r}"
            )
            self.data = answer.body if isinstance(answer.body, dict) else {}
            return answer
        if answer.status != 206:
            code = code_of(answer.body)
            self.failure = (
                error_info(answer.body), self.raised_in_call, self.started_in_call, code
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

    def key_of(self, opcode: Opcode) -> Key:
        position = self.plan.hashes.get(opcode.id)
        if position is not None:
            return position
        if opcode.id not in self.entries:
            kind = _TRACE_KINDS.get(STEP_KINDS.get(opcode.op, ""))
            if kind is None:
                raise RunFunctionError(
                    f"the engine reported {opcode.op} for an unknown step id {opcode.id!r}"
                )
            self.entries[opcode.id] = Entry(kind=kind, id=opcode.display_name, dynamic=True)
        return opcode.id

    def attempted(self, opcode: Opcode) -> None:
        """A step reported how an attempt went; count it if no body told us already."""
        key = self.key_of(opcode)
        entry = self.entry(key)
        if self.started_in_call != key:  # a send of fixed events has no body
            entry.attempts += 1
        if opcode.op != "StepRun" and self.raised_in_call != key:
            entry.errors.append(error_info(opcode.error))

    def step_ran(self, opcode: Opcode) -> None:
        entry = self.entry(self.key_of(opcode))
        data = json_round_trip(opcode.data, f"the result of step {opcode.display_name!r}")
        entry.data = sent_ids(data) if entry.kind == "send_event" else data
        entry.at = self.now()

    def step_failed(self, opcode: Opcode) -> None:
        entry = self.entry(self.key_of(opcode))
        json_round_trip(opcode.error, f"the error of step {opcode.display_name!r}")
        entry.error, entry.at = error_info(opcode.error), self.now()

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
        event = to_event(scripted, f"waits[{wait_id!r}]", default_name=event_name)
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
                memo = {"data": json_round_trip(outcome, f"steps[{entry.id!r}]")}
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

    def _callee(self, key: Key, entry: Entry, function_id: str) -> FunctionSpec:
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
            entry.error = error_info(memo["error"])
        elif isinstance(memo, dict):
            entry.data = memo.get("data")


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
