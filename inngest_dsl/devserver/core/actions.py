"""What a person does to runs from the workbench: cancel, rerun, rerun from a step, invoke,
cancel many. The JSON API, the CLI (through the API) and the UI all call these, so each action
has one implementation.

Every action is one transaction of the engine's `Runs`: it is whole or not at all, and the work
it queues reaches the executor when it commits. Refusals raise an `ActionError` whose message
names what is wrong and whose `status` is the HTTP status the API answers with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from inngest_dsl.devserver.core.admission import new_id
from inngest_dsl.devserver.core.engine import Engine
from inngest_dsl.devserver.core.finishing import CANCELLED_BY_API, INVOKED
from inngest_dsl.devserver.core.functions import FunctionInfo
from inngest_dsl.devserver.core.holds import Trigger
from inngest_dsl.devserver.core.matching import evaluate
from inngest_dsl.devserver.core.protocol import canonical
from inngest_dsl.devserver.store.records import RunRecord, RunStatus, StepRecord
from inngest_dsl.spec._expressions import expression_problem

__all__ = [
    "CANCELLED_BY_API",
    "CANCELLED_FROM_UI",
    "ActionError",
    "Cancellation",
    "Conflict",
    "Invocation",
    "NotFound",
    "cancel_run",
    "cancel_runs",
    "find_function",
    "invoke",
    "kept_steps",
    "rerun",
]


class ActionError(Exception):
    """An action refused; the message says why in one line."""

    status = 400


class NotFound(ActionError):
    """The run, step or function named does not exist."""

    status = 404


class Conflict(ActionError):
    """The action does not apply to the run as it is (say, rerunning from an unknown step)."""

    status = 409


@attrs.frozen
class Invocation:
    """What `invoke` did: the `inngest/function.invoked` event it stored and the run it made."""

    event_id: str
    run: RunRecord


@attrs.frozen
class Cancellation:
    """What `cancel_runs` did, in the terms of Inngest's `POST /v1/cancellations`."""

    id: str
    function_id: str
    started_after: float
    started_before: float
    expression: str | None
    run_ids: tuple[str, ...]
    """The runs it cancelled (or, in a dry run, would cancel), oldest first."""


LIVE = (RunStatus.QUEUED, RunStatus.RUNNING)
CANCELLED_FROM_UI = "cancelled from the dev server UI"
"""The reason a run cancelled with the UI's buttons shows (the API's is `CANCELLED_BY_API`)."""


def _run(engine: Engine, run_id: str) -> RunRecord:
    run = engine.store.get_run(run_id)
    if run is None:
        raise NotFound(f"run {run_id!r} not found")
    return run


def find_function(engine: Engine, ident: str, app_id: str | None = None) -> FunctionInfo:
    """A registered function by its id (`<app>-<fn>`), or by the function's own id within
    `app_id` (or within the only app that has one by that name)."""
    registry = engine.registry
    if app_id:
        function = registry.get(f"{app_id}-{ident}")
        if function is not None:
            return function
    function = registry.get(ident)
    if function is not None:
        return function
    if app_id is None:
        apps = {app.url: app.name for app in engine.store.list_apps()}
        matches = [
            info
            for record in engine.store.list_functions()
            if record.id == f"{apps.get(record.app_url)}-{ident}"
            and (info := registry.get(record.id)) is not None
        ]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            names = ", ".join(sorted(f.id for f in matches))
            raise ActionError(f"function {ident!r} is ambiguous: one of {names}")
    where = f" in app {app_id!r}" if app_id else ""
    raise NotFound(f"function {ident!r} not found{where}")


def cancel_run(engine: Engine, run_id: str, *, reason: str = CANCELLED_BY_API) -> RunRecord:
    """Cancel a queued or running run; a run that has ended is left as it is. The run after."""
    run = _run(engine, run_id)
    runs = engine.runs
    with runs.transaction():
        runs.cancel_run(run_id, engine.clock.now(), reason)
    return engine.store.get_run(run_id) or run


def _from_position(steps: Sequence[StepRecord], from_step: str) -> tuple[StepRecord, int]:
    """The step `from_step` names (a step id or a unique display name), and where in the
    stack a rerun from it starts: the steps finished before it keep their results."""
    chosen = [s for s in steps if s.step_id == from_step]
    if not chosen:
        chosen = [s for s in steps if s.display_name == from_step]
    if not chosen:
        names = ", ".join(repr(s.display_name or s.step_id) for s in steps) or "none"
        raise Conflict(f"from_step: the run has no step {from_step!r} (its steps: {names})")
    if len(chosen) > 1:
        raise Conflict(f"from_step: {from_step!r} names {len(chosen)} steps; give a step id")
    step = chosen[0]
    if step.position is None:  # never finished: every finished step came before it
        return step, sum(1 for s in steps if s.position is not None)
    return step, step.position


def kept_steps(steps: Sequence[StepRecord], from_step: str) -> list[StepRecord]:
    """Of a run's `steps`, those a rerun from `from_step` keeps: the ones finished before it."""
    return _before(steps, _from_position(steps, from_step)[1])


def _before(steps: Sequence[StepRecord], position: int) -> list[StepRecord]:
    return [s for s in steps if s.position is not None and s.position < position]


