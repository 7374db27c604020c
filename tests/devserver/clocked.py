"""Dev server tests on virtual time: the real server over HTTP on a clock the test moves.

`virtual_dev_server` starts the real `DevServer` (event API, `/fn/register`, JSON API, UI,
signed HTTP calls to apps) on a `VirtualClock`: nothing waits for real time to pass. The test
moves time with `settle()`, `advance()` and `run_until()` (the testing kit's `VirtualTime`,
which awaits the calls in flight and fires the timers that come due).

A call a test keeps open on purpose (to fill a concurrency slot, say) is a `Hold`: while a
handler waits on one, settling counts that call as idle instead of waiting for it forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, cast

from inngest_dsl.devserver import DevServer, DevServerConfig
from inngest_dsl.devserver.core.clock import VirtualClock
from inngest_dsl.devserver.core.executor import Executor
from inngest_dsl.devserver.store import Store
from inngest_dsl.devserver.store.records import RunRecord, RunStatus
from inngest_dsl.testing._time import VirtualTime

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc).timestamp()
"""Where virtual time starts in these tests (a fixed instant: runs read the same every time)."""


class FakeClock(VirtualClock):
    """A virtual clock that starts at `start` (default: the real time now) and moves only
    when told to."""

    def __init__(self, start: float | None = None) -> None:
        super().__init__(time.time() if start is None else start)

    def advance(self, seconds: float) -> None:
        """Move on, firing the timers (queue items, throttles, cron) that come due."""
        self.move_to(self.now() + seconds)
        self.fire_due()

    def fire_now(self) -> None:
        self.fire_due()


class Hold:
    """Calls that the test keeps open until it lets them go.

    A handler on the event loop does `await hold.wait()`; an app in another thread (an
    official SDK app) calls `hold.block()`. Either way the call stays in flight, and counts as
    held, until `release_held()` (the calls held now go on, later ones are held again) or
    `release()` (every call goes on, now and from then on).
    """

    def __init__(self, changed: Callable[[], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._changed = changed
        self._open = False
        self._gate = asyncio.Event()
        self._threads: list[threading.Event] = []
        self.held = 0
        """How many calls are held now."""
        self.calls = 0
        """How many calls were ever held."""

    async def wait(self) -> None:
        """Hold this call (a handler on the event loop) until it is released."""
        if self._open:
            return
        gate = self._gate
        self._enter()
        await gate.wait()

    def block(self) -> None:
        """Hold this call (code in another thread) until it is released."""
        gate = threading.Event()
        self._loop.call_soon_threadsafe(self._enter_thread, gate)
        gate.wait()

    def release_held(self) -> None:
        """Let the calls held now go on; calls that arrive later are held again."""
        self.held = 0
        self._gate.set()
        self._gate = asyncio.Event()
        threads, self._threads = self._threads, []
        for gate in threads:
            gate.set()
        self._changed()

    def release(self) -> None:
        """Let every call go on, now and from now on."""
        self._open = True
        self.release_held()

    def _enter(self) -> None:
        self.held += 1
        self.calls += 1
        self._changed()

    def _enter_thread(self, gate: threading.Event) -> None:
        if self._open:
            gate.set()
            return
        self._threads.append(gate)
        self._enter()


class _Unheld:
    """The executor as `VirtualTime` sees it: calls held by a `Hold` count as idle.

    `VirtualTime.settle` awaits `in_flight` before it lets time move on; here that is one
    future, done as soon as a call ends or one more call is held, until every call left in
    flight is held (a call waiting for a slot that held calls keep is not in flight).
    """

    def __init__(self, executor: Executor, holds: list[Hold]) -> None:
        self._executor = executor
        self._holds = holds
        self._watchers: list[Callable[[], None]] = []

    def changed(self) -> None:
        watchers, self._watchers = self._watchers, []
        for watch in watchers:
            watch()

    @property
    def waiting_for_a_slot(self) -> frozenset[asyncio.Task[None]]:
        """Counted in `in_flight` already: a call waiting for a slot that held calls keep."""
        return frozenset()

    @property
    def in_flight(self) -> frozenset[asyncio.Future[None]]:
        tasks = self._executor.in_flight
        held = sum(hold.held for hold in self._holds)
        if len(tasks) <= held:  # a call waiting for a slot is no task yet
            return frozenset()
        changed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake(*_: object) -> None:
            if not changed.done():
                changed.set_result(None)

        for task in tasks:
            task.add_done_callback(wake)
        self._watchers.append(wake)
        return frozenset({changed})


class Driven:
    """Virtual time for one engine: settle, advance, run until, and holds for open calls."""

    def __init__(self, executor: Executor, clock: VirtualClock, store: Store) -> None:
        self.clock = clock
        self.store = store
        self._holds: list[Hold] = []
        self._executor = _Unheld(executor, self._holds)
        self.time = VirtualTime(cast(Executor, self._executor), clock)

    def hold(self) -> Hold:
        """A new `Hold` whose calls settling treats as idle."""
        hold = Hold(self._executor.changed)
        self._holds.append(hold)
        return hold

    def release_all(self) -> None:
        for hold in self._holds:
            hold.release()

    def now(self) -> float:
        return self.clock.now()

    async def settle(self) -> None:
        """Let everything happen that can without time passing (held calls stay open)."""
        await self.time.settle()

    async def advance(self, duration: str | float | datetime.timedelta) -> None:
        """Move virtual time on by `duration`; everything due meanwhile happens, in order."""
        await self.time.advance(duration)

    async def advance_to(self, instant: float) -> None:
        await self.time.advance_to(instant)

    async def run_until(
        self,
        condition: Callable[[], bool | Awaitable[bool]],
        within: str | float | datetime.timedelta = "1d",
    ) -> None:
        """Move time on, timer by timer, until `condition()` holds (at most `within`)."""
        await self.time.run_until(condition, within=within)

    def latest_run(self, function_id: str) -> RunRecord | None:
        runs = self.store.list_runs(function_id=function_id, limit=1)
        return runs[0] if runs else None

    async def finished_run(
        self, function_id: str, within: str | float | datetime.timedelta = "1d"
    ) -> RunRecord:
        """The latest run of `function_id`, once it has ended (time moves on until it has)."""

        def ended() -> bool:
            run = self.latest_run(function_id)
            return run is not None and run.status in RunStatus.FINAL

        await self.run_until(ended, within=within)
        run = self.latest_run(function_id)
        assert run is not None
        return run

    def count(self, status: str) -> int:
        """How many runs have `status`."""
        return self.store.count_runs().get(status, 0)


class ClockedServer(Driven):
    """A started dev server on a `FakeClock`, with the time helpers of `Driven`."""

    def __init__(self, server: DevServer, clock: FakeClock) -> None:
        super().__init__(server.executor, clock, server.store)
        self.server = server
        self.fake_clock = clock

    @property
    def url(self) -> str:
        return self.server.url


@contextlib.asynccontextmanager
async def virtual_dev_server(
    db: str | Path = ":memory:", *, start: float | None = START, **options: Any
) -> AsyncIterator[ClockedServer]:
    """A started dev server on a free loopback port whose every timer and timestamp reads a
    virtual clock starting at `start` (options are `DevServerConfig` fields)."""
    options.setdefault("retry_interval", 0.05)
    options.setdefault("poll_interval", 365 * 86400.0)  # apps are not re-synced meanwhile
    clock = FakeClock(start)
    server = DevServer(DevServerConfig(port=0, db=str(db), **options))
    server.clock = clock
    async with server:
        clocked = ClockedServer(server, clock)
        try:
            yield clocked
        finally:
            clocked.release_all()


@contextlib.asynccontextmanager
async def clocked_dev_server(tmp_path: Path) -> AsyncIterator[tuple[DevServer, FakeClock]]:
    """A started dev server whose every timer and timestamp reads a `FakeClock`."""
    async with virtual_dev_server(tmp_path / "dev.db", start=None) as clocked:
        yield clocked.server, clocked.fake_clock
