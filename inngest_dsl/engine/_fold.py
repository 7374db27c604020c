"""Folding results into `ctx.data` (a `RunData`), as DESIGN §2 says, for every kind of op."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inngest_dsl.engine._context import RunData
from inngest_dsl.engine._outcomes import sent_ids
from inngest_dsl.engine._plan import INVOKE, SEND, STEP, WAIT, PlannedOp
from inngest_dsl.errors import EventError
from inngest_dsl.spec._event import Event

__all__ = ["RunData", "fold", "fold_memo", "fold_step", "merge", "store"]

_put = dict.__setitem__
_merge = dict.update


# The engine's writes, even into a `RunData`: `store(data, key, value)` and
# `merge(data, mapping)`, the plain dict methods (no wrapper: the walk calls them per op).
store = _put
merge = _merge


def fold(data: dict[str, Any], key: str, value: Any) -> None:
    """A `run` block's result: a mapping merges, None adds nothing, anything else is stored
    under `key`."""
    if value is None:
        return
    if isinstance(value, Mapping):
        _merge(data, value)
    else:
        _put(data, key, value)


def fold_step(data: dict[str, Any], key: str, value: Any) -> None:
    """A memoised step's result: a mapping merges, anything else (None too, as null) is
    stored under `key`."""
    if isinstance(value, Mapping):
        _merge(data, value)
    else:
        _put(data, key, value)


def _wait_result(value: Any) -> Any:
    if isinstance(value, dict):
        try:
            return Event.from_wire(value)
        except EventError:
            return value
    return value


def fold_memo(data: dict[str, Any], entry: PlannedOp, value: Any) -> None:
    """Fold the (unwrapped) memo value of a finished op, by its kind."""
    kind = entry.kind
    if kind == STEP:
        fold_step(data, entry.user_id, value)
    elif kind == INVOKE:
        # Merged like a step's, and kept whole under the invoke's id, so two invokes of one
        # function keep both results.
        if isinstance(value, Mapping):
            _merge(data, value)
        _put(data, entry.user_id, value)
    elif kind == WAIT:
        _put(data, entry.user_id, _wait_result(value))
    elif kind == SEND:
        fold(data, entry.user_id, sent_ids(value))
    # Sleeps finish with a bare null and add nothing.
