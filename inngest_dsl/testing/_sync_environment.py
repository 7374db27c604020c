"""`SyncTestEnvironment`: a `TestEnvironment` for plain (not async) tests."""

from __future__ import annotations

import asyncio
import datetime as _dt
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from inngest_dsl.client import refuse_running_loop
from inngest_dsl.spec._event import Event, SendableEvents
from inngest_dsl.spec._function import FunctionSpec
from inngest_dsl.testing._client import CapturingClient
from inngest_dsl.testing._environment import TestEnvironment
from inngest_dsl.testing._in_process import AppCall
from inngest_dsl.testing._server_run import ServerRun

__all__ = ["SyncTestEnvironment"]

_T = TypeVar("_T")


class SyncTestEnvironment:
    """`TestEnvironment` for plain (not async) tests: the same methods, without `await`.

    ```python
    with SyncTestEnvironment([Nightly], now="2026-01-01T00:00:00Z") as env:
        env.advance("1d")
        assert len(env.runs(Nightly)) == 1
    ```
    """

    __test__ = False

    def __init__(self, functions: Iterable[type | FunctionSpec] = (), **options: Any) -> None:
        self.environment = TestEnvironment(functions, **options)
        self._loop: asyncio.AbstractEventLoop | None = None

    def _run(self, awaitable: Awaitable[_T]) -> _T:
        if self._loop is None:
            raise RuntimeError("use SyncTestEnvironment in a `with` statement")
        return self._loop.run_until_complete(awaitable)

    def __enter__(self) -> SyncTestEnvironment:
        try:
            refuse_running_loop(
                "SyncTestEnvironment was used inside a running event loop (an async test?); "
                "use `async with TestEnvironment(...)` there"
            )
        except RuntimeError:
            self.environment.store.close()
            raise
        self._loop = asyncio.new_event_loop()
        try:
            self._run(self.environment.start())
        except BaseException:
            self._close_loop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._run(self.environment.close())
        finally:
            self._close_loop()

    def _close_loop(self) -> None:
        # As `asyncio.run` ends: async generators, then the worker threads of sync bodies.
        loop, self._loop = self._loop, None
        if loop is not None:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()

    @property
    def client(self) -> CapturingClient:
        """`TestEnvironment.client`: the functions' client (what it sends reaches the
        environment)."""
        return self.environment.client

    def function_id(self, function: type | FunctionSpec | str) -> str:
        """`TestEnvironment.function_id`."""
        return self.environment.function_id(function)

    def is_final(self, run_id: str) -> bool:
        """`TestEnvironment.is_final`."""
        return self.environment.is_final(run_id)

    def register_app(self, body: Mapping[str, Any]) -> bool:
        """`TestEnvironment.register_app`."""
        return self.environment.register_app(body)

    def add_app(self, url: str, app: AppCall) -> None:
        """`TestEnvironment.add_app`."""
        self.environment.add_app(url, app)

    @property
    def now(self) -> _dt.datetime:
        """`TestEnvironment.now`."""
        return self.environment.now

    @property
    def sent_events(self) -> list[Event]:
        """`TestEnvironment.sent_events`."""
        return self.environment.sent_events

    async def sleep(self, duration: str | float | _dt.timedelta) -> None:
        """`TestEnvironment.sleep`, for async step bodies (it is awaited in the body)."""
        await self.environment.sleep(duration)

    def send(self, events: SendableEvents) -> list[str]:
        """`TestEnvironment.send`."""
        return self._run(self.environment.send(events))

    def settle(self) -> None:
        """`TestEnvironment.settle`."""
        self._run(self.environment.settle())

    def advance(self, duration: str | float | _dt.timedelta) -> None:
        """`TestEnvironment.advance`."""
        self._run(self.environment.advance(duration))

    def advance_to(self, instant: _dt.datetime | str | float) -> None:
        """`TestEnvironment.advance_to`."""
        self._run(self.environment.advance_to(instant))

    def run_until(
        self, condition: Callable[[], bool], *, within: str | float | _dt.timedelta = "1d"
    ) -> None:
        """`TestEnvironment.run_until`."""
        self._run(self.environment.run_until(condition, within=within))

    def runs(
        self, function: type | FunctionSpec | str | None = None, *, status: str | None = None
    ) -> list[ServerRun]:
        """`TestEnvironment.runs`."""
        return self._run(self.environment.runs(function, status=status))

    def run(self, run_id: str) -> ServerRun:
        """`TestEnvironment.run`."""
        return self._run(self.environment.run(run_id))

    def runs_of_event(self, event_id: str) -> list[ServerRun]:
        """`TestEnvironment.runs_of_event`."""
        return self._run(self.environment.runs_of_event(event_id))

    def cancel(self, run_id: str) -> ServerRun:
        """`TestEnvironment.cancel`."""
        return self._run(self.environment.cancel(run_id))
