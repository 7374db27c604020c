"""What the `/v0/gql` queries answer: runs, their traces, step outputs and triggers, read from
the store in the shapes of the Inngest dev server's GraphQL schema (`gql_schema`).

`Queries` is the root value: graphql-core's default resolver calls its methods for the root
fields and reads nested fields from the dicts they return (calling the callables among them,
so a run's trace is read only when a query asks for it).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from graphql import GraphQLError

from inngest_dsl.devserver.core.functions import FunctionInfo
from inngest_dsl.devserver.http.gql_runs import runs_connection
from inngest_dsl.devserver.store import Store
from inngest_dsl.devserver.store.records import EventRecord, RunRecord, RunStatus, StepRecord
from inngest_dsl.devserver.store.shapes import instant

__all__ = ["Queries", "decode_output_id", "output_id"]

_RUN_STATUS = {
    RunStatus.QUEUED: "QUEUED",
    RunStatus.RUNNING: "RUNNING",
    RunStatus.COMPLETED: "COMPLETED",
    RunStatus.FAILED: "FAILED",
    RunStatus.CANCELLED: "CANCELLED",
    RunStatus.SKIPPED: "SKIPPED",
}
# A span has no SKIPPED: a run dropped by flow control before it started shows as cancelled.
_ROOT_SPAN_STATUS = {**_RUN_STATUS, RunStatus.SKIPPED: "CANCELLED"}
_STEP_SPAN_STATUS = {
    "Completed": "COMPLETED",
    "Failed": "FAILED",
    "Cancelled": "CANCELLED",
    "Retrying": "RUNNING",
    "Planned": "QUEUED",
    "Sleeping": "WAITING",
    "Waiting": "WAITING",
    "Invoking": "WAITING",
}
_STEP_OPS = {
    "Run": "RUN",
    "Sleep": "SLEEP",
    "WaitForEvent": "WAIT_FOR_EVENT",
    "InvokeFunction": "INVOKE",
}
_SCHEDULED = "inngest/scheduled.timer"


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def output_id(run_id: str, step_id: str = "") -> str:
    """The opaque id of a span's output: the run's own (no `step_id`) or one step's."""
    return base64.urlsafe_b64encode(f"{run_id}/{step_id}".encode()).decode().rstrip("=")


def decode_output_id(value: str) -> tuple[str, str]:
    """`(run_id, step_id)` of an id made by `output_id`; a `GraphQLError` if it is not one."""
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (ValueError, binascii.Error):
        text = ""
    run_id, sep, step_id = text.partition("/")
    if not sep or not run_id:
        raise GraphQLError(f"invalid output ID: {value!r}")
    return run_id, step_id


def _step_error(error: Any) -> dict[str, Any]:
    """A `StepError` from an error object as the SDK sent it."""
    if not isinstance(error, Mapping):
        return {"message": _json(error), "name": None, "stack": None}
    message = error.get("message")
    name, stack = error.get("name"), error.get("stack")
    return {
        "message": message if isinstance(message, str) else _json(message),
        "name": name if isinstance(name, str) or name is None else _json(name),
        "stack": stack if isinstance(stack, str) or stack is None else _json(stack),
    }


def _duration_ms(started: float | None, ended: float | None) -> int | None:
    if started is None or ended is None:
        return None
    return round((ended - started) * 1000)


def _step_output(step: StepRecord) -> dict[str, Any] | None:
    """A step's `RunTraceSpanOutput`, or None while it has none (planned, sleeping...)."""
    memo = step.memo
    if step.position is None:
        error = step.error
        return None if error is None else {"input": None, "data": None, "error": _step_error(error)}
    if isinstance(memo, dict) and memo and set(memo) <= {"data", "error"}:
        if "error" in memo and memo["error"] is not None:
            return {"input": None, "data": None, "error": _step_error(memo["error"])}
        return {"input": None, "data": _json(memo.get("data")), "error": None}
    data = _json(memo) if step.kind == "WaitForEvent" else None
    return {"input": None, "data": data, "error": None}


def _run_output(run: RunRecord) -> dict[str, Any] | None:
    """The run's own `RunTraceSpanOutput`: its result, or its error; None before it ends."""
    if run.status == RunStatus.COMPLETED:
        return {"input": None, "data": run.output_json or "null", "error": None}
    if run.status == RunStatus.FAILED:
        return {"input": None, "data": None, "error": _step_error(run.error)}
    return None


