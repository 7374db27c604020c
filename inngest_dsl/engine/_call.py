"""One call's slow path: the first unfinished op, parallel groups, the bodies they call.

`execute` walks the memoised ops itself; it makes a `Call` only when it reaches something
that needs more: a `run` block, an op still to run or report, a parallel group.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Mapping
from typing import Any

import attrs

from inngest_dsl.engine._call_state import ABSENT, CallState, StepObserver
from inngest_dsl.engine._context import Context
from inngest_dsl.engine._fold import fold_memo
from inngest_dsl.engine._logger import LogGate, RunLogger
from inngest_dsl.engine._outcomes import (
    WRAPPED_KEYS,
    EventSender,
    failure,
    function_error,
    invoke_opcode,
    memoised_failure,
    run_step,
    send_step,
    sleep_opcode,
    sleep_until_opcode,
    to_events,
    unserialisable,
    wait_opcode,
)
from inngest_dsl.engine._plan import SEND, STEP, ExecutionPlan, PlannedOp
from inngest_dsl.engine._step_runner import StepRunner, Stop
from inngest_dsl.engine._steps import Steps
from inngest_dsl.spec._durations import parse_instant
from inngest_dsl.spec._event_types import event_name
from inngest_dsl.spec._function import (
    InvokeOp,
    ParallelOp,
    SendEventOp,
    SleepOp,
    SleepUntilOp,
    WaitForEventOp,
)
from inngest_dsl.spec._payloads import unstructure
from inngest_dsl.wire._calls import CallRequest
from inngest_dsl.wire._json import check_json
from inngest_dsl.wire._responses import CallResult, Opcode

__all__ = ["Call", "call_body", "not_found"]


async def call_body(entry: PlannedOp, instance: object, ctx: Context) -> Any:
    """Call `entry`'s body with `(instance, ctx)`; a sync body runs in a worker thread."""
    body = entry.body
    assert body is not None  # planned ops with a body kind always carry one
    if entry.is_async:
        return await body(instance, ctx)
    # Sync bodies may block (requests, time.sleep): keep them off the event loop.
    result = await asyncio.to_thread(body, instance, ctx)
    if inspect.isawaitable(result):
        result = await result
    return result


def not_found(plan: ExecutionPlan, target: str) -> CallResult:
    """The failure for a targeted step that is no step of the function."""
    return failure(
        f"step {target!r} is not a step of function {plan.spec.id!r}; "
        "was the function changed while this run was in flight?",
        "step_not_found",
        retry=False,
    )


