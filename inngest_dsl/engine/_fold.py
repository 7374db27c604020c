"""Folding results into `ctx.data`, as DESIGN §2 says, for every kind of op."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inngest_dsl.engine._outcomes import sent_ids
from inngest_dsl.engine._plan import INVOKE, SEND, STEP, WAIT, PlannedOp
from inngest_dsl.errors import EventError
from inngest_dsl.spec._event import Event

__all__ = ["fold", "fold_memo"]


def fold(data: dict[str, Any], key: str, value: Any) -> None:
    """DESIGN §2: a mapping merges, None adds nothing, anything else is stored under `key`."""
    if value is None:
        return
    if isinstance(value, Mapping):
        data.update(value)
    else:
        data[key] = value


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
    if kind in (STEP, INVOKE):
        fold(data, entry.user_id, value)
    elif kind == WAIT:
        data[entry.user_id] = _wait_result(value)
    elif kind == SEND:
        fold(data, entry.user_id, sent_ids(value))
    # Sleeps finish with a bare null and add nothing.
