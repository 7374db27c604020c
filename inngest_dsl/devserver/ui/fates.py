"""Where an event went: the runs it started, or, for an event a debounce or batch absorbed,
the run it went to (or the debounce or batch still holding it)."""

from __future__ import annotations

import attrs

from inngest_dsl.devserver.store import Store
from inngest_dsl.devserver.store.records import RunRecord

__all__ = ["Fate", "fate_of"]

_MAX_HOPS = 10_000  # a debounce chain is finite; this only guards a damaged database


@attrs.frozen
class Fate:
    """`runs` the event started or went to; `via` the later event a debounce kept in its place;
    `held` what holds it now ("debounce" or "batch"), `held_for` the function, `due` when the
    hold ends (None for a batch that fills up first)."""

    runs: list[RunRecord]
    via: str | None = None
    held: str | None = None
    held_for: str | None = None
    due: float | None = None


def fate_of(store: Store, internal_id: str) -> Fate:
    runs = store.runs_for_event(internal_id)
    if runs:
        return Fate(runs)
    batch = store.batch_holding(internal_id)
    if batch is not None:
        return Fate([], held="batch", held_for=batch.function_id)
    current, via = internal_id, None
    for _ in range(_MAX_HOPS):
        later = store.superseded_by(current)
        if later is None:
            break
        current = via = later
    if via is None:
        debounce = store.debounce_holding(internal_id)
        if debounce is not None:
            return Fate([], held="debounce", held_for=debounce.function_id, due=debounce.due)
        return Fate([])
    runs = store.runs_for_event(via)
    if runs:
        return Fate(runs, via=via)
    debounce = store.debounce_holding(via)
    if debounce is not None:
        return Fate([], via=via, held="debounce", held_for=debounce.function_id, due=debounce.due)
    return Fate([], via=via)
