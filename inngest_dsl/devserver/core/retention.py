"""Retention: finished runs older than a window are pruned in the background, on the engine's clock.

Every `every` seconds a pass deletes finished runs that ended more than `window` seconds ago
(with their steps and links), then the events nothing live refers to any more, then idle
limiter buckets, each in transactions of `batch` rows; between two transactions the event loop
gets a turn (a timer set for now), so requests and calls go on while an old database is pruned.
Running or waiting runs are never touched, however old. On a `VirtualClock` passes happen as
virtual time goes by, like every other timer of the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from inngest_dsl.devserver.core.clock import Clock, Timer
from inngest_dsl.devserver.store import Store

__all__ = ["DEFAULT_RETAIN", "Retention", "pass_interval"]

log = logging.getLogger("inngest_dsl.devserver")

DEFAULT_RETAIN = 7 * 24 * 3600.0
"""Seconds a finished run is kept by default (`inngest-dsl dev --retain 7d`)."""

BATCH = 200
"""Rows deleted per transaction: small enough that serving is never held up for long."""


def pass_interval(window: float) -> float:
    """Seconds between passes: a tenth of the window, between 1 s and 10 min."""
    return min(max(window / 10.0, 1.0), 600.0)


class Retention:
    """Prunes what has outlived the retention window, a small batch per turn of the loop."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        window: float,
        *,
        batch: int = BATCH,
        every: float | None = None,
        after_pass: Callable[[], object] = lambda: None,
        on_error: Callable[[BaseException], None] = lambda exc: None,
    ) -> None:
        """`after_pass` runs once a pass has pruned all it could (the executor forgets the
        queue items that went with the runs); `on_error` hears of a pass that failed."""
        if window <= 0:
            raise ValueError("the retention window must be positive")
        self._store = store
        self._clock = clock
        self.window = window
        self._batch = batch
        self._every = pass_interval(window) if every is None else every
        self._after_pass = after_pass
        self._on_error = on_error
        self._timer: Timer | None = None
        self._stage = 0
        self.pruned_runs = 0
        self.pruned_events = 0

    def start(self) -> None:
        """First pass at once (an old database starts shrinking), then every `every` s."""
        self._arm(self._clock.now())

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, when: float) -> None:
        self._timer = self._clock.call_at(when, self._step)

    def _step(self) -> None:
        """One batch of the pass under way; the next batch on the loop's next turn."""
        now = self._clock.now()
        cutoff = now - self.window
        try:
            with self._store.transaction():
                if self._stage == 0:
                    done = self._store.prune_runs(cutoff, self._batch)
                    self.pruned_runs += done
                elif self._stage == 1:
                    done = self._store.prune_events(cutoff, self._batch)
                    self.pruned_events += done
                else:
                    done = self._store.prune_limiter(cutoff, self._batch)
        except Exception as exc:  # a failed pass must not stop the next ones
            log.exception("retention: pruning failed")
            self._on_error(exc)
            self._stage = 0
            self._arm(now + self._every)
            return
        if done >= self._batch:
            self._arm(now)  # more of the same: after whatever else is due
            return
        if self._stage < 2:
            self._stage += 1
            self._arm(now)
            return
        self._stage = 0
        try:
            self._store.release_free_pages()
            self._after_pass()
        except Exception as exc:
            log.exception("retention: finishing the pass failed")
            self._on_error(exc)
        self._arm(now + self._every)
