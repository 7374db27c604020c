"""Cron triggers: fire `inngest/scheduled.timer` runs at each function's next cron time (§8.1).

Missed fire times while the server was down are not replayed; the schedule restarts from now.
`next_fire` and `clock` are injectable so tests need not wait for a real minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import time
from collections.abc import Callable

from inngest_dsl import _cron, _durations
from inngest_dsl.devserver.functions import Registry
from inngest_dsl.devserver.runs import Runs

__all__ = ["CronScheduler", "NextFire"]

log = logging.getLogger("inngest_dsl.devserver")

NextFire = Callable[[str, datetime.datetime], datetime.datetime]
SCHEDULED = "inngest/scheduled.timer"


def _utc(ts: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)


class CronScheduler:
    """Keeps the next fire time of every cron trigger and starts runs when they come."""

    def __init__(
        self,
        registry: Registry,
        runs: Runs,
        *,
        next_fire: NextFire = _cron.next_fire,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._registry = registry
        self._runs = runs
        self._next_fire = next_fire
        self._clock = clock
        self._due: dict[tuple[str, str], float] = {}
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def functions_changed(self) -> None:
        self._changed.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _refresh(self, now: float) -> None:
        wanted = set(self._registry.triggers.crons)
        self._due = {key: due for key, due in self._due.items() if key in wanted}
        for key in wanted - set(self._due):
            self._schedule(key, now)

    def _schedule(self, key: tuple[str, str], after: float) -> None:
        try:
            self._due[key] = self._next_fire(key[1], _utc(after)).timestamp()
        except (ValueError, KeyError) as exc:
            log.warning("cron %r of %s cannot be scheduled: %s", key[1], key[0], exc)

    def fire(self, function_id: str, expression: str, scheduled_at: float) -> str | None:
        """Start a run of `function_id` for the fire time `scheduled_at`."""
        function = self._registry.get(function_id)
        if function is None:
            return None
        now = self._clock()
        stamp = _durations.format_instant(_utc(scheduled_at))
        event = {
            "name": SCHEDULED,
            "id": stamp,
            "data": {
                "cron": expression,
                "scheduledAt": stamp,
                "fireAt": _durations.format_instant(_utc(now)),
            },
            "user": {},
            "ts": int(now * 1000),
        }
        return self._runs.ingest_for(function, event)

    async def _loop(self) -> None:
        while True:
            self._changed.clear()
            now = self._clock()
            self._refresh(now)
            for key, due in sorted(self._due.items(), key=lambda kv: kv[1]):
                if due <= now:
                    try:
                        self.fire(key[0], key[1], due)
                    except Exception:
                        log.exception("cron run of %s failed to start", key[0])
                    self._schedule(key, max(due, now))
            wait = min(self._due.values(), default=now + 3600.0) - self._clock()
            if wait > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(wait, 3600.0))