def rerun(engine: Engine, run_id: str, *, from_step: str | None = None) -> RunRecord:
    """Start a new run of the same function with the same events; the new run, which
    records the run it reruns (`rerun_of`) and the step it started from (`rerun_from`).

    With `from_step`, the new run starts with the results of the steps that finished before
    that one in the original run memoised: their bodies do not run again. The new run passes
    batching, debounce and start limits (it is asked for), but not its singleton.
    """
    run = _run(engine, run_id)
    function = engine.registry.get(run.function_id)
    if function is None:
        raise Conflict(f"function {run.function_id!r} of run {run_id} is no longer registered")
    kept: list[StepRecord] = []
    from_step_id: str | None = None
    if from_step is not None:
        steps = engine.store.list_steps(run_id)
        step, position = _from_position(steps, from_step)
        from_step_id = step.step_id
        kept = _before(steps, position)
    store = engine.store
    runs = engine.runs
    with runs.transaction():
        now = engine.clock.now()
        triggers = _triggers(engine, run, now)
        new_run_id = runs.admission.start_now(function, triggers, now)
        if new_run_id is None:  # its singleton skipped it: the skipped run is the newest
            skipped = store.runs_for_event(triggers[0][0])
            newest = max(
                (r for r in skipped if r.function_id == function.id), key=lambda r: r.run_id
            )
            store.set_rerun_of(newest.run_id, run_id, from_step_id)
            return _run(engine, newest.run_id)
        store.set_rerun_of(new_run_id, run_id, from_step_id)
        for step in kept:
            store.memoise_step(
                new_run_id,
                step.step_id,
                kind=step.kind,
                display_name=step.display_name,
                status=step.status,
                memo_json=step.memo_json or "null",
                error_json=step.error_json,
                started_at=now,
                now=now,
            )
    return _run(engine, new_run_id)


def _triggers(engine: Engine, run: RunRecord, now: float) -> list[Trigger]:
    """The original run's events as triggers: the stored events themselves, so the new run is
    listed under the same events (stored anew only if the old ones cannot be paired up)."""
    store = engine.store
    events = run.events
    internal_ids = store.event_ids_for_run(run.run_id)
    if len(internal_ids) == len(events):
        return [
            (internal_id, event, canonical(event))
            for internal_id, event in zip(internal_ids, events, strict=True)
        ]
    return [engine.runs.store_event(event, now) for event in events]


def invoke(
    engine: Engine,
    function_id: str,
    data: Mapping[str, Any] | None = None,
    *,
    user: Mapping[str, Any] | None = None,
    app_id: str | None = None,
) -> Invocation:
    """Start a run of a function whatever its triggers, as Inngest's dev server does: an
    `inngest/function.invoked` event with `data` and `_inngest.fn_id` naming the function.

    Flow control applies as to `step.invoke` (no batching or debounce; rate limits may skip
    it). The run is returned even when skipped.
    """
    if data is not None and not isinstance(data, Mapping):
        raise ActionError("data: must be a JSON object")
    if user is not None and not isinstance(user, Mapping):
        raise ActionError("user: must be a JSON object")
    function = find_function(engine, function_id, app_id)
    body: dict[str, Any] = {k: v for k, v in (data or {}).items() if k != "_inngest"}
    # The metadata Inngest puts on an invocation made outside a run (no caller to answer).
    body["_inngest"] = {
        "fn_id": function.id,
        "source_app_id": "",
        "source_fn_id": "",
        "source_fn_v": 0,
        "expire": 0,
        "gid": "",
        "name": "",
    }
    event = {"name": INVOKED, "data": body, "user": dict(user or {})}
    runs = engine.runs
    with runs.transaction():
        (event_id,) = runs.ingest([event], internal=True)
    started = engine.store.runs_for_event(event_id)
    if not started:  # not expected: an invoked event always starts or skips a run
        raise Conflict(f"function {function.id!r} did not start")
    return Invocation(event_id=event_id, run=started[0])


def cancel_runs(
    engine: Engine,
    function_id: str,
    *,
    started_after: float,
    started_before: float,
    expression: str | None = None,
    app_id: str | None = None,
    reason: str = CANCELLED_BY_API,
    dry_run: bool = False,
) -> Cancellation:
    """Cancel the queued and running runs of a function created in
    `[started_after, started_before)` whose first event makes `expression` (CEL over `event`)
    true, as Inngest's bulk cancellation does. With `dry_run`, only say which runs those are
    (what a confirmation shows before it is given)."""
    function = _bulk_function(
        engine, function_id, started_after, started_before, expression, app_id
    )
    runs = engine.runs
    cancelled: list[str] = []
    with runs.transaction():
        now = engine.clock.now()
        for run in _matching(engine, function.id, started_after, started_before, expression):
            if not dry_run:
                runs.cancel_run(run.run_id, now, reason)
            cancelled.append(run.run_id)
    return Cancellation(
        id=new_id(),
        function_id=function.id,
        started_after=started_after,
        started_before=started_before,
        expression=expression,
        run_ids=tuple(cancelled),
    )


def _bulk_function(
    engine: Engine,
    function_id: str,
    started_after: float,
    started_before: float,
    expression: str | None,
    app_id: str | None,
) -> FunctionInfo:
    """The function a bulk cancellation is of, once its window and expression are valid."""
    if started_before <= started_after:
        raise ActionError("started_before: must be later than started_after")
    if expression is not None:
        problem = expression_problem(expression)
        if problem is not None:
            raise ActionError(f"if: {problem}")
    return find_function(engine, function_id, app_id)


def _matching(
    engine: Engine,
    function_id: str,
    started_after: float,
    started_before: float,
    expression: str | None,
) -> list[RunRecord]:
    matching, _ = engine.store.filter_runs(
        time_column="queued_at",
        since=started_after,
        until=started_before,
        statuses=LIVE,
        function_ids=[function_id],
        descending=False,
        limit=-1,  # SQLite: no limit
    )
    if expression is None:
        return matching
    return [
        run
        for run in matching
        if evaluate(expression, {"event": run.events[0] if run.events else {}})
    ]
