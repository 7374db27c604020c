"""Run state transitions (PROTOCOL.md §8): every change a run can go through, as one class.

`Runs` is the sum of its parts, each in its own module: transactions and their listeners
(`commits`), events in (`ingest`), call outcomes (`call_outcomes`) and finishing
(`finishing`). Whether an event's run starts at all is `admission.py`'s decision, taken inside
these transactions.
"""

from __future__ import annotations

from inngest_dsl.devserver.core.admission import DISCOVERY, Admission, RunHooks, new_id
from inngest_dsl.devserver.core.call_outcomes import CallOutcomes
from inngest_dsl.devserver.core.clock import Clock
from inngest_dsl.devserver.core.commits import RunListener
from inngest_dsl.devserver.core.functions import Registry
from inngest_dsl.devserver.store import Store

__all__ = ["DISCOVERY", "RunListener", "Runs", "new_id"]


class Runs(CallOutcomes):
    """Starts, advances and finishes runs against the store."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        *,
        listener: RunListener,
        retry_interval: float | None = None,
        clock: Clock,
    ) -> None:
        super().__init__(
            store, registry, listener=listener, retry_interval=retry_interval, clock=clock
        )
        self.admission = Admission(
            store,
            registry,
            RunHooks(
                enqueue=self._enqueue,
                log_state=self._log_state,
                cancel_run=self.cancel_run,
                fail_invoker=self._fail_invoker,
                started_ungated=self._started_ungated_note,
                isolated=self._isolated,
            ),
        )
