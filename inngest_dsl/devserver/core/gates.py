"""Admitting calls under concurrency limits and throttles (PROTOCOL.md §5.2).

A concurrency limit counts calls in flight per key: a run that sleeps or waits holds no slot.
A throttle counts run starts: it gates the first call of a queued run. Calls over a limit are
parked here, never dropped, and leave in priority order (`due - priority`, then arrival) as
capacity frees. Only the counters and the parking lots live in memory: every parked call is
still a row of the store's queue, so a restarted server parks it again from there.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence

import attrs

from inngest_dsl.devserver.core.clock import Clock, Timer
from inngest_dsl.devserver.core.flow_keys import ThrottleGate, gates_of
from inngest_dsl.devserver.core.limiter import Limiter
from inngest_dsl.devserver.store import Store
from inngest_dsl.devserver.store.records import QueueItem, RunRecord, RunStatus

__all__ = ["FREE", "Gates", "Ticket"]

DISCOVERY = "step"

_Parked = tuple[float, int, QueueItem]


@attrs.frozen
class Ticket:
    """The concurrency slots a call holds until it returns."""

    keys: tuple[str, ...] = ()


FREE = Ticket()


class Gates:
    """Concurrency slots per key, throttle buckets, and the calls waiting for either."""

    def __init__(
        self,
        store: Store,
        limiter: Limiter,
        *,
        start: Callable[[QueueItem, Ticket], None],
        clock: Clock,
    ) -> None:
        self._store = store
        self._limiter = limiter
        self._start = start
        self._clock = clock
        self._in_flight: dict[str, int] = {}
        self._waiting: dict[str, list[_Parked]] = {}
        self._throttle_timers: dict[str, Timer] = {}
        self._closed = False
        # Runs whose start the throttle admitted but a concurrency limit then held back.
        self._throttled: set[str] = set()
        # Live runs known to have no gates: their calls start without reading the run.
        self._ungated: set[str] = set()
        # For each run with parked calls: under which keys, and how many.
        self._parked_runs: dict[str, dict[str, int]] = {}

    def in_flight(self, key: str) -> int:
        """How many calls hold a slot of the concurrency key `key` now."""
        return self._in_flight.get(key, 0)

    @property
    def parked(self) -> int:
        """How many calls wait for a concurrency slot or a throttle token."""
        return sum(len(heap) for heap in self._waiting.values())

    def ungated(self, run_id: str) -> bool:
        """Whether the run is known to have no gates (its calls need no admission)."""
        return run_id in self._ungated

    def runs_started_ungated(self, run_ids: Sequence[str]) -> None:
        """New runs whose calls pass no gate (their function has no concurrency or throttle)."""
        self._ungated.update(run_ids)

    def runs_ended(self, run_ids: Sequence[str]) -> None:
        """Runs that finished or were cancelled: forget them and drop their parked calls."""
        for run_id in run_ids:
            self._ungated.discard(run_id)
            self._throttled.discard(run_id)
            for key in self._parked_runs.pop(run_id, {}):
                kept = [entry for entry in self._waiting.get(key, ()) if entry[2].run_id != run_id]
                if kept:
                    heapq.heapify(kept)
                    self._waiting[key] = kept
                else:
                    self._waiting.pop(key, None)
                    handle = self._throttle_timers.pop(key, None)
                    if handle is not None:
                        handle.cancel()

    def close(self) -> None:
        """Stop admitting: cancel the throttle timers; calls released from now on wake none."""
        self._closed = True
        for handle in self._throttle_timers.values():
            handle.cancel()
        self._throttle_timers.clear()

    # -- admission --------------------------------------------------------------------------

    def admit(self, item: QueueItem, run: RunRecord) -> Ticket | None:
        """Take the slots `item` needs and return them, or park it and return None."""
        if run.flow_json is None:
            self._ungated.add(run.run_id)
            return FREE
        concurrency, throttle = gates_of(run.flow_json)
        order = item.due - run.priority
        for key, limit in concurrency:
            if self.in_flight(key) >= limit:
                self._park(key, order, item)
                self._note(run, f"waiting for a concurrency slot (limit {limit})")
                return None
        if (
            throttle is not None
            and self._starts_run(item, run)
            and (self._waiting.get(throttle.key) or not self._take(throttle, item))
        ):
            self._park(throttle.key, order, item)
            self._arm_throttle(throttle)
            self._note(run, f"waiting for the throttle ({throttle.limit} per {throttle.period:g}s)")
            return None
        keys = tuple(key for key, _ in concurrency)
        for key in keys:
            self._in_flight[key] = self.in_flight(key) + 1
        self._throttled.discard(run.run_id)
        return Ticket(keys)

    def release(self, ticket: Ticket) -> None:
        """A call returned: free its slots and admit what waited for them."""
        for key in ticket.keys:
            count = self.in_flight(key) - 1
            if count > 0:
                self._in_flight[key] = count
            else:
                self._in_flight.pop(key, None)
        if self._closed:  # shutting down: cancelled calls must not start others or set timers
            return
        for key in ticket.keys:
            self._wake(key)

    # -- internals --------------------------------------------------------------------------

    def _starts_run(self, item: QueueItem, run: RunRecord) -> bool:
        return (
            run.status == RunStatus.QUEUED
            and item.step_id == DISCOVERY
            and item.attempt == 0
            and run.run_id not in self._throttled
        )

    def _take(self, throttle: ThrottleGate, item: QueueItem) -> bool:
        decision = self._limiter.take(
            throttle.key, self._clock.now(), throttle.period, throttle.limit, throttle.capacity
        )
        if decision.allowed:
            self._throttled.add(item.run_id)
        return decision.allowed

    def _park(self, key: str, order: float, item: QueueItem) -> None:
        heapq.heappush(self._waiting.setdefault(key, []), (order, item.id, item))
        keys = self._parked_runs.setdefault(item.run_id, {})
        keys[key] = keys.get(key, 0) + 1

    def _note(self, run: RunRecord, reason: str) -> None:
        if run.status == RunStatus.QUEUED and run.reason != reason:
            self._store.set_run_reason(run.run_id, reason)

    def _live_run(self, item: QueueItem) -> RunRecord | None:
        """The run of a parked call, or None if the run ended or the call was dropped."""
        run = self._store.get_run(item.run_id)
        if run is None or run.status in RunStatus.FINAL:
            return None
        if not self._store.has_queue_item(item.id):
            return None
        return run

    def _pop(self, key: str) -> None:
        heap = self._waiting[key]
        _, _, item = heapq.heappop(heap)
        if not heap:
            del self._waiting[key]
        keys = self._parked_runs.get(item.run_id)
        if keys is not None:
            keys[key] -= 1
            if not keys[key]:
                del keys[key]
                if not keys:
                    del self._parked_runs[item.run_id]

    def _wake(self, key: str) -> None:
        while self._waiting.get(key):
            _, _, item = self._waiting[key][0]
            run = self._live_run(item)
            if run is None:
                self._pop(key)
                continue
            limit = dict(gates_of(run.flow_json)[0]).get(key)
            if limit is not None and self.in_flight(key) >= limit:
                return
            self._pop(key)
            ticket = self.admit(item, run)
            if ticket is not None:
                self._start(item, ticket)

    def _arm_throttle(self, throttle: ThrottleGate) -> None:
        if throttle.key in self._throttle_timers:
            return
        tat = self._store.limiter_tat(throttle.key)
        emission = throttle.period / max(throttle.limit, 1)
        now = self._clock.now()
        ready = now if tat is None else tat + emission - emission * throttle.capacity
        self._throttle_timers[throttle.key] = self._clock.call_at(
            max(ready, now + 0.001), lambda: self._drain(throttle)
        )

    def _drain(self, throttle: ThrottleGate) -> None:
        """A throttle bucket has a token again: start the next waiting runs while it has."""
        self._throttle_timers.pop(throttle.key, None)
        while self._waiting.get(throttle.key):
            _, _, item = self._waiting[throttle.key][0]
            run = self._live_run(item)
            if run is None:
                self._pop(throttle.key)
                continue
            if not self._take(throttle, item):
                self._arm_throttle(throttle)
                return
            self._pop(throttle.key)
            ticket = self.admit(item, run)
            if ticket is not None:
                self._start(item, ticket)
