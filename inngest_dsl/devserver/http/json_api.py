"""The `/v1` JSON API: events, runs (and cancelling one), functions and apps; `/health`."""

from __future__ import annotations

from aiohttp import web

from inngest_dsl.devserver.core.finishing import CANCELLED_BY_API
from inngest_dsl.devserver.http.keys import CLOCK, ENGINE, STORE, SYNCER
from inngest_dsl.devserver.http.responses import (
    BadRequest,
    error_response,
    json_response,
    read_json,
)
from inngest_dsl.devserver.http.sync import SyncError
from inngest_dsl.devserver.store.records import RunStatus
from inngest_dsl.devserver.store.shapes import event_json, instant, run_json, run_summary_json

__all__ = [
    "MAX_LIMIT",
    "add_app",
    "cancel_run",
    "get_event",
    "get_event_runs",
    "get_run",
    "health",
    "index",
    "list_apps",
    "list_events",
    "list_functions",
    "list_runs",
]

MAX_LIMIT = 1000


def _limit(request: web.Request, default: int = 100) -> int:
    text = request.query.get("limit", str(default))
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise BadRequest(f"limit: must be an integer from 1 to {MAX_LIMIT}")
    return int(text)


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
                "GET /v1/events?limit=",
                "GET /v1/events/{id}",
                "GET /v1/events/{id}/runs",
                "GET /v1/runs?status=&function_id=&limit=",
                "GET /v1/runs/{run_id}",
                "POST /v1/runs/{run_id}/cancel",
                "GET /v1/functions",
                "GET /v1/apps",
                "POST /v1/apps",
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
    events = request.app[STORE].list_events(_limit(request), request.query.get("name"))
    return json_response({"data": [event_json(e) for e in events]})


async def get_event(request: web.Request) -> web.Response:
    store = request.app[STORE]
    event = store.get_event(request.match_info["event_id"])
    if event is None:
        return error_response(404, "event not found")
    runs = store.runs_for_event(event.internal_id)
    return json_response({"data": {**event_json(event), "runs": [run_json(r) for r in runs]}})


async def get_event_runs(request: web.Request) -> web.Response:
    """The runs an event started, in the shape of Inngest's `GET /v1/events/{id}/runs`."""
    store = request.app[STORE]
    event = store.get_event(request.match_info["event_id"])
    if event is None:
        return error_response(404, "event not found")
    runs = store.runs_for_event(event.internal_id)
    return json_response({"data": [run_summary_json(r, event.internal_id) for r in runs]})


async def list_runs(request: web.Request) -> web.Response:
    status = request.query.get("status")
    if status is not None:
        status = status.capitalize()
        if status not in RunStatus.ALL:
            return error_response(400, f"status: must be one of {', '.join(RunStatus.ALL)}")
    runs = request.app[STORE].list_runs(status, _limit(request), request.query.get("function_id"))
    return json_response({"data": [run_json(r) for r in runs]})


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


async def cancel_run(request: web.Request) -> web.Response:
    store = request.app[STORE]
    runs = request.app[ENGINE].runs
    run_id = request.match_info["run_id"]
    run = store.get_run(run_id)
    if run is None:
        return error_response(404, "run not found")
    with runs.transaction():
        now = request.app[CLOCK].now()
        runs.cancel_run(run_id, now, CANCELLED_BY_API)
    refreshed = store.get_run(run_id)
    return json_response({"data": run_json(refreshed or run)})


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


async def list_apps(request: web.Request) -> web.Response:
    apps = request.app[STORE].list_apps()
    return json_response(
        {
            "data": [
                {
                    "url": a.url,
                    "name": a.name,
                    "sdk": a.sdk,
                    "framework": a.framework,
                    "synced_at": instant(a.synced_at),
                    "error": a.error,
                }
                for a in apps
            ]
        }
    )


async def add_app(request: web.Request) -> web.Response:
    body = await read_json(request)
    url = body.get("url") if isinstance(body, dict) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return error_response(400, "url: must be the app's http(s) serve URL")
    try:
        await request.app[SYNCER].sync(url)
    except SyncError as exc:
        return error_response(502, str(exc))
    return json_response({"ok": True, "url": url})
