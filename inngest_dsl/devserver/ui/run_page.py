"""A run's page: its facts, the actions on it, its step timeline, its outcome and events."""

from __future__ import annotations

import attrs
from aiohttp import web

from inngest_dsl.devserver.core.actions import ActionError, kept_steps
from inngest_dsl.devserver.http.keys import CLOCK, STORE
from inngest_dsl.devserver.store import Store
from inngest_dsl.devserver.store.records import RunRecord, RunStatus
from inngest_dsl.devserver.ui.errors import readable_error
from inngest_dsl.devserver.ui.markup import render
from inngest_dsl.devserver.ui.runs_page import function_names
from inngest_dsl.devserver.ui.timeline import build_timeline

__all__ = ["not_found", "run"]


def not_found(request: web.Request, what: str, ident: str) -> web.Response:
    return render(request, "not_found.html", {"what": what, "ident": ident}, status=404)


async def run(request: web.Request) -> web.Response:
    store = request.app[STORE]
    run_id = request.match_info["run_id"]
    run = store.get_run(run_id)
    if run is None:
        return not_found(request, "Run", run_id)
    steps = store.list_steps(run.run_id)
    now = request.app[CLOCK].now()
    timeline = build_timeline(
        run, steps, now, store.queue_for_run(run.run_id), store.pauses_of_run(run.run_id)
    )
    final = run.status in RunStatus.FINAL
    error = None
    if run.status == RunStatus.FAILED or run.error is not None:
        error = readable_error(run.error)
    context = {
        "run": run,
        "names": function_names(request),
        "now": now,
        "final": final,
        "live": not final,
        "timeline": timeline,
        "error": error,
        "events": run.events,
        "event_ids": store.event_ids_for_run(run.run_id),
        "rerun_steps": [s for s in timeline.rows if s.status in ("Completed", "Failed")],
        "origin": _origin(store, run),
        "kept": _kept(store, run),
        "reruns": store.reruns_of(run.run_id),
        "step_names": {s.step_id: s.display_name or s.step_id for s in steps},
    }
    return render(request, "run.html", context)


def _origin(store: Store, run: RunRecord) -> Origin | None:
    """Where a rerun came from: the run (if still kept) and the step it started from."""
    if run.rerun_of is None:
        return None
    step_name = None
    if run.rerun_from is not None:
        step = store.get_step(run.rerun_of, run.rerun_from)
        step_name = step.display_name if step is not None and step.display_name else run.rerun_from
    return Origin(run.rerun_of, store.get_run(run.rerun_of) is not None, step_name)


@attrs.frozen
class Origin:
    """The run a rerun reruns, whether it is still kept, and the step it started from."""

    run_id: str
    kept: bool
    step_name: str | None


def _kept(store: Store, run: RunRecord) -> set[str]:
    """The steps a rerun from a step kept from its origin (their bodies did not run again)."""
    if run.rerun_of is None or run.rerun_from is None:
        return set()
    try:
        return {s.step_id for s in kept_steps(store.list_steps(run.rerun_of), run.rerun_from)}
    except ActionError:  # the origin is no longer kept
        return set()
