"""What the store holds, as frozen attrs records (the read API the JSON API and the UI use).

JSON-valued fields keep the canonical JSON text the store saved (`*_json`); the `json` helpers
decode on demand so listing many rows stays cheap.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

__all__ = [
    "AppRecord",
    "BatchRecord",
    "DebounceRecord",
    "EventRecord",
    "FunctionRecord",
    "PauseRecord",
    "QueueItem",
    "RunRecord",
    "RunStatus",
    "StepRecord",
]


class RunStatus:
    """Run statuses, as the Inngest API spells them."""

    QUEUED = "Queued"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    SKIPPED = "Skipped"
    """Dropped by flow control (rate limit, idempotency, singleton) before it started."""

    ALL = (QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED, SKIPPED)
    FINAL = frozenset((COMPLETED, FAILED, CANCELLED, SKIPPED))


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@attrs.frozen
class EventRecord:
    """One accepted event. `internal_id` is the ULID the event API returned; `id` the dedup key."""

    seq: int
    internal_id: str
    id: str
    name: str
    body_json: str
    ts: int
    received_at: float

    @property
    def body(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body_json)
        return value


@attrs.frozen
class AppRecord:
    """A synced app (one serve URL)."""

    url: str
    name: str
    sdk: str
    framework: str
    checksum: str
    synced_at: float | None
    error: str | None


@attrs.frozen
class FunctionRecord:
    """A registered function; `config_json` is its FunctionConfig as the app sent it."""

    id: str
    app_url: str
    name: str
    url: str
    config_json: str
    updated_at: float

    @property
    def config(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.config_json)
        return value


@attrs.frozen
class RunRecord:
    """One function run and its outcome."""

    run_id: str
    function_id: str
    status: str
    events_json: str
    output_json: str | None
    error_json: str | None
    queued_at: float
    started_at: float | None
    ended_at: float | None
    outstanding: int
    force_plan: bool
    version: int
    correlation_id: str | None
    priority: int = 0
    """Seconds the run's calls count as enqueued earlier (`priority.run`), -600..600."""
    flow_json: str | None = None
    """Concurrency keys and throttle key of the run, JSON; None without such limits."""
    singleton: str | None = None
    reason: str | None = None
    """Why it is queued, was skipped or was cancelled, in words; None otherwise."""
    rerun_of: str | None = None
    """The run this one reruns (None: it is not a rerun)."""
    rerun_from: str | None = None
    """The step id of the origin the rerun started from (None: from the start)."""

    @property
    def events(self) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = json.loads(self.events_json)
        return value

    @property
    def output(self) -> Any:
        return _loads(self.output_json)

    @property
    def error(self) -> Any:
        return _loads(self.error_json)


KIND_LABELS = {"Run": "Step", "WaitForEvent": "Wait", "InvokeFunction": "Invoke"}
"""How a step's `kind` is labelled for people (the UI, the command line): a `@step` block is a
"Step" (not "Run", which names `@run`); kinds not listed keep their name."""


@attrs.frozen
class StepRecord:
    """One step (op) of a run: what it is, when it ran, and what it returned.

    `position` is its place in the run's stack (completion order), None while unfinished;
    `memo_json` is exactly what the executor replays to the app.
    """

    run_id: str
    step_id: str
    position: int | None
    kind: str
    display_name: str
    status: str
    memo_json: str | None
    error_json: str | None
    opts_json: str | None
    attempts: int
    started_at: float | None
    ended_at: float | None

    @property
    def memo(self) -> Any:
        return _loads(self.memo_json)

    @property
    def error(self) -> Any:
        return _loads(self.error_json)

    @property
    def opts(self) -> Any:
        return _loads(self.opts_json)


@attrs.frozen
class QueueItem:
    """Due work: a call to the app, a sleep to wake, or a pause to expire."""

    id: int
    run_id: str
    kind: str
    step_id: str
    attempt: int
    due: float
    ref: int | None


@attrs.frozen
class PauseRecord:
    """A run waiting for an event: a wait, a cancellation trigger, or an invoked run."""

    id: int
    run_id: str
    step_id: str
    kind: str
    event_name: str | None
    expression: str | None
    correlation_id: str | None
    expires: float
    trigger_json: str


@attrs.frozen
class DebounceRecord:
    """A debounced function waiting for a quiet `period`: it will run with `event`."""

    id: str
    function_id: str
    debounce_key: str
    internal_id: str
    event_json: str
    first_at: float
    due: float


@attrs.frozen
class BatchRecord:
    """An open batch of events for one function and batch key."""

    id: str
    function_id: str
    batch_key: str
    opened_at: float
    size: int
