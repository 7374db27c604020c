"""The JSON shapes of stored records: what the JSON API answers, the UI shows and the testing
kit reads back.
"""

from __future__ import annotations

import datetime
from typing import Any

from inngest_dsl.devserver.store.records import EventRecord, RunRecord, RunStatus, StepRecord
from inngest_dsl.spec import _durations

__all__ = ["event_json", "instant", "run_json", "run_summary_json", "step_json"]


def instant(value: float | None) -> str | None:
    """An epoch time as RFC 3339 text (None stays None)."""
    if value is None:
        return None
    return _durations.format_instant(datetime.datetime.fromtimestamp(value, datetime.timezone.utc))


def event_json(event: EventRecord) -> dict[str, Any]:
    """An event as the JSON API shows it."""
    return {
        "internal_id": event.internal_id,
        "id": event.id,
        "name": event.name,
        "received_at": instant(event.received_at),
        "event": event.body,
    }


def run_json(run: RunRecord, steps: list[StepRecord] | None = None) -> dict[str, Any]:
    """A run as the JSON API shows it; with `steps`, also its events and steps."""
    ended = run.ended_at
    started = run.started_at
    body: dict[str, Any] = {
        "run_id": run.run_id,
        "function_id": run.function_id,
        "status": run.status,
        "queued_at": instant(run.queued_at),
        "started_at": instant(started),
        "ended_at": instant(ended),
        "duration_ms": round((ended - (started or run.queued_at)) * 1000, 3) if ended else None,
        "output": run.output,
        "error": run.error,
    }
    if run.correlation_id:
        body["correlation_id"] = run.correlation_id
    if run.reason:
        body["reason"] = run.reason
    if run.priority:
        body["priority"] = run.priority
    if run.rerun_of:
        body["rerun_of"] = run.rerun_of
        body["rerun_from_step"] = run.rerun_from
    if steps is not None:
        body["event"] = run.events[0] if run.events else None
        body["events"] = run.events
        body["steps"] = [step_json(step) for step in steps]
    return body


def run_summary_json(run: RunRecord, event_id: str | None) -> dict[str, Any]:
    """A run as Inngest's REST API lists it (`GET /v1/events/{id}/runs`): `run_started_at`,
    `event_id`, and `output` holding the result once completed or the error once failed
    (absent otherwise)."""
    body: dict[str, Any] = {
        "run_id": run.run_id,
        "run_started_at": instant(run.started_at or run.queued_at),
        "function_id": run.function_id,
        "event_id": event_id,
        "status": run.status,
        "ended_at": instant(run.ended_at),
    }
    if run.status == RunStatus.COMPLETED:
        body["output"] = run.output
    elif run.status == RunStatus.FAILED:
        body["output"] = run.error
    return body


def step_json(step: StepRecord) -> dict[str, Any]:
    """A step as the JSON API shows it; `output` is its memo's data (or the event it waited for)."""
    memo = step.memo
    output: Any = None
    if isinstance(memo, dict) and set(memo) <= {"data", "error"} and memo:
        output = memo.get("data")
    elif step.kind == "WaitForEvent":
        output = memo
    return {
        "id": step.step_id,
        "name": step.display_name,
        "kind": step.kind,
        "status": step.status,
        "position": step.position,
        "attempts": step.attempts,
        "started_at": instant(step.started_at),
        "ended_at": instant(step.ended_at),
        "opts": step.opts,
        "output": output,
        "error": step.error,
    }
