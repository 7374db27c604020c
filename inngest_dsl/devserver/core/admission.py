"""Run admission (PROTOCOL.md §8.1): whether an event's run starts now, waits, or is skipped.

In Inngest's order: event-id dedup, batching, the start limits (idempotency and rate limit:
skip), debounce (hold), then the run starts, where its singleton may skip it or replace the
run holding it. Everything here runs inside the caller's transaction; what it needs of the run
lifecycle (queueing work, cancelling a run, answering an invoking run) comes in `RunHooks`.

A failure while admitting one function's run (a bug, a value nothing foresaw) is rolled back
on its own and recorded as that run's skip reason: it never refuses the event or touches the
runs of other functions.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence

import attrs

from inngest_dsl.devserver.core import protocol
from inngest_dsl.devserver.core.flow import NO_FLOW
from inngest_dsl.devserver.core.flow_keys import batches_event, shape_run, start_limits
from inngest_dsl.devserver.core.functions import FunctionInfo, Registry
from inngest_dsl.devserver.core.holds import Holds, Trigger
from inngest_dsl.devserver.core.limiter import Bucket, Limiter
from inngest_dsl.devserver.core.pause_index import pause_key
from inngest_dsl.devserver.store import Store
from inngest_dsl.devserver.store.records import RunStatus

__all__ = ["DISCOVERY", "ONE_YEAR", "Admission", "RunHooks", "new_id"]

log = logging.getLogger("inngest_dsl.devserver")

DISCOVERY = "step"
"""The `stepId` of a discovery call (no step targeted)."""
ONE_YEAR = 366 * 86400.0


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = tuple(a + b for a in _CROCKFORD for b in _CROCKFORD)  # 10 bits -> 2 characters
_PAIR_SHIFTS = tuple(range(120, -1, -10))


_last_id = 0


def new_id() -> str:
    """A new run (or event) id: a ULID (48 bits of Unix milliseconds, 80 random bits), each
    greater than the one before (within a millisecond, the last one plus one)."""
    global _last_id
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    if value >> 80 <= _last_id >> 80:
        value = _last_id + 1
    _last_id = value
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _PAIR_SHIFTS])


@attrs.frozen
class RunHooks:
    """What admission asks of the run lifecycle; `Runs` provides each."""

    enqueue: Callable[[str, str, str, int, float, int | None], None]
    """Queue work: `(run id, kind, step id, attempt, due, ref)`."""
    log_state: Callable[[str, str, str, str], None]
    """Log a run's new status: `(run id, function id, status, detail)`."""
    cancel_run: Callable[[str, float, str], None]
    """Cancel a live run: `(run id, now, reason)`."""
    fail_invoker: Callable[[str, str, float], None]
    """Fail the invoke step waiting on `(correlation id, message, now)`."""
    started_ungated: Callable[[str], None]
    """Note a new run whose calls pass no gate."""
    isolated: Callable[[], contextlib.AbstractContextManager[None]]
    """A block whose writes and notes are undone, alone, if it raises."""


