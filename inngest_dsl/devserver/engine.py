"""The run engine as one piece: store, functions, runs, gates, executor and cron on one clock.

The dev server puts it on a durable SQLite file, the wall clock and HTTP calls; the testing
kit's `TestEnvironment` puts the very same engine on an in-memory store, a virtual clock and
in-process calls. Nothing here touches a socket or reads the time except through those two.
"""

from __future__ import annotations

from inngest_dsl.devserver.clock import Clock
from inngest_dsl.devserver.cron import CronScheduler, NextFire
from inngest_dsl.devserver.executor import Executor, Transport
from inngest_dsl.devserver.functions import Registry
from inngest_dsl.devserver.runs import Runs
from inngest_dsl.devserver.store import Store
from inngest_dsl.spec import _cron

__all__ = ["Engine"]


class Engine:
    """Every run rule of PROTOCOL §8 with flow control and cron, over a store and a clock."""

    def __init__(
        self,
        store: Store,
        transport: Transport,
        clock: Clock,
        *,
        retry_interval: float | None = None,
        concurrency: int = 64,
        next_fire: NextFire = _cron.next_fire,
    ) -> None:
        self.store = store
        self.clock = clock
        self.registry = Registry(store)
        self.runs = Runs(store, self.registry, retry_interval=retry_interval, clock=clock)
        self.executor = Executor(
            store, self.registry, self.runs, transport, concurrency=concurrency, clock=clock
        )
        self.runs.set_on_due(self.executor.push)
        self.runs.set_on_runs(
            started_ungated=self.executor.gates.runs_started_ungated,
            ended=self.executor.gates.runs_ended,
        )
        self.cron = CronScheduler(self.registry, self.runs, next_fire=next_fire, clock=clock)
        self.registry.on_change = self.cron.functions_changed

    def start(self) -> None:
        """Resume the stored queue and start the cron schedule (inside a running loop)."""
        self.executor.start()
        self.cron.start()

    async def stop(self) -> None:
        """Stop firing timers and cancel the calls in flight; the store stays open."""
        await self.cron.stop()
        await self.executor.stop()
