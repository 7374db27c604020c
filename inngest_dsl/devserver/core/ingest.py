"""Events in (PROTOCOL.md §8.1, §8.4): storing them, starting their runs, resuming pauses.

Whether an event's run starts at all is `admission.py`'s decision, taken inside the same
transaction; events of concurrent requests share one (a group commit).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import Any

from inngest_dsl.devserver.core.admission import Admission, RunHooks, new_id
from inngest_dsl.devserver.core.finishing import FINISHED, INVOKED, RunFinishing
from inngest_dsl.devserver.core.functions import FunctionInfo
from inngest_dsl.devserver.core.holds import Trigger
from inngest_dsl.devserver.core.matching import matching_pauses
from inngest_dsl.devserver.core.protocol import canonical
from inngest_dsl.devserver.store.records import PauseRecord, QueueItem

__all__ = ["RunIngest"]


class RunIngest(RunFinishing):
    """Stores events, starts the runs they trigger, resumes the pauses they match."""

    @functools.cached_property
    def admission(self) -> Admission:
        """Whether an event's run starts now, waits or is skipped."""
        return Admission(
            self._store,
            self._registry,
            RunHooks(
                enqueue=self._enqueue,
                log_state=self._log_state,
                cancel_run=self.cancel_run,
                fail_invoker=self._fail_invoker,
                started_ungated=self._started_ungated_note,
                isolated=self._isolated,
            ),
        )

    # -- events -----------------------------------------------------------------------------

    def ingest(self, events: Sequence[dict[str, Any]], *, internal: bool = False) -> list[str]:
        """Store normalised events, start the runs they trigger and resume matching pauses.

        Returns the internal ids. `internal` events (`inngest/...`) only come from here.
        """
        now = self._clock.now()
        ids = []
        with self.transaction():
            for event in events:
                ids.append(self._ingest_one(event, now, internal=internal))
        return ids

    async def ingest_grouped(
        self, events: Sequence[dict[str, Any]], ids: Sequence[str] | None = None
    ) -> list[str]:
        """Like `ingest`, but commits together with other requests arriving meanwhile.

        Events of concurrent requests share one transaction (a group commit); each caller
        still gets its ids only after the commit. Given `ids` (from the sender's seed), an
        event already stored under its id is not stored or acted on again.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[str]] = loop.create_future()
        self._ingest_batch.append((events, ids, future))
        if len(self._ingest_batch) == 1:
            loop.call_soon(self._flush_ingest)
        return await future

    def _flush_ingest(self) -> None:
        batch, self._ingest_batch = self._ingest_batch, []
        try:
            now = self._clock.now()
            with self.transaction():
                results = [
                    [
                        self._ingest_one(
                            event, now, internal=False, internal_id=ids[i] if ids else None
                        )
                        for i, event in enumerate(events)
                    ]
                    for events, ids, _ in batch
                ]
        except Exception as exc:
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, _, future), ids in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(ids)

    def _emit(self, event: dict[str, Any], now: float) -> None:
        self._ingest_one(event, now, internal=True)

    def _ingest_one(
        self,
        event: dict[str, Any],
        now: float,
        *,
        internal: bool,
        internal_id: str | None = None,
    ) -> str:
        if internal_id is not None and self._store.has_event(internal_id):
            return internal_id  # a retried send: this event is in already
        trigger = self.store_event(event, now, internal_id)
        internal_id, _, body_json = trigger
        name = event["name"]
        if internal and name == INVOKED:
            self._start_invoked(trigger, now)
        else:
            for function_id in self._registry.triggers.match(event):
                function = self._registry.get(function_id)
                if function is not None:
                    self.admission.schedule(function, trigger, now)
        self._resume_pauses(event, body_json, now)
        return internal_id

    def store_event(
        self, event: dict[str, Any], now: float, internal_id: str | None = None
    ) -> Trigger:
        """Store `event` under `internal_id` (a new one by default) inside the current
        transaction, filled in with what a stored event must have (an id, a time, data and
        user); it is then a run's trigger. Nothing is started or resumed for it."""
        if internal_id is None:
            internal_id = new_id()
        if not event.get("id"):
            event["id"] = internal_id
        if event.get("ts") is None:
            event["ts"] = int(now * 1000)
        event.setdefault("data", {})
        event.setdefault("user", {})
        body_json = canonical(event)
        self._store.insert_event(
            internal_id, str(event["id"]), event["name"], body_json, int(event["ts"]), now
        )
        return (internal_id, event, body_json)

    def ingest_for(self, function: FunctionInfo, event: dict[str, Any]) -> str | None:
        """Store an internal event and start a run of one function for it (cron)."""
        now = self._clock.now()
        with self.transaction():
            return self.admission.schedule(function, self.store_event(event, now), now)

    def start_run(self, function: FunctionInfo, events: Sequence[dict[str, Any]]) -> str | None:
        """Store `events` and start one run of `function` for them, past flow control."""
        now = self._clock.now()
        with self.transaction():
            triggers = [self.store_event(event, now) for event in events]
            return self.admission.start_now(function, triggers, now)

    def resolve_pause(self, pause: PauseRecord, memo_json: str) -> bool:
        """Resume a waiting or invoking step with `memo_json`, as a matching event or the
        invoked run's end would; False if it was resolved already."""
        now = self._clock.now()
        with self.transaction():
            return self._resolve(pause, memo_json, now)

    def _start_invoked(self, trigger: Trigger, now: float) -> None:
        meta = (trigger[1].get("data") or {}).get("_inngest") or {}
        function = self._registry.get(str(meta.get("fn_id", "")))
        if function is not None:
            correlation_id = meta.get("correlation_id")
            self.admission.schedule(
                function, trigger, now, correlation_id=correlation_id, invoked=True
            )

    def fire_debounce(self, item: QueueItem) -> None:
        """A debounce timer is due: start its run (unless it was replaced meanwhile)."""
        now = self._clock.now()
        with self.transaction():
            if self._store.dequeue(item.id):
                self.admission.fire_debounce(item.run_id, now)

    def flush_batch(self, item: QueueItem) -> None:
        """A batch timer is due: start the batch's run with what it holds."""
        now = self._clock.now()
        with self.transaction():
            if self._store.dequeue(item.id):
                self.admission.flush_batch(item.run_id, now)

    def _resume_pauses(self, event: dict[str, Any], body_json: str, now: float) -> None:
        name = event["name"]
        if name == FINISHED:
            correlation = (event.get("data") or {}).get("correlation_id")
            if correlation:
                pause = self._store.pause_for_correlation(str(correlation))
                if pause is not None:
                    data = event["data"]
                    if "error" in data:
                        self._reject(pause, data["error"], now)
                    else:
                        self._resolve(pause, canonical({"data": data.get("result")}), now)
        for pause in matching_pauses(self._store, event):
            if pause.kind != "cancel":
                self._resolve(pause, body_json, now)
            elif self._store.delete_pause(pause.id):
                self.cancel_run(pause.run_id, now, f"cancelled by the event {name} ({event['id']})")
