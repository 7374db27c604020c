"""The engine's side of `ctx.step` in one call: ids, memo, running or reporting a step.

`Steps` (what bodies see as `ctx.step`) checks what the user asked for; this decides what it
means for the call: the step's wire id, whether it is memoised, and for the first one that is
not, whether it runs right there or is reported, ending the request with `Stop`.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from inngest_dsl.engine._call_state import ABSENT, NO_MOCK, CallState
from inngest_dsl.engine._logger import LogGate
from inngest_dsl.engine._outcomes import StepRef, failure, hash_step_id, run_step
from inngest_dsl.errors import NonRetriableError
from inngest_dsl.wire._responses import CallResult, Opcode

__all__ = ["StepRunner", "Stop", "misuse"]


class Stop(BaseException):
    """Ends the request from inside a body: a dynamic step ran, or must be reported.

    A `BaseException`, so that `except Exception` in user code lets it through.
    """

    def __init__(self, result: CallResult) -> None:
        super().__init__("the request ends here")
        self.result = result


def misuse(message: str) -> NonRetriableError:
    """A programming error: retrying cannot help, so the run fails now, saying why."""
    return NonRetriableError(message)


class StepRunner:
    """The dynamic steps of one call: which body may add them, their ids, their fate."""

    __slots__ = ("_block", "_busy", "_counts", "_stop", "_target", "_where", "log_gate", "state")

    def __init__(self, state: CallState) -> None:
        self.state = state
        self._counts: dict[str, int] | None = None
        # The block whose body may use ctx.step now (None: no such body is running), and
        # the step the request targets as far as this body is concerned.
        self._block: str | None = None
        self._target: str | None = None
        self._where = "outside the function's blocks"
        self._busy = False
        self._stop: CallResult | None = None
        self.log_gate: LogGate | None = None

    # -- the walk's side -------------------------------------------------------------------

    def enter(self, block: str | None, target: str | None, where: str) -> None:
        """A body starts: `block` may use ctx.step (None: it may not, and `where` says why)."""
        self._block = block
        self._target = target
        self._where = where

    def leave(self) -> None:
        """The body ended."""
        self._block = None
        self._where = "outside the function's blocks (after the block returned)"

    @property
    def stopped(self) -> CallResult | None:
        """The response a dynamic step decided, if a body swallowed the `Stop` it raised."""
        return self._stop

    # -- ctx.step's side: ids and memo -----------------------------------------------------

    @property
    def target(self) -> str | None:
        """The step the request targets, as far as the running body is concerned."""
        return self._target

    def halt(self, result: CallResult) -> Stop:
        """Decide the call's response: `result`, raised as `Stop` by the caller."""
        self._stop = result
        return Stop(result)

    def ref(self, verb: str, id: object) -> StepRef:
        """The wire name of the step `ctx.step.<verb>(id)` adds; `misuse` if it cannot."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise misuse(
                f"ctx.step.{verb}() was called from a sync block body, which runs in a worker "
                "thread and cannot await: make the block `async def`"
            ) from None
        block = self._block
        if block is None:
            raise misuse(
                f"ctx.step.{verb}() was called {self._where}; only async run and step blocks "
                "(outside parallel groups) can add steps at run time"
            )
        if self._busy:
            raise misuse(
                f"ctx.step.{verb}({id!r}) was called while another ctx.step call is running; "
                "await them one at a time (ctx.step.parallel fans out), and do not nest them "
                "in a step's function"
            )
        if not isinstance(id, str) or not id.strip():
            raise misuse(f"ctx.step.{verb}(): the step id must be a non-empty string, got {id!r}")
        if self._stop is not None:
            raise Stop(self._stop)
        counts = self._counts
        if counts is None:
            counts = self._counts = {}
        key = f"{len(block)}:{block}/{id}"
        count = counts.get(key, 0)
        counts[key] = count + 1
        return StepRef(id, hash_step_id(f"{key}:{count}" if count else key), count or None)

    def memo(self, ref: StepRef) -> Any:
        """The step's raw memo value, or `ABSENT`."""
        value = self.state.memo(ref.hashed)
        if value is not ABSENT and self.log_gate is not None:
            self.log_gate.read(ref.hashed)
        return value

    def observe(self, ref: StepRef, kind: str, callee: type | None = None) -> None:
        """Tell the observer, if any, that an unfinished step was reached."""
        observer = self.state.observer
        if observer is not None:
            observer.dynamic_reached(ref, kind, callee)

    # -- ctx.step's side: running and reporting --------------------------------------------

    async def run_now(self, ref: StepRef, produce: Callable[[], Awaitable[Any]]) -> Stop:
        """Run the step here, in this request; the `Stop` carrying how it went."""
        state = self.state
        if self.log_gate is not None:
            self.log_gate.new_work()
        if self._busy:
            # Two unfinished steps awaited together (asyncio.gather): one request runs one.
            raise misuse(
                f"ctx.step.run({ref.user_id!r}) ran while another ctx.step call was running; "
                "await ctx.step calls one at a time (ctx.step.parallel fans out)"
            )
        self._busy = True
        try:
            result = await run_step(
                ref,
                f"step {ref.user_id!r}",
                produce,
                attempt=state.attempt,
                max_attempts=state.max_attempts,
            )
        finally:
            self._busy = False
        return self.halt(result)

    async def unfinished(
        self,
        ref: StepRef,
        kind: str,
        produce: Callable[[], Awaitable[Any]] | None,
        report: Callable[[], Opcode],
        callee: type | None = None,
    ) -> Stop:
        """The first unfinished dynamic step: run it, report it, or refuse it when targeting."""
        if self._stop is not None:
            # A sibling awaited alongside this one already decided the response.
            raise Stop(self._stop)
        target = self._target
        if target is not None and target != ref.hashed:
            return self.halt(
                failure(
                    f"found step {ref.user_id!r} ({ref.hashed}) while the request targets step "
                    f"{target!r}; the run's memo does not match this function",
                    "step_unexpected",
                    retry=False,
                )
            )
        self.observe(ref, kind, callee)
        if self.log_gate is not None:
            self.log_gate.new_work()
        if produce is not None and (
            target is not None or not self.state.request.ctx.disable_immediate_execution
        ):
            return await self.run_now(ref, produce)
        return self.halt(CallResult(206, [report()]))

    def producer(self, ref: StepRef, fn: Callable[..., Any], args: Sequence[Any]) -> Any:
        """What runs the step: `fn(*args)` (off the loop if sync), or the observer's mock."""
        observer = self.state.observer

        async def produce() -> Any:
            if observer is not None:
                mocked = observer.dynamic_mock(ref)
                observer.dynamic_started(ref, mocked is not NO_MOCK)
                if mocked is not NO_MOCK:
                    if isinstance(mocked, BaseException):
                        observer.dynamic_raised(ref, mocked)
                        raise mocked
                    observer.dynamic_returned(ref, mocked)
                    return mocked
            try:
                if inspect.iscoroutinefunction(fn):
                    value = await fn(*args)
                else:
                    # A sync function may block: keep it off the event loop.
                    value = await asyncio.to_thread(fn, *args)
                    if inspect.isawaitable(value):
                        value = await value
            except BaseException as exc:
                if observer is not None:
                    observer.dynamic_raised(ref, exc)
                raise
            if observer is not None:
                observer.dynamic_returned(ref, value)
            return value

        return produce
