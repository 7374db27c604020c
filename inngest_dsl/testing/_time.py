"""Driving an engine on a virtual clock: settle, move time on, run until something holds.

`TestEnvironment` drives its in-memory engine with this; so can a test that runs the real dev
server over HTTP on a `VirtualClock`, since what it waits for (calls in flight, timers due)
is the same.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import inspect
import math
from collections.abc import Awaitable, Callable

from inngest_dsl.devserver.core.clock import Timer, VirtualClock
from inngest_dsl.devserver.core.executor import Executor
from inngest_dsl.errors import InngestError
from inngest_dsl.spec._durations import parse_duration, parse_instant

__all__ = ["TestEnvironmentError", "VirtualTime", "start_instant"]


class TestEnvironmentError(InngestError):
    """The test environment cannot do what was asked: an unknown function or mock, a bad
    duration or time, an event the event API would refuse, a run that does not exist, a
    condition that never held."""

    __test__ = False


def _seconds(value: str | float | _dt.timedelta, what: str) -> float:
    if isinstance(value, _dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif not isinstance(value, str):
        raise TestEnvironmentError(f"{what}: expected a duration, got {value!r}")
    elif value.strip() in ("0", "0s"):
        seconds = 0.0
    else:
        try:
            seconds = parse_duration(value).total_seconds()
        except (TypeError, ValueError) as exc:
            raise TestEnvironmentError(f"{what}: {exc}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise TestEnvironmentError(f"{what}: time only moves forward, got {value!r}")
    return seconds


def start_instant(now: _dt.datetime | str | None) -> _dt.datetime:
    """Where virtual time starts: `now` (a datetime or RFC 3339 text), else the real time."""
    if now is None:
        return parse_instant(_dt.datetime.now(_dt.timezone.utc))
    try:
        return parse_instant(now)
    except (TypeError, ValueError) as exc:
        raise TestEnvironmentError(f"now=: {exc}") from None


class VirtualTime:
    """Moves a `VirtualClock` on for an engine's executor, letting all due work happen."""

    def __init__(
        self, executor: Executor, clock: VirtualClock, errors: list[BaseException] | None = None
    ) -> None:
        """`errors` is where the engine reports its own failures (its `on_error`): each is
        raised from the next settle instead of leaving a run stuck."""
        self.executor = executor
        self.clock = clock
        self._errors = errors if errors is not None else []
        self._sleeping: set[asyncio.Task[object]] = set()
        """Calls in flight whose step body is in `sleep()`: busy, but only until a timer."""
        self._slept: asyncio.Future[None] | None = None
        self._moving: asyncio.Lock | None = None  # one settle or advance at a time

    @property
    def now(self) -> _dt.datetime:
        """The virtual time, in UTC."""
        return _dt.datetime.fromtimestamp(self.clock.now(), _dt.timezone.utc)

    def _refuse_from_a_body(self, what: str) -> None:
        if asyncio.current_task() in self.executor.in_flight:
            raise TestEnvironmentError(
                f"{what} was called from a step body, whose call it would wait for: bodies "
                "send events through the client (`ctx`'s client or `env.client`) and take "
                "time with `env.sleep()`"
            )

    def _lock(self) -> asyncio.Lock:
        if self._moving is None:
            self._moving = asyncio.Lock()
        return self._moving

    async def settle(self) -> None:
        """Let everything happen that can without time passing: calls, their follow-ups,
        timers due now. Returns when the engine is idle until the clock moves."""
        self._refuse_from_a_body("settle()")
        async with self._lock():
            await self._settle()

    async def _settle(self) -> None:
        await self._settle_calls()
        if self._errors:
            error, *_ = self._errors
            self._errors.clear()
            raise TestEnvironmentError(
                f"the run engine failed (a bug in inngest_dsl, not in your functions): "
                f"{type(error).__name__}: {error}"
            ) from error

    async def _settle_calls(self) -> None:
        while True:
            await asyncio.sleep(0)
            self.clock.fire_due()
            tasks = self._busy()
            if tasks:
                # Until they end, or one of them starts sleeping in virtual time.
                self._slept = asyncio.get_running_loop().create_future()
                await asyncio.wait({*tasks, self._slept}, return_when=asyncio.FIRST_COMPLETED)
                self._slept = None
                continue
            due = self.clock.next_at()
            if due is not None and due <= self.clock.now():
                continue
            await asyncio.sleep(0)
            if not self._busy() and not self._due_now():
                return

    def _busy(self) -> frozenset[asyncio.Task[None]]:
        """The calls in flight that can get on without the clock moving: not those whose body
        sleeps in virtual time, nor those waiting for a server-wide slot such calls hold."""
        executor = self.executor
        return executor.in_flight - self._sleeping - executor.waiting_for_a_slot

    async def sleep(self, duration: str | float | _dt.timedelta) -> None:
        """From inside a step body: take `duration` of virtual time, as slow work would.

        ```python
        @step("export")
        async def export(self, ctx: Context) -> None:
            await env.sleep("5m")  # the call holds its concurrency slot for five minutes
        ```

        The call stays in flight (it keeps its concurrency slot) while the clock moves on;
        `settle()` counts it as waiting for a timer, so `advance()` and `run_until()` move
        time past it. Await it in the body itself, not in a task of its own.
        """
        seconds = _seconds(duration, "sleep()")
        task = asyncio.current_task()
        if task is None or task not in self.executor.in_flight:
            raise TestEnvironmentError(
                "sleep() is for step bodies, awaited in the body itself: only a call in "
                "flight can take virtual time"
            )
        woken = asyncio.get_running_loop().create_future()

        def wake() -> None:
            self._sleeping.discard(task)  # busy again from now, before it even resumes
            if not woken.done():
                woken.set_result(None)

        timer: Timer = self.clock.call_at(self.clock.now() + seconds, wake)
        self._sleeping.add(task)
        if self._slept is not None and not self._slept.done():
            self._slept.set_result(None)
        try:
            await woken
        finally:
            timer.cancel()
            self._sleeping.discard(task)

    def _due_now(self) -> bool:
        due = self.clock.next_at()
        return due is not None and due <= self.clock.now()

    async def advance(self, duration: str | float | _dt.timedelta) -> None:
        """Move virtual time on by `duration` ("10m", a `timedelta`, or seconds); everything
        due in between happens, in order, each at its own time."""
        await self.advance_to(self.clock.now() + _seconds(duration, "advance()"))

    async def advance_to(self, instant: _dt.datetime | str | float) -> None:
        """Move virtual time on to `instant` (a datetime, RFC 3339 text, or epoch seconds);
        it must not be in the past."""
        if isinstance(instant, (_dt.datetime, str)):
            try:
                target = parse_instant(instant).timestamp()
            except (TypeError, ValueError) as exc:
                raise TestEnvironmentError(f"advance_to(): {exc}") from None
        else:
            target = float(instant)
        if not math.isfinite(target) or target < self.clock.now():
            raise TestEnvironmentError(
                f"advance_to(): time only moves forward; {instant!r} is before now "
                f"({self.now.isoformat()})"
            )
        self._refuse_from_a_body("advance()")
        async with self._lock():
            await self._settle()
            while (due := self.clock.next_at()) is not None and due <= target:
                self.clock.move_to(due)
                await self._settle()
            self.clock.move_to(target)
            await self._settle()

    async def run_until(
        self,
        condition: Callable[[], bool | Awaitable[bool]],
        *,
        within: str | float | _dt.timedelta = "1d",
    ) -> None:
        """Move time on, timer by timer, until `condition()` holds (checked after each step).

        Raises `TestEnvironmentError` if it does not hold by `within` of virtual time.
        """
        limit = self.clock.now() + _seconds(within, "run_until(within=)")
        self._refuse_from_a_body("run_until()")
        async with self._lock():
            await self._settle()
            while True:
                held = condition()
                if inspect.isawaitable(held):
                    held = await held
                if held:
                    return
                due = self.clock.next_at()
                if due is None or due > limit:
                    later = "nothing is scheduled" if due is None else "the next timer is later"
                    raise TestEnvironmentError(
                        f"the condition did not hold within {within!r} of virtual time "
                        f"(now {self.now.isoformat()}; {later})"
                    )
                self.clock.move_to(due)
                await self._settle()