class Admission:
    """Starts, holds back or skips the runs that events trigger."""

    def __init__(self, store: Store, registry: Registry, hooks: RunHooks) -> None:
        self._store = store
        self._hooks = hooks
        self._limiter = Limiter(store)
        self._holds = Holds(
            store,
            registry,
            start_run=self._start_released,
            enqueue=lambda run_id, kind, step_id, attempt, due: hooks.enqueue(
                run_id, kind, step_id, attempt, due, None
            ),
        )

    # -- entry points -----------------------------------------------------------------------

    def schedule(
        self,
        function: FunctionInfo,
        trigger: Trigger,
        now: float,
        *,
        correlation_id: str | None = None,
        invoked: bool = False,
    ) -> str | None:
        """Start, hold back or skip a run of `function` for one event.

        Invoked runs are never batched or debounced: their caller waits for exactly this run.
        Returns the id of a run started now, else None.
        """
        return self._apart(
            function,
            [trigger],
            now,
            correlation_id,
            lambda: self._schedule(function, trigger, now, correlation_id, invoked),
        )

    def start_now(
        self, function: FunctionInfo, triggers: Sequence[Trigger], now: float
    ) -> str | None:
        """Start one run of `function` for `triggers` as given, past batching, debounce and
        start limits (the testing kit's `run_function`); None if its singleton skipped it."""
        return self._start_run(function, triggers, now, None, new_id())

    def fire_debounce(self, debounce_id: str, now: float) -> None:
        """A debounce's quiet period (or timeout) is over: start its run."""
        self._holds.fire(debounce_id, now)

    def flush_batch(self, batch_id: str, now: float) -> None:
        """A batch's timeout came: start its run with what it holds."""
        self._holds.flush(batch_id, now)

    # -- the decision -----------------------------------------------------------------------

    def _apart(
        self,
        function: FunctionInfo,
        triggers: Sequence[Trigger],
        now: float,
        correlation_id: str | None,
        admit: Callable[[], str | None],
    ) -> str | None:
        try:
            with self._hooks.isolated():
                return admit()
        except Exception as exc:
            log.exception("flow control of %s failed for event %s", function.id, triggers[0][0])
            reason = f"flow control failed: {type(exc).__name__}: {exc}"
            self._skip_run(function, triggers, now, reason, correlation_id=correlation_id)
            return None

    def _schedule(
        self,
        function: FunctionInfo,
        trigger: Trigger,
        now: float,
        correlation_id: str | None,
        invoked: bool,
    ) -> str | None:
        _, event, _ = trigger
        run_id = new_id()
        if not self._store.claim_event_id(function.id, str(event["id"]), run_id):
            return None
        flow = function.flow
        if flow is NO_FLOW:
            return self._start_run(function, [trigger], now, correlation_id, run_id)
        batched = not invoked and batches_event(flow, event)
        if batched and self._holds.add_to_batch(function, trigger, now):
            return None
        limits = start_limits(function.id, flow, event)
        if limits:
            # Every limit must allow the start before any token is taken: an event skipped by
            # the rate limit has not used up its idempotency key.
            buckets = [
                Bucket(limit.bucket, limit.window.period, limit.window.limit, limit.window.limit)
                for limit in limits
            ]
            refused = self._limiter.take_all(buckets, now)
            if refused is not None:
                reason = limits[refused].refusal
                self._skip_run(
                    function, [trigger], now, reason, correlation_id=correlation_id, run_id=run_id
                )
                return None
        held = flow.debounce is not None and not invoked
        if held and self._holds.debounce(function, trigger, now):
            return None
        return self._start_run(function, [trigger], now, correlation_id, run_id)

    def _start_released(
        self, function: FunctionInfo, triggers: Sequence[Trigger], now: float
    ) -> str | None:
        return self._apart(
            function,
            triggers,
            now,
            None,
            lambda: self._start_run(function, triggers, now, None, new_id()),
        )

    # -- outcomes ---------------------------------------------------------------------------

    def _skip_run(
        self,
        function: FunctionInfo,
        events: Sequence[Trigger],
        now: float,
        reason: str,
        *,
        correlation_id: str | None = None,
        run_id: str | None = None,
    ) -> str:
        """Record a run that flow control dropped; an invoking run gets an error at once."""
        run_id = run_id or new_id()
        events_json = "[" + ",".join(body for _, _, body in events) + "]"
        self._store.insert_skipped_run(
            run_id, function.id, events_json, now, reason, correlation_id
        )
        for internal_id, _, _ in events:
            self._store.link_event_run(internal_id, run_id)
        self._hooks.log_state(run_id, function.id, RunStatus.SKIPPED, f" ({reason})")
        if correlation_id:
            message = f"the invoked function {function.id} was skipped: {reason}"
            self._hooks.fail_invoker(correlation_id, message, now)
        return run_id

    def _start_run(
        self,
        function: FunctionInfo,
        events: Sequence[Trigger],
        now: float,
        correlation_id: str | None,
        run_id: str,
    ) -> str | None:
        """Queue a run for its triggering events; None if its singleton skipped it."""
        first = events[0][1]
        shape = shape_run(function.id, function.flow, first)
        if shape.singleton is not None:
            singleton = function.flow.singleton
            holders = self._store.singleton_holders(shape.singleton)
            if holders and singleton is not None and singleton.mode == "skip":
                reason = f"singleton: run {holders[0]} is still in progress"
                self._skip_run(
                    function, events, now, reason, correlation_id=correlation_id, run_id=run_id
                )
                return None
            for holder in holders:
                self._hooks.cancel_run(holder, now, f"singleton: replaced by run {run_id}")
        events_json = "[" + ",".join(body for _, _, body in events) + "]"
        self._store.insert_run(
            run_id,
            function.id,
            events_json,
            now,
            correlation_id,
            priority=shape.priority,
            flow_json=shape.flow_json,
            singleton=shape.singleton,
        )
        for internal_id, _, _ in events:
            self._store.link_event_run(internal_id, run_id)
        if shape.flow_json is None:
            self._hooks.started_ungated(run_id)
        enqueue = self._hooks.enqueue
        enqueue(run_id, "call", DISCOVERY, 0, now, None)
        if function.flow.start_timeout is not None:
            enqueue(run_id, "timeout", "start", 0, now + function.flow.start_timeout, None)
        for cancel in function.cancel:
            expires = now + ONE_YEAR
            if cancel.timeout:
                with contextlib.suppress(ValueError):
                    expires = protocol.deadline(cancel.timeout, now)
            pause = self._store.insert_pause(
                run_id,
                "",
                "cancel",
                event_name=cancel.event,
                expression=cancel.expression,
                correlation_id=None,
                expires=expires,
                trigger_json=events[0][2],
                match=pause_key(cancel.expression, events[0][2]),
            )
            enqueue(run_id, "expire", "", 0, expires, pause.id)
        self._hooks.log_state(run_id, function.id, RunStatus.QUEUED, f" (event {first['name']})")
        return run_id