def _run_output_bytes(run: RunRecord) -> str | None:
    """`output` of a run: its JSON result, or its JSON error once it failed."""
    if run.status == RunStatus.COMPLETED:
        return run.output_json or "null"
    if run.status == RunStatus.FAILED:
        return run.error_json
    return None


class Queries:
    """The root fields of the schema, over the store and the function registry."""

    def __init__(self, store: Store, functions: Mapping[str, FunctionInfo]) -> None:
        self._store = store
        self._functions = functions

    # --- root fields -------------------------------------------------------------------

    def event(self, info: object, query: Mapping[str, Any]) -> dict[str, Any]:
        event_id = str(query["eventId"])
        event = self._store.get_event(event_id)
        if event is None:
            raise GraphQLError(f"event not found: {event_id}")
        return self._event(event)

    def functionRun(self, info: object, query: Mapping[str, Any]) -> dict[str, Any]:
        run = self._run(str(query["functionRunId"]))
        event_ids = self._store.event_ids_for_run(run.run_id)
        return self._function_run(run, event_ids[0] if event_ids else "")

    def run(self, info: object, runID: str) -> dict[str, Any]:
        return self.run_v2(self._run(runID))

    def runs(
        self,
        info: object,
        orderBy: list[Mapping[str, Any]],
        filter: Mapping[str, Any],
        first: int = 100,
        after: str | None = None,
    ) -> dict[str, Any]:
        return runs_connection(self, first, after, orderBy, filter)

    def run_v2(self, run: RunRecord) -> dict[str, Any]:
        """A run as a `FunctionRunV2`."""
        events = run.events
        return {
            "id": run.run_id,
            "functionID": self._function_uuid(run.function_id),
            "function": lambda info: self._function(run.function_id),
            "traceID": run.run_id,
            "queuedAt": instant(run.queued_at),
            "startedAt": instant(run.started_at),
            "endedAt": instant(run.ended_at),
            "status": _RUN_STATUS.get(run.status, "RUNNING"),
            "triggerIDs": lambda info: self._store.event_ids_for_run(run.run_id),
            "eventName": events[0].get("name") if events else None,
            "isBatch": self._is_batch(run),
            "cronSchedule": _cron(events),
            "output": _run_output_bytes(run),
            "trace": lambda info: self._trace(run),
        }

    def runTrace(self, info: object, runID: str) -> dict[str, Any]:
        return self._trace(self._run(runID))

    def runTraceSpanOutputByID(
        self,
        info: object,
        outputID: str,
    ) -> dict[str, Any]:
        run_id, step_id = decode_output_id(outputID)
        run = self._run(run_id)
        if not step_id:
            output = _run_output(run)
        else:
            step = self._store.get_step(run_id, step_id)
            output = None if step is None else _step_output(step)
        if output is None:
            raise GraphQLError(f"no output for ID {outputID!r}")
        return output

    def runTrigger(self, info: object, runID: str) -> dict[str, Any]:
        run = self._run(runID)
        events = run.events
        first = events[0] if events else {}
        ts = first.get("ts")
        when = ts / 1000 if isinstance(ts, (int, float)) and ts > 0 else run.queued_at
        return {
            "eventName": first.get("name"),
            "IDs": self._store.event_ids_for_run(run.run_id),
            "payloads": [_json(event) for event in events],
            "timestamp": instant(when),
            "isBatch": self._is_batch(run),
            "batchID": None,
            "cron": _cron(events),
        }

    # --- helpers -------------------------------------------------------------------------

    def _run(self, run_id: str) -> RunRecord:
        run = self._store.get_run(run_id)
        if run is None:
            raise GraphQLError(f"run not found: {run_id}")
        return run

    @property
    def store(self) -> Store:
        return self._store

    def function_ids(self, given: list[str]) -> list[str]:
        """The function ids (slugs) that `given` UUIDs or slugs name."""
        by_uuid = {f.uuid: f.id for f in self._functions.values() if f.uuid}
        return [by_uuid.get(value, value) for value in given]

    def _function_uuid(self, function_id: str) -> str:
        function = self._functions.get(function_id)
        return function.uuid if function is not None and function.uuid else function_id

    def _function(self, function_id: str) -> dict[str, Any]:
        function = self._functions.get(function_id)
        return {
            "id": self._function_uuid(function_id),
            "name": function.name if function is not None else function_id,
            "slug": function_id,
        }

    def _event(self, event: EventRecord) -> dict[str, Any]:
        loaded: list[list[RunRecord]] = []

        def runs() -> list[RunRecord]:
            """The event's runs, read once and only if a query asks for them."""
            if not loaded:
                loaded.append(self._store.runs_for_event(event.internal_id))
            return loaded[0]

        body = event.body
        return {
            "id": event.internal_id,
            "externalID": event.id,
            "name": event.name,
            "createdAt": instant(event.received_at),
            "payload": _json(body.get("data", {})),
            "raw": _json(body),
            "totalRuns": lambda info: len(runs()),
            "pendingRuns": lambda info: sum(1 for r in runs() if r.status not in RunStatus.FINAL),
            "functionRuns": lambda info: [
                self._function_run(run, event.internal_id) for run in runs()
            ],
        }

    def _events_of(self, run: RunRecord) -> list[dict[str, Any]]:
        """The stored events that started `run` (an invoked run's event is not stored)."""
        events = (self._store.get_event(i) for i in self._store.event_ids_for_run(run.run_id))
        return [self._event(event) for event in events if event is not None]

    def _is_batch(self, run: RunRecord) -> bool:
        function = self._functions.get(run.function_id)
        batched = function is not None and bool(function.config.get("batchEvents"))
        return batched or len(run.events) > 1

    def _function_run(self, run: RunRecord, event_id: str) -> dict[str, Any]:
        """A run as `Event.functionRuns` lists it (the older `FunctionRun` type)."""
        return {
            "id": run.run_id,
            "functionID": run.function_id,
            "function": lambda info: self._function(run.function_id),
            "status": _RUN_STATUS.get(run.status, "RUNNING"),
            "startedAt": instant(run.started_at),
            "finishedAt": instant(run.ended_at),
            "output": _run_output_bytes(run),
            "eventID": event_id,
            "event": lambda info: next(iter(self._events_of(run)), None),
            "events": lambda info: self._events_of(run),
        }

    def _trace(self, run: RunRecord) -> dict[str, Any]:
        """The run's root span, its steps as children, in the order they finished."""
        steps = self._store.list_steps(run.run_id)
        function_uuid = self._function_uuid(run.function_id)
        ended = run.status in RunStatus.FINAL
        root: dict[str, Any] = {
            "functionID": function_uuid,
            "runID": run.run_id,
            "spanID": run.run_id,
            "traceID": run.run_id,
            "name": self._function(run.function_id)["name"],
            "status": _ROOT_SPAN_STATUS.get(run.status, "RUNNING"),
            "attempts": None,
            "duration": _duration_ms(run.started_at, run.ended_at),
            "outputID": output_id(run.run_id) if _run_output(run) is not None else None,
            "queuedAt": instant(run.queued_at),
            "startedAt": instant(run.started_at),
            "endedAt": instant(run.ended_at),
            "stepOp": None,
            "stepID": None,
            "isRoot": True,
            "parentSpanID": None,
        }
        children = [self._step_span(run, step, root, ended) for step in steps]
        return {**root, "childrenSpans": children}

    def _step_span(
        self, run: RunRecord, step: StepRecord, root: Mapping[str, Any], run_ended: bool
    ) -> dict[str, Any]:
        status = _STEP_SPAN_STATUS.get(step.status, "RUNNING")
        if run_ended and step.position is None:
            status = "CANCELLED" if run.status == RunStatus.CANCELLED else "FAILED"
        has_output = _step_output(step) is not None
        return {
            "functionID": root["functionID"],
            "runID": run.run_id,
            "spanID": f"{run.run_id}/{step.step_id}",
            "traceID": run.run_id,
            "name": step.display_name or step.step_id,
            "status": status,
            "attempts": step.attempts,
            "duration": _duration_ms(step.started_at, step.ended_at),
            "outputID": output_id(run.run_id, step.step_id) if has_output else None,
            "queuedAt": instant(step.started_at) or root["queuedAt"],
            "startedAt": instant(step.started_at),
            "endedAt": instant(step.ended_at),
            "childrenSpans": [],
            "stepOp": _STEP_OPS.get(step.kind),
            "stepID": step.step_id,
            "isRoot": False,
            "parentSpanID": root["spanID"],
        }


def _cron(events: list[dict[str, Any]]) -> str | None:
    """The schedule of a cron run (its `inngest/scheduled.timer` event says which)."""
    if not events or events[0].get("name") != _SCHEDULED:
        return None
    data = events[0].get("data")
    cron = data.get("cron") if isinstance(data, dict) else None
    return cron if isinstance(cron, str) else None
