"""Where the run engine reads the time and sets its timers: the wall clock or a virtual one.

Every part of the engine (runs, admission, gates, the executor's queue, cron) asks a `Clock`
for `now()` and for timers, never `time` or `asyncio.sleep`; so the same engine runs the dev
server on the wall clock and the testing kit's `TestEnvironment` on a virtual clock that moves
only when told to (skipping straight to the next timer when nothing else can happen).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["Clock", "Timer", "VirtualClock", "WallClock"]


class Timer(Protocol):
    """A callback set for a time; `cancel()` before it fires and it never does."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Seconds since the epoch, and callbacks at such a time."""

    def now(self) -> float: ...

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer: ...


class WallClock:
    """The real time; timers run on the running event loop."""

    def now(self) -> float:
        return time.time()

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        loop = asyncio.get_running_loop()
        return loop.call_later(max(when - time.time(), 0.0), callback)


class _VirtualTimer:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """A clock that moves only when told to.

    A timer set for now or earlier fires on the event loop's next turn, as on the wall clock;
    a later one waits until whoever drives the clock (the testing kit) moves `now` on, usually
    to `next_at()` once nothing else can happen first, and calls `fire_due()`.
    """

    def __init__(self, start: float) -> None:
        self._now = start
        self._timers: list[tuple[float, int, _VirtualTimer]] = []
        self._order = itertools.count()
        self._soon = False

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        timer = _VirtualTimer(when, callback)
        heapq.heappush(self._timers, (when, next(self._order), timer))
        if when <= self._now and not self._soon:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop turns to wait for: whoever drives the clock fires it
                return timer
            self._soon = True
            loop.call_soon(self._fire_soon)
        return timer

    def _fire_soon(self) -> None:
        self._soon = False
        self.fire_due()

    def next_at(self) -> float | None:
        """When the earliest live timer is set for, or None if there is none."""
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    def move_to(self, when: float) -> None:
        """Set the time to `when`; the clock never goes back."""
        self._now = max(self._now, when)

    def fire_due(self) -> int:
        """Run every live timer set for now or earlier, in time order; how many ran."""
        fired = 0
        while self._timers and self._timers[0][0] <= self._now:
            _, _, timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                timer.cancelled = True
                timer.callback()
                fired += 1
        return fired
