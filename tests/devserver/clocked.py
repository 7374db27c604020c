"""A dev server on a clock the test moves, so second-long flow control periods take no time."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

from inngest_dsl.devserver import DevServer, DevServerConfig


class FakeClock:
    """A wall clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = time.time()
        self.server: DevServer | None = None

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move on, and have the executor look at its queue again (timers come due)."""
        self.now += seconds
        if self.server is not None:
            self.server.executor.push([])


@contextlib.asynccontextmanager
async def clocked_dev_server(tmp_path: Path) -> AsyncIterator[tuple[DevServer, FakeClock]]:
    """A started dev server whose every timer and timestamp reads a `FakeClock`."""
    clock = FakeClock()
    config = DevServerConfig(
        port=0, db=str(tmp_path / "dev.db"), retry_interval=0.05, poll_interval=3600.0
    )
    server = DevServer(config)
    server.clock = clock
    clock.server = server
    async with server:
        yield server, clock
