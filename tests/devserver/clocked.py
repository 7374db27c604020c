"""A dev server on a clock the test moves, so second-long flow control periods take no time."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

from inngest_dsl.devserver import DevServer, DevServerConfig
from inngest_dsl.devserver.core.clock import VirtualClock


class FakeClock(VirtualClock):
    """A virtual clock that starts at the real time and moves only when told to."""

    def __init__(self) -> None:
        super().__init__(time.time())

    def advance(self, seconds: float) -> None:
        """Move on, firing the timers (queue items, throttles, cron) that come due."""
        self.move_to(self.now() + seconds)
        self.fire_due()

    def fire_now(self) -> None:
        self.fire_due()


@contextlib.asynccontextmanager
async def clocked_dev_server(tmp_path: Path) -> AsyncIterator[tuple[DevServer, FakeClock]]:
    """A started dev server whose every timer and timestamp reads a `FakeClock`."""
    clock = FakeClock()
    config = DevServerConfig(
        port=0, db=str(tmp_path / "dev.db"), retry_interval=0.05, poll_interval=3600.0
    )
    server = DevServer(config)
    server.clock = clock
    async with server:
        yield server, clock
