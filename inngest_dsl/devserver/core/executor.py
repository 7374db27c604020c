"""The executor: runs due work from the persisted queue, calling apps through a transport.

The queue lives in the store (`queue` table); this module keeps an in-memory heap of it and one
clock timer for its head, so due work starts without polling, on the wall clock or a virtual
one. On start the heap is rebuilt from the table, which is how a restarted server resumes
sleeps, expiries and interrupted calls. How a call reaches the app is the transport's business:
HTTP for the dev server (`http.transport`), a direct call for the testing kit.

A due call that its run's limits admit waits for one of the server's call slots in a ready
heap, not as a task: calls of runs already under way go first, then new runs by priority and
arrival, so a run that has started finishes promptly whatever the backlog of new ones. When a
call ends, the work it queued is dispatched before its slot is given again, so the run's next
call takes it. Past `_WINDOW` first calls of new runs in memory, the rest of a backlog stays
in the store and is read a page at a time as slots free up: memory does not grow with it.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from inngest_dsl.devserver.core import protocol
from inngest_dsl.devserver.core.admission import DISCOVERY
from inngest_dsl.devserver.core.clock import Clock, Timer
from inngest_dsl.devserver.core.functions import FunctionInfo, Registry
from inngest_dsl.devserver.core.gates import FREE, Gates, Ticket
from inngest_dsl.devserver.core.limiter import Limiter
from inngest_dsl.devserver.core.protocol import CallOutcome, error_object
from inngest_dsl.devserver.core.runs import Runs, new_id
from inngest_dsl.devserver.store import Store
from inngest_dsl.devserver.store.records import QueueItem, RunStatus

__all__ = ["Executor", "Transport"]

log = logging.getLogger("inngest_dsl.devserver")

_DISPATCH_SLICE = 256
"""Due queue items handled before the event loop gets a turn (requests keep being answered)."""

_WINDOW = 1024
"""First calls of new runs held in memory at most; past that a backlog stays in the store."""
_PAGE = 256
"""First calls of new runs read from the store at a time."""

_Ready = tuple[bool, float, int, QueueItem, Ticket]
"""A call waiting for a slot: (starts a new run, order, queue id, item, its run's slots)."""


class Transport(Protocol):
    """How the executor reaches an app: one call's JSON body in, what the response says out."""

    async def call(
        self, function: FunctionInfo, step_id: str, body: bytes, run_id: str
    ) -> CallOutcome: ...


class Executor:
    """Dispatches due queue items: calls (bounded concurrency), sleep wake-ups, expiries."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        runs: Runs,
        transport: Transport,
        *,
        concurrency: int = 64,
        clock: Clock,
        on_error: Callable[[BaseException], None] = lambda exc: None,
    ) -> None:
        """`on_error` hears of every failure of the engine itself (a bug, always logged too):
        the testing kit raises them in the test instead of leaving a run stuck."""
        self._on_error = on_error
        self._store = store
        self._registry = registry
        self._runs = runs
        self._transport = transport
        self._concurrency = concurrency
        self._ready: list[_Ready] = []
        self._dispatching = False
        # First calls (of new runs, or discoveries of runs under way) in the heap, and first
        # calls of new runs in the ready heap.
        self._firsts_in_heap = 0
        self._starts_ready = 0
        # Whether the store holds first calls of new runs not read yet: those with queue ids
        # after `_cursor`, but for `_ahead` (in memory already: their priority was raised).
        self._paged = False
        self._cursor = 0
        self._ahead: set[int] = set()
        self._clock = clock
        self._heap: list[tuple[float, int, QueueItem]] = []
        self._timer: Timer | None = None
        self._timer_at = 0.0
        self._started = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.gates = Gates(store, Limiter(store), start=self._start_admitted, clock=clock)
        self._stopping = False

    # -- queue ------------------------------------------------------------------------------

    def push(self, items: Sequence[QueueItem]) -> None:
        """Make newly committed queue items due (called after their transaction)."""
        left = False
        for item in items:
            first = _is_first(item)
            if first and self._stays_in_store(item):
                left = True
                continue
            heapq.heappush(self._heap, (item.due, item.id, item))
            self._firsts_in_heap += first
        self._arm(self._clock.now() if left else None)

    def start(self) -> None:
        self._started = True
        self._stopping = False
        # Everything is read again from the store; new runs' first calls a page at a time.
        self._heap.clear()
        self._firsts_in_heap = 0
        self._paged, self._cursor = True, 0
        self.push(self._store.queue_items_but_starts(DISCOVERY))
        self._arm(self._clock.now())

    def _stays_in_store(self, item: QueueItem) -> bool:
        """Whether a first call is left in the store, to be read when its turn comes."""
        if not self._paged and self._firsts_in_heap + self._starts_ready < _WINDOW:
            return False
        run = self._store.get_run(item.run_id)
        if run is None or run.status != RunStatus.QUEUED:
            return False
        if run.priority > 0:
            if self._paged:
                self._ahead.add(item.id)
            return False
        if not self._paged:
            self._paged, self._cursor = True, item.id - 1
        return True

    def _page_in(self) -> None:
        """Read the next page of new runs' first calls from the store and admit them."""
        items = self._store.queued_starts(DISCOVERY, self._cursor, _PAGE)
        if len(items) < _PAGE:
            self._paged = False
            self._ahead.clear()
        if items:
            self._cursor = items[-1].id
        dispatching, self._dispatching = self._dispatching, True
        try:
            for item in items:
                if item.id in self._ahead:
                    self._ahead.discard(item.id)
                else:
                    self._handle(item)
        finally:
            self._dispatching = dispatching

    async def stop(self) -> None:
        self._stopping = True
        self._started = False
        self.gates.close()
        # Calls that never got a slot stay in the store's queue, to be read again on start.
        ready, self._ready = self._ready, []
        self._starts_ready = 0
        for *_, ticket in ready:
            self.gates.release(ticket)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def backlog(self) -> int:
        """Queue items held for later, including those whose work is gone (`forget_gone`)."""
        return len(self._heap) + len(self._ready)

    def forget_gone(self) -> int:
        """Drop held items whose queue row is gone (the expiry of a wait that resolved, the
        work of a run that ended): they would only be skipped when due. How many went."""
        live = self._store.queue_ids()
        kept = [entry for entry in self._heap if entry[2].id in live]
        dropped = len(self._heap) - len(kept)
        if dropped:
            heapq.heapify(kept)
            self._heap = kept
            self._firsts_in_heap = sum(_is_first(entry[2]) for entry in kept)
        return dropped

    @property
    def in_flight(self) -> frozenset[asyncio.Task[None]]:
        """The calls under way now (the testing kit awaits them before moving time on)."""
        return frozenset(self._tasks)

    @property
    def waiting_for_a_slot(self) -> frozenset[asyncio.Task[None]]:
        """Calls in flight that wait for a server-wide slot: none, as a call waiting for one
        is not under way yet (it waits in the ready heap until a call that holds one ends)."""
        return frozenset()

    def _arm(self, at: float | None = None) -> None:
        """Keep one clock timer set for the earliest queue item (or `at`, if earlier)."""
        due = self._heap[0][0] if self._heap else at
        if at is not None and due is not None:
            due = min(due, at)
        if not self._started or due is None:
            return
        if self._timer is not None:
            if self._timer_at <= due:
                return
            self._timer.cancel()
        self._timer_at = due
        self._timer = self._clock.call_at(due, self._dispatch)

    def _dispatch(self) -> None:
        self._timer = None
        self._dispatch_due()

    def _dispatch_due(self) -> None:
        """Handle the queue items due now (a slice of them), then give free slots to calls."""
        now = self._clock.now()
        self._dispatching = True
        try:
            self._handle_due(now)
        finally:
            self._dispatching = False
        self._fill()
        self._arm()

    def _handle_due(self, now: float) -> None:
        for _ in range(_DISPATCH_SLICE):
            if not self._heap or self._heap[0][0] > now:
                break
            _, _, item = heapq.heappop(self._heap)
            self._firsts_in_heap -= _is_first(item)
            self._handle(item)

    def _handle(self, item: QueueItem) -> None:
        try:
            if item.kind == "call":
                self._admit(item)
            elif item.kind == "wake":
                self._runs.wake(item)
            elif item.kind == "expire":
                self._runs.expire(item)
            elif item.kind == "timeout":
                self._runs.time_out(item)
            elif item.kind == "debounce":
                self._runs.fire_debounce(item)
            elif item.kind == "batch":
                self._runs.flush_batch(item)
        except Exception as exc:
            log.exception("could not process queue item %s", item)
            self._on_error(exc)

    # -- calls ------------------------------------------------------------------------------

    def _admit(self, item: QueueItem) -> None:
        """Start a due call unless its run ended, or park it behind its run's limits."""
        if self.gates.ungated(item.run_id):
            # Nothing to admit: `_call_once` reads the run (and sees if it ended) anyway.
            self._start_admitted(item, FREE)
            return
        run = self._store.get_run(item.run_id)
        if run is None or run.status in RunStatus.FINAL:
            return
        ticket = self.gates.admit(item, run)
        if ticket is not None:
            self._start_admitted(item, ticket)

    def _start_admitted(self, item: QueueItem, ticket: Ticket) -> None:
        """An admitted call waits for a server-wide slot (wake-ups and expiries never queue
        behind it): a run under way before new runs, then by priority and arrival."""
        if self._stopping:
            return
        fresh, order = False, item.due
        if item.step_id == DISCOVERY and item.attempt == 0:
            run = self._store.get_run(item.run_id)
            if run is not None and run.status == RunStatus.QUEUED:
                fresh, order = True, item.due - run.priority
        heapq.heappush(self._ready, (fresh, order, item.id, item, ticket))
        self._starts_ready += fresh
        if not self._dispatching:
            self._fill()

    def _fill(self) -> None:
        """Start ready calls while the server has free slots."""
        while not self._stopping and len(self._tasks) < self._concurrency:
            while self._paged and self._starts_ready < self._concurrency - len(self._tasks):
                self._page_in()
            if not self._ready:
                return
            fresh, _, _, item, ticket = heapq.heappop(self._ready)
            self._starts_ready -= fresh
            task = asyncio.get_running_loop().create_task(self._call(item, ticket))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _call(self, item: QueueItem, ticket: Ticket) -> None:
        try:
            await self._call_guarded(item)
        finally:
            task = asyncio.current_task()
            if task is not None:
                self._tasks.discard(task)  # its slot is free now, not when the task is reaped
            self.gates.release(ticket)
            if self._started:
                # What this call queued (its run's next call) is ready before the slot is given.
                self._dispatch_due()

    async def _call_guarded(self, item: QueueItem) -> None:
        try:
            await self._call_once(item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Fail the run visibly rather than leave its queue item stranded until a restart.
            log.exception("call for run %s failed unexpectedly", item.run_id)
            self._on_error(exc)
            error = error_object("InternalError", f"the dev server could not make the call: {exc}")
            function = self._registry.get(self._run_function(item)) or _missing("")
            try:
                self._runs.apply_call(
                    item, function, CallOutcome(error=error, retryable=False), 0.0
                )
            except Exception as again:
                log.exception("could not record the failure of run %s", item.run_id)
                self._on_error(again)

    def _run_function(self, item: QueueItem) -> str:
        run = self._store.get_run(item.run_id)
        return run.function_id if run is not None else ""

    async def _call_once(self, item: QueueItem) -> None:
        run = self._store.get_run(item.run_id)
        if run is None or run.status in RunStatus.FINAL or not self._store.has_queue_item(item.id):
            return
        function = self._registry.get(run.function_id)
        if function is None:
            self._runs.apply_call(item, _missing(run.function_id), _gone(run.function_id), 0.0)
            return
        if run.status == RunStatus.QUEUED:
            self._runs.mark_running(run, function)
        body = protocol.build_call_body(
            events_json=run.events_json,
            memos=self._store.memos(run.run_id),
            step_id=item.step_id,
            run_id=run.run_id,
            fn_uuid=function.uuid,
            attempt=item.attempt,
            max_attempts=function.max_attempts,
            disable_immediate_execution=run.force_plan,
            version=run.version,
            request_id=new_id(),
            job_id=str(item.id),
        )
        started = self._clock.now()
        outcome = await self._transport.call(function, item.step_id, body, run.run_id)
        self._runs.apply_call(item, function, outcome, started)


def _is_first(item: QueueItem) -> bool:
    """A run's first call, or a discovery of a run under way (only the run tells which)."""
    return item.kind == "call" and item.step_id == DISCOVERY and item.attempt == 0


def _missing(function_id: str) -> FunctionInfo:
    return FunctionInfo(
        id=function_id, name=function_id, url="", uuid="", max_attempts=1, cancel=(), config={}
    )


def _gone(function_id: str) -> CallOutcome:
    return CallOutcome(
        error=error_object("Error", f"function {function_id!r} is no longer registered"),
        retryable=False,
    )
