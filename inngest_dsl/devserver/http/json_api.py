"""The `/v1` JSON API's reads: events and runs (searched, a page at a time), functions;
`/v1` itself and `/health`. Actions are `actions_api`'s, apps `apps_api`'s."""

from __future__ import annotations

from aiohttp import web

from inngest_dsl.devserver.core import actions
from inngest_dsl.devserver.http import params
from inngest_dsl.devserver.http.keys import ENGINE, STORE
from inngest_dsl.devserver.http.responses import BadRequest, error_response, json_response
from inngest_dsl.devserver.store.records import EventRecord, RunRecord, RunStatus
from inngest_dsl.devserver.store.search import EventQuery, RunQuery
from inngest_dsl.devserver.store.shapes import event_json, instant, run_json, run_summary_json

__all__ = [
    "get_event",
    "get_event_runs",
    "get_run",
    "health",
    "index",
    "list_events",
    "list_functions",
    "list_runs",
]


async def index(request: web.Request) -> web.Response:
    store = request.app[STORE]
    return json_response(
        {
            "name": "inngest-dsl dev server",
            "events": store.count_events(),
            "runs": store.count_runs(),
            "functions": len(request.app[ENGINE].registry.functions),
            "apps": [app.url for app in store.list_apps()],
            "endpoints": [
                "POST /e/{event_key}",
                "POST /fn/register",
                "GET /v0/runs/{run_id}/batch",
                "GET /v0/runs/{run_id}/actions",
                "POST /v0/gql",
                "GET /v0/gql?query=",
                "GET /v1/events?name=&internal=&after=&before=&cursor=&limit=",
                "GET /v1/events/{id}",
                "GET /v1/events/{id}/runs",
                "GET /v1/runs?run_id=&event_id=&function_id=&status=&after=&before=&cursor=&limit=",
                "GET /v1/runs/{run_id}",
                "POST /v1/runs/{run_id}/cancel",
                "POST /v1/runs/{run_id}/rerun",
                "POST /v1/cancellations",
                "GET /v1/functions",
                "POST /v1/functions/{function_id}/invoke",
                "GET /v1/apps",
                "POST /v1/apps",
                "POST /v1/apps/resync",
                "DELETE /v1/apps?url=",
                "GET /health",
            ],
        }
    )


async def health(request: web.Request) -> web.Response:
    """`backlog` counts the queued work still to do (the store's queue, not the timers held
    for work that is already gone, such as the expiry of a wait that resolved)."""
    executor = request.app[ENGINE].executor
    backlog = request.app[STORE].queue_size()
    return json_response({"status": "ok", "backlog": backlog, "parked": executor.gates.parked})


async def list_events(request: web.Request) -> web.Response:
    """Newest first, a page at a time; internal events (`inngest/...`) with `internal=true`
    or when asked for by `name`."""
    query = request.query
    try:
        page = request.app[STORE].search_events(
            EventQuery(
                name=query.get("name") or None,
                internal=params.flag(request, "internal"),
                since=params.time_param(request, "after"),
                until=params.time_param(request, "before"),
                cursor=query.get("cursor") or None,
                limit=params.limit(request),
            )
        )
    except ValueError as exc:
        return error_response(400, str(exc))
    return json_response({"data": [event_json(e) for e in page.events], "cursor": page.cursor})


async def get_event(request: web.Request) -> web.Response:
    found = _event_with_runs(request)
    if found is None:
        return error_response(404, "event not found")
    event, runs = found
    return json_response({"data": {**event_json(event), "runs": [run_json(r) for r in runs]}})


async def get_event_runs(request: web.Request) -> web.Response:
    """The runs an event started, in the shape of Inngest's `GET /v1/events/{id}/runs`."""
    found = _event_with_runs(request)
    if found is None:
        return error_response(404, "event not found")
    event, runs = found
    return json_response({"data": [run_summary_json(r, event.internal_id) for r in runs]})


def _event_with_runs(request: web.Request) -> tuple[EventRecord, list[RunRecord]] | None:
    """The event the path names and the runs it started; None if there is no such event."""
    store = request.app[STORE]
    event = store.get_event(request.match_info["event_id"])
    if event is None:
        return None
    return event, store.runs_for_event(event.internal_id)


async def list_runs(request: web.Request) -> web.Response:
    """Runs newest first, a page at a time: by `run_id`, `event_id`, `function_id` and
    `status` (comma-separated lists), queued `after`/`before` an RFC 3339 time; `cursor`
    is the previous page's."""
    query = request.query
    statuses = params.list_param(request, "status")
    if statuses is not None:
        statuses = [status.capitalize() for status in statuses]
        for status in statuses:
            if status not in RunStatus.ALL:
                return error_response(400, f"status: must be one of {', '.join(RunStatus.ALL)}")
    try:
        page = request.app[STORE].search_runs(
            RunQuery(
                run_id=query.get("run_id") or None,
                event_id=query.get("event_id") or None,
                function_ids=_function_ids(request),
                statuses=statuses,
                since=params.time_param(request, "after"),
                until=params.time_param(request, "before"),
                cursor=query.get("cursor") or None,
                limit=params.limit(request),
            )
        )
    except ValueError as exc:
        return error_response(400, str(exc))
    return json_response({"data": [run_json(r) for r in page.runs], "cursor": page.cursor})


def _function_ids(request: web.Request) -> list[str] | None:
    """Function ids as given; one not registered may also be a function's id within its app
    (`checkout` for `shop-checkout`). Ids of functions no longer registered are kept."""
    ids = params.list_param(request, "function_id")
    if ids is None:
        return None
    engine = request.app[ENGINE]
    resolved = []
    for ident in ids:
        try:
            resolved.append(actions.find_function(engine, ident).id)
        except actions.NotFound:
            resolved.append(ident)
        except actions.ActionError as exc:
            raise BadRequest(f"function_id: {exc}") from None
    return resolved


async def get_run(request: web.Request) -> web.Response:
    store = request.app[STORE]
    run = store.get_run(request.match_info["run_id"])
    if run is None:
        return error_response(404, "run not found")
    event_ids = store.event_ids_for_run(run.run_id)
    body = run_json(run, store.list_steps(run.run_id))
    # The fields of Inngest's `GET /v1/runs/{id}` that ours lack.
    body["run_started_at"] = instant(run.started_at or run.queued_at)
    body["event_id"] = event_ids[0] if event_ids else None
    return json_response({"data": body})


async def list_functions(request: web.Request) -> web.Response:
    functions = request.app[STORE].list_functions()
    return json_response(
        {
            "data": [
                {
                    "id": f.id,
                    "name": f.name,
                    "app_url": f.app_url,
                    "url": f.url,
                    "triggers": f.config.get("triggers") or [],
                    "config": f.config,
                }
                for f in functions
            ]
        }
    )
