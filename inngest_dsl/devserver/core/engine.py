"""The run engine as one piece: store, functions, runs, gates, executor and cron on one clock.

The dev server puts it on a durable SQLite file, the wall clock and HTTP calls; the testing
kit's `TestEnvironment` puts the very same engine on an in-memory store, a virtual clock and
in-process calls. Nothing here touches a socket or reads the time except through those two.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from inngest_dsl.devserver.core.clock import Clock
from inngest_dsl.devserver.core.cron import CronScheduler, NextFire
from inngest_dsl.devserver.core.executor import Executor, Transport
from inngest_dsl.devserver.core.functions import Registry
from inngest_dsl.devserver.core.retention import Retention
from inngest_dsl.devserver.core.runs import Runs
from inngest_dsl.devserver.store import Store
from inngest_dsl.devserver.store.records import QueueItem
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
        on_error: Callable[[BaseException], None] = lambda exc: None,
        cron_random: Callable[[], float] = random.random,
        retain: float | None = None,
    ) -> None:
        """`on_error` hears of the engine's own failures (see `Executor`); `retain` is how many
        seconds finished runs are kept (`None`: forever, see `Retention`)."""
        self.store = store
        self.clock = clock
        # Each part is made once, in order. What a part tells one made after it (the runs tell
        # the executor, the registry tells cron) goes through the engine's methods below.
        self.registry = Registry(store, on_change=self._functions_changed)
        self.runs = Runs(
            store, self.registry, listener=self, retry_interval=retry_interval, clock=clock
        )
        self.executor = Executor(
            store,
            self.registry,
            self.runs,
            transport,
            concurrency=concurrency,
            clock=clock,
            on_error=on_error,
        )
        self.cron = CronScheduler(
            self.registry, self.runs, next_fire=next_fire, clock=clock, random=cron_random
        )
        self.retention = (
            None
            if retain is None
            else Retention(
                store, clock, retain, after_pass=self.executor.forget_gone, on_error=on_error
            )
        )

    def start(self) -> None:
        """Resume the stored queue and start the cron schedule (inside a running loop)."""
        self.executor.start()
        self.cron.start()
        if self.retention is not None:
            self.retention.start()

    async def stop(self) -> None:
        """Stop firing timers and cancel the calls in flight; the store stays open."""
        if self.retention is not None:
            self.retention.stop()
        await self.cron.stop()
        await self.executor.stop()

    # -- what one part tells another (the runs' `RunListener`, the registry's change) --------

    def runs_started_ungated(self, run_ids: Sequence[str]) -> None:
        self.executor.gates.runs_started_ungated(run_ids)

    def runs_ended(self, run_ids: Sequence[str]) -> None:
        self.executor.gates.runs_ended(run_ids)

    def work_due(self, items: Sequence[QueueItem]) -> None:
        self.executor.push(items)

    def _functions_changed(self) -> None:
        self.cron.functions_changed()
