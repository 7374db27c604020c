"""Events held back before a run starts: open batches (`batchEvents`) and debounces.

Both live in the store, with their timers as queue rows, so a restarted server flushes a
batch or fires a debounce exactly when the stopped one would have.

* A batch opens with its first event and flushes into one run when it holds `maxSize` events
  or `timeout` after it opened, whichever comes first; `key` keeps one batch per key value.
* A debounce keeps the latest event of a burst and runs it `period` after the last event,
  but no later than `timeout` after the first one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from ulid import ULID

from inngest_dsl.devserver.core.flow_keys import batch_key, debounce_key
from inngest_dsl.devserver.core.functions import FunctionInfo, Registry
from inngest_dsl.devserver.store import Store
from inngest_dsl.devserver.store.records import BatchRecord, DebounceRecord

__all__ = ["Holds", "Trigger"]

Trigger = tuple[str, dict[str, Any], str]
"""An event that triggers a run: `(internal id, event, canonical event JSON)`."""

StartRun = Callable[[FunctionInfo, Sequence[Trigger], float], object]
Enqueue = Callable[[str, str, str, int, float], None]


class Holds:
    """Batches and debounces, in the store; `start_run` is called when one is released."""

    def __init__(
        self, store: Store, registry: Registry, *, start_run: StartRun, enqueue: Enqueue
    ) -> None:
        self._store = store
        self._registry = registry
        self._start_run = start_run
        self._enqueue = enqueue

    # -- batches ----------------------------------------------------------------------------

    def add_to_batch(self, function: FunctionInfo, trigger: Trigger, now: float) -> bool:
        """Add the event to its batch; False if its key cannot be evaluated (it runs alone)."""
        batching = function.flow.batch
        assert batching is not None
        internal_id, event, body_json = trigger
        key = batch_key(function.id, function.flow, event)
        if key is None:
            return False
        batch = self._store.open_batch(function.id, key)
        if batch is None:
            batch = BatchRecord(str(ULID()), function.id, key, now, 0)
            self._store.create_batch(batch.id, function.id, key, now)
            self._enqueue(batch.id, "batch", "", 0, now + batching.timeout)
        size = self._store.add_to_batch(batch, internal_id, body_json)
        if size >= batching.max_size:
            self._flush(batch.id, function, now)
        return True

    def flush(self, batch_id: str, now: float) -> None:
        """The batch's timeout came: run it with what it holds."""
        batch = self._store.batch_by_id(batch_id)
        if batch is None:
            return
        function = self._registry.get(batch.function_id)
        if function is None:
            self._store.take_batch(batch_id)  # its function is gone: nothing to run
            return
        self._flush(batch_id, function, now)

    def _flush(self, batch_id: str, function: FunctionInfo, now: float) -> None:
        entries = self._store.take_batch(batch_id)
        if entries:
            triggers = [(iid, json.loads(body), body) for iid, body in entries]
            self._start_run(function, triggers, now)

    # -- debounce ---------------------------------------------------------------------------

    def debounce(self, function: FunctionInfo, trigger: Trigger, now: float) -> bool:
        """Hold the event; False if its key cannot be evaluated (the run starts at once)."""
        debounce = function.flow.debounce
        assert debounce is not None
        internal_id, event, body_json = trigger
        key = debounce_key(function.id, function.flow, event)
        if key is None:
            return False
        existing = self._store.get_debounce(function.id, key)
        debounce_id = str(ULID()) if existing is None else existing.id
        first_at = now if existing is None else existing.first_at
        due = now + debounce.period
        if debounce.timeout is not None:
            due = min(due, first_at + debounce.timeout)
        self._store.save_debounce(
            DebounceRecord(debounce_id, function.id, key, internal_id, body_json, first_at, due)
        )
        if existing is not None and existing.internal_id != internal_id:
            self._store.supersede_event(existing.internal_id, internal_id)
        self._store.drop_timers(debounce_id)
        self._enqueue(debounce_id, "debounce", "", 0, due)
        return True

    def fire(self, debounce_id: str, now: float) -> None:
        """The quiet period is over: run the function with the latest event."""
        record = self._store.debounce_by_id(debounce_id)
        if record is None:
            return
        self._store.delete_debounce(debounce_id)
        function = self._registry.get(record.function_id)
        if function is not None:
            event = json.loads(record.event_json)
            self._start_run(function, [(record.internal_id, event, record.event_json)], now)