class Call:
    """One call in progress, for everything off the hot path: pending ops and groups."""

    __slots__ = ("_instance", "ctx", "log_gate", "plan", "runner", "search", "state", "target")

    def __init__(
        self,
        plan: ExecutionPlan,
        request: CallRequest,
        ctx: Context,
        target: str | None,
        app_id: str,
        client: EventSender | None,
        observer: StepObserver | None,
    ) -> None:
        assert ctx.max_attempts is not None  # `execute` always sets it
        self.plan = plan
        self.ctx = ctx
        self.target = target
        # A target that is no declared op may be a step a body adds at run time: look for it.
        self.search = target is not None and target not in plan.hashes
        self.state = CallState(
            request=request,
            attempt=ctx.attempt,
            max_attempts=ctx.max_attempts,
            app_id=app_id,
            client=client,
            observer=observer,
        )
        # ctx.step reads the call's state through its runner; it knows nothing of the walk.
        self.runner = StepRunner(self.state)
        ctx._steps = Steps(self.runner)
        # ctx.logger stays silent while the call re-runs what earlier requests did.
        self.log_gate = LogGate(
            plan.top, plan.hashes, request.steps, request.ctx.stack,
            targeted=target is not None, attempt=ctx.attempt,
        )  # fmt: skip
        self.runner.log_gate = self.log_gate
        ctx.logger = RunLogger(ctx.logger, self.log_gate)
        ctx.bind(plan, request.steps)
        self._instance: object = None

    def instance(self) -> object:
        """The function class's instance the bodies of this call get as `self`."""
        if self._instance is None:
            self._instance = self.plan.spec.cls()
        return self._instance

    async def body(
        self,
        entry: PlannedOp,
        *,
        block: str | None = None,
        target: str | None = None,
        where: str = "",
    ) -> Any:
        """Call `entry`'s body; only a `block` body may use ctx.step (`where` says why not)."""
        runner = self.runner
        runner.enter(block, target, where or f"in the body of {entry.what}")
        try:
            return await call_body(entry, self.instance(), self.ctx)
        finally:
            runner.leave()

    def not_found(self) -> CallResult:
        assert self.target is not None
        return not_found(self.plan, self.target)

    # -- the first unfinished op -----------------------------------------------------------

    async def pending(self, entry: PlannedOp) -> CallResult:
        """Run the op (a step the server lets run now) or report it."""
        target = self.target
        if target is not None and target != entry.hashed:
            if self.search:
                return await self.search_in(entry)
            return failure(
                f"targeted step {target!r} is not the next unfinished op "
                f"(that is {entry.user_id!r}); the run's memo does not match this function",
                "step_unexpected",
                retry=False,
            )
        # An async step's body may replay the steps it added at run time before going on.
        self.log_gate.new_work(may_replay=entry.kind == STEP and entry.is_async)
        if entry.kind in (STEP, SEND):
            if self.state.request.ctx.disable_immediate_execution and target is None:
                return CallResult(206, [entry.ref.opcode("StepPlanned", entry.user_id)])
            return await self.run(entry, container=True)
        reported = await self.report(entry)
        if isinstance(reported, CallResult):
            return reported
        return CallResult(206, [reported])

    async def search_in(self, entry: PlannedOp) -> CallResult:
        """The target may be a step `entry`'s body adds at run time: replay it to find out."""
        if entry.kind != STEP or not entry.is_async:
            return self.not_found()  # sync bodies cannot add steps
        try:
            await self.body(entry, block=entry.user_id, target=self.target)
        except Stop as stop:
            return stop.result
        except Exception as exc:
            return function_error(exc)
        return self.runner.stopped or self.not_found()

    async def run(self, entry: PlannedOp, *, container: bool) -> CallResult:
        """Run a step or send step now; a `container` step's body may use ctx.step."""
        ctx = self.ctx
        assert ctx.max_attempts is not None  # `_context` always sets it
        if entry.kind == SEND:
            produce = self._sender(entry)
        elif container:

            async def produce() -> Any:
                return await self.body(entry, block=entry.user_id)

        else:

            async def produce() -> Any:
                return await self.body(
                    entry, where=f"in {entry.what}, which is in a parallel group"
                )

        try:
            result = await run_step(
                entry.ref, entry.what, produce, attempt=ctx.attempt, max_attempts=ctx.max_attempts
            )
        except Stop as stop:
            return stop.result
        return self.runner.stopped or result

    def _sender(self, entry: PlannedOp) -> Any:
        op = entry.op
        assert isinstance(op, SendEventOp)

        async def send() -> dict[str, list[str]]:
            if op.events is not None:
                events = list(op.events)
            else:
                events = to_events(entry.what, await self.body(entry))
            return await send_step(
                self.state.client, entry.what, events, run_id=self.ctx.run_id, hashed=entry.hashed
            )

        return send

    async def report(self, entry: PlannedOp) -> Opcode | CallResult:
        """The opcode of an op the server carries out (sleep, wait, invoke)."""
        op = entry.op
        ref = entry.ref
        if isinstance(op, SleepOp):
            return sleep_opcode(ref, op.duration)
        if isinstance(op, WaitForEventOp):
            return wait_opcode(ref, op.event, op.timeout, op.if_)
        if isinstance(op, SleepUntilOp):
            return await self._sleep_until(entry, op)
        if isinstance(op, InvokeOp):
            return await self._invoke(entry, op)
        # Steps: reported inside a group, to run in their own request.
        return ref.opcode("StepPlanned", entry.user_id)

    async def _sleep_until(self, entry: PlannedOp, op: SleepUntilOp) -> Opcode | CallResult:
        at = op.at
        if at is None:
            try:
                returned = await self.body(entry)
            except Exception as exc:
                return function_error(exc)
            try:
                at = parse_instant(returned)  # a year-less stamp: the next such instant
            except (TypeError, ValueError) as exc:
                return failure(
                    f"{entry.what} must return a datetime or an instant string: {exc}",
                    "invalid_sleep_until",
                    retry=False,
                )
        return sleep_until_opcode(entry.ref, at)

    async def _invoke(self, entry: PlannedOp, op: InvokeOp) -> Opcode | CallResult:
        data: Any = op.data
        if op.body is not None:
            try:
                data = await self.body(entry)
            except Exception as exc:
                return function_error(exc)
            if event_name(type(data)) is not None:
                data = unstructure(data)  # a typed event's data
            if data is not None and not isinstance(data, Mapping):
                return failure(
                    f"{entry.what} must return a mapping (the invoked function's event data),"
                    f" got {type(data).__name__}",
                    "invalid_invoke_data",
                    retry=False,
                )
            try:
                check_json(data)
            except (TypeError, ValueError) as exc:
                return unserialisable(entry.what, exc)
        return invoke_opcode(entry.ref, op.composite_id(self.state.app_id), data or {}, op.timeout)

    # -- parallel groups -------------------------------------------------------------------

    async def group(self, entry: PlannedOp) -> CallResult | None:
        """A parallel group: `None` once all members are done (folded in declaration order),
        else the response that moves it on: all unfinished members reported together, or
        the targeted member run."""
        memo = self.state.request.steps
        race = isinstance(entry.op, ParallelOp) and entry.op.race
        if race:
            return await self._race(entry)
        done: list[tuple[PlannedOp, Any]] = []
        unfinished: list[PlannedOp] = []
        for member in entry.members:
            value = memo.get(member.hashed, ABSENT)
            if value is ABSENT:
                unfinished.append(member)
                continue
            if type(value) is dict and value.keys() <= WRAPPED_KEYS:
                if value.get("error") is not None:
                    return memoised_failure(member.user_id, value["error"])
                value = value.get("data")
            done.append((member, value))
        if not unfinished:
            for member, value in done:
                fold_memo(self.ctx.writable_data(), member, value)
            return None
        return await self._move_on(entry, unfinished)

    async def _race(self, entry: PlannedOp) -> CallResult | None:
        """A race group: `None` once a member finished (the first in the run's stack, which is
        in completion order, wins: its result alone is folded), else as a wait group, with
        each reported member marked `parallelMode: "race"`. A targeted loser still runs."""
        memo = self.state.request.steps
        unfinished = [m for m in entry.members if m.hashed not in memo]
        if self.target is not None and any(m.hashed == self.target for m in unfinished):
            return await self._move_on(entry, unfinished)
        finished = {m.hashed: m for m in entry.members if m.hashed in memo}
        if finished:
            order = [h for h in self.state.request.ctx.stack if h in finished]
            order += [h for h in finished if h not in order]
            winner = finished[order[0]]
            value = memo[winner.hashed]
            if type(value) is dict and value.keys() <= WRAPPED_KEYS:
                if value.get("error") is not None:
                    return memoised_failure(winner.user_id, value["error"])
                value = value.get("data")
            fold_memo(self.ctx.writable_data(), winner, value)
            return None
        return await self._move_on(entry, unfinished, race=True)

    async def _move_on(
        self, entry: PlannedOp, unfinished: list[PlannedOp], *, race: bool = False
    ) -> CallResult:
        """Run the targeted member, or report every unfinished one."""
        self.log_gate.new_work()  # members cannot add steps at run time
        target = self.target
        if target is not None:
            for member in unfinished:
                if member.hashed == target and member.kind in (STEP, SEND):
                    return await self.run(member, container=False)
            if self.search:
                return self.not_found()
            return failure(
                f"targeted step {target!r} is not an unfinished step of {entry.what}; "
                "the run's memo does not match this function",
                "step_unexpected",
                retry=False,
            )
        reported: list[Opcode] = []
        for member in unfinished:
            op = await self.report(member)
            if isinstance(op, CallResult):
                return op
            if race:
                op = attrs.evolve(op, opts={**(op.opts or {}), "parallelMode": "race"})
            reported.append(op)
        return CallResult(206, reported)
