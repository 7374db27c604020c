"""Run state transitions (PROTOCOL.md §8): every change a run can go through, as one class.

`Runs` is the sum of its parts, each in its own module: transactions and their listeners
(`commits`), events in (`ingest`), call outcomes (`call_outcomes`) and finishing
(`finishing`). Whether an event's run starts at all is `admission.py`'s decision, taken inside
these transactions.
"""

from __future__ import annotations

from inngest_dsl.devserver.core.admission import DISCOVERY, new_id
from inngest_dsl.devserver.core.call_outcomes import CallOutcomes
from inngest_dsl.devserver.core.commits import RunListener

__all__ = ["DISCOVERY", "RunListener", "Runs", "new_id"]


class Runs(CallOutcomes):
    """Starts, advances and finishes runs against the store."""
