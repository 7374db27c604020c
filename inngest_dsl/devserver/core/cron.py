"""Cron triggers: fire `inngest/scheduled.timer` runs at each function's next cron time (§8.1).

Missed fire times while the server was down are not replayed; the schedule restarts from now.
The clock's timers drive it, so on a virtual clock cron fires as virtual time passes. A trigger
with a `jitter` starts its run a random delay, up to the jitter, after each fire time; the
random source is injected (`random`, a callable returning a float in [0, 1)) so tests can fix it.
The event keeps the fire time in `id` and `scheduledAt`; `fireAt` is when the run started.
"""

from __future__ import annotations

import datetime
import logging
import random as _random
from collections.abc import Callable

from inngest_dsl.devserver.core.clock import Clock, Timer
from inngest_dsl.devserver.core.functions import Registry
from inngest_dsl.devserver.core.runs import Runs
from inngest_dsl.spec import _cron

__all__ = ["CronScheduler", "NextFire"]

log = logging.getLogger("inngest_dsl.devserver")

NextFire = Callable[[str, datetime.datetime], datetime.datetime]


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
        clock: Clock,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self._registry = registry
        self._runs = runs
        self._next_fire = next_fire
        self._clock = clock
        self._random = random
        # key -> (the fire time, when to start the run: the fire time plus its jitter)
        self._due: dict[tuple[str, str], tuple[float, float]] = {}
        self._timer: Timer | None = None
        self._started = False

    def functions_changed(self) -> None:
        """Functions were (re)registered: look at the cron triggers again, right away."""
        if self._started:
            self._arm(self._clock.now())

    def start(self) -> None:
        self._started = True
        self._arm(self._clock.now())

    async def stop(self) -> None:
        self._started = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._clock.call_at(when, self._tick)

    def _refresh(self, now: float) -> None:
        wanted = set(self._registry.triggers.crons)
        self._due = {key: due for key, due in self._due.items() if key in wanted}
        for key in wanted - set(self._due):
            self._schedule(key, now)

    def _schedule(self, key: tuple[str, str], after: float) -> None:
        try:
            scheduled = self._next_fire(key[1], _utc(after)).timestamp()
            jitter = self._registry.triggers.jitters.get(key, 0.0)
            delay = jitter * self._random() if jitter > 0 else 0.0
            self._due[key] = (scheduled, scheduled + delay)
        except (ValueError, KeyError) as exc:
            self._due.pop(key, None)  # never re-armed at its old, past time
            log.warning("cron %r of %s cannot be scheduled: %s", key[1], key[0], exc)

    def fire(self, function_id: str, expression: str, scheduled_at: float) -> str | None:
        """Start a run of `function_id` for the fire time `scheduled_at`."""
        function = self._registry.get(function_id)
        if function is None:
            return None
        event = _cron.scheduled_event(expression, _utc(scheduled_at), _utc(self._clock.now()))
        return self._runs.ingest_for(function, event)

    def _tick(self) -> None:
        """Fire every trigger that is due, then set the timer for the next one."""
        self._timer = None
        now = self._clock.now()
        self._refresh(now)
        for key, (scheduled, due) in sorted(self._due.items(), key=lambda kv: kv[1][1]):
            if due <= now:
                try:
                    self.fire(key[0], key[1], scheduled)
                except Exception:
                    log.exception("cron run of %s failed to start", key[0])
                # The next fire time after this one (a jitter never skips one), unless the
                # server fell behind: missed fire times are not replayed.
                self._schedule(key, max(scheduled, now - (due - scheduled)))
        if self._started and self._due:
            self._arm(min(due for _, due in self._due.values()))
