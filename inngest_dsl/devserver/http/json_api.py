"""The `/v1` JSON API: events, runs (and cancelling one), functions and apps; `/health`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from inngest_dsl.devserver.core import actions
from inngest_dsl.devserver.http.keys import ENGINE, STORE, SYNCER
from inngest_dsl.devserver.http.responses import (
    BadRequest,
    error_response,
    json_response,
    read_json,
)
from inngest_dsl.devserver.http.sync import SyncError
from inngest_dsl.devserver.store.records import RunStatus
from inngest_dsl.devserver.store.shapes import event_json, instant, run_json, run_summary_json
from inngest_dsl.spec import _durations

__all__ = [
    "MAX_LIMIT",
    "add_app",
    "cancel_run",
    "create_cancellation",
    "get_event",
    "get_event_runs",
    "get_run",
    "health",
    "index",
    "invoke_function",
    "list_apps",
    "list_events",
    "list_functions",
    "list_runs",
    "rerun",
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
                "POST /v1/runs/{run_id}/rerun",
                "POST /v1/cancellations",
                "GET /v1/functions",
                "POST /v1/functions/{function_id}/invoke",
                "GET /v1/apps",
                "POST /v1/apps",
                "GET /health",
            ],
        }
    )


async def health(request: web.Request) -> web.Response:
    executor = request.app[ENGINE].executor
    return json_response(
        {"status": "ok", "backlog": executor.backlog, "parked": executor.gates.parked}
    )


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
    try:
        run = actions.cancel_run(request.app[ENGINE], request.match_info["run_id"])
    except actions.ActionError as exc:
        return error_response(exc.status, str(exc))
    return json_response({"data": run_json(run)})


async def rerun(request: web.Request) -> web.Response:
    """A new run from the run's events; `{"from_step": ID}` keeps the earlier steps' results."""
    body = await _optional_body(request)
    from_step = body.get("from_step")
    if from_step is not None and (not isinstance(from_step, str) or not from_step):
        return error_response(400, "from_step: must be a step id or name")
    engine = request.app[ENGINE]
    try:
        run = actions.rerun(engine, request.match_info["run_id"], from_step=from_step)
    except actions.ActionError as exc:
        return error_response(exc.status, str(exc))
    return json_response({"data": run_json(run, engine.store.list_steps(run.run_id))}, 201)


async def invoke_function(request: web.Request) -> web.Response:
    """Start a run of a function with `{"data": {...}, "user": {...}}`, whatever its triggers."""
    body = await _optional_body(request)
    unknown = sorted(set(body) - {"data", "user", "app_id"})
    if unknown:
        return error_response(400, f"{unknown[0]}: unknown field (expected data, user, app_id)")
    app_id = body.get("app_id")
    if app_id is not None and not isinstance(app_id, str):
        return error_response(400, "app_id: must be a string")
    try:
        invocation = actions.invoke(
            request.app[ENGINE],
            request.match_info["function_id"],
            body.get("data"),
            user=body.get("user"),
            app_id=app_id,
        )
    except actions.ActionError as exc:
        return error_response(exc.status, str(exc))
    return json_response(
        {
            "data": {
                "event_id": invocation.event_id,
                "run_id": invocation.run.run_id,
                "run": run_json(invocation.run),
            }
        },
        201,
    )


async def create_cancellation(request: web.Request) -> web.Response:
    """Inngest's bulk cancellation: `{app_id, function_id, started_after, started_before, if}`."""
    body = await read_json(request)
    if not isinstance(body, dict):
        return error_response(400, "the body must be a JSON object")
    function_id = body.get("function_id")
    if not isinstance(function_id, str) or not function_id:
        return error_response(400, "function_id: required")
    app_id = body.get("app_id")
    if app_id is not None and not isinstance(app_id, str):
        return error_response(400, "app_id: must be a string")
    expression = body.get("if")
    if expression is not None and not isinstance(expression, str):
        return error_response(400, "if: must be an expression string")
    try:
        cancellation = actions.cancel_runs(
            request.app[ENGINE],
            function_id,
            started_after=_instant_field(body, "started_after"),
            started_before=_instant_field(body, "started_before"),
            expression=expression or None,
            app_id=app_id or None,
        )
    except actions.ActionError as exc:
        return error_response(exc.status, str(exc))
    return json_response(
        {
            "id": cancellation.id,
            "app_id": app_id,
            "function_id": cancellation.function_id,
            "started_after": instant(cancellation.started_after),
            "started_before": instant(cancellation.started_before),
            "if": cancellation.expression,
            "cancelled": len(cancellation.run_ids),
            "run_ids": list(cancellation.run_ids),
        }
    )


def _instant_field(body: dict[str, Any], name: str) -> float:
    value = body.get(name)
    if value is None:
        raise BadRequest(f"{name}: required (an RFC 3339 time)")
    if not isinstance(value, str):
        raise BadRequest(f"{name}: must be an RFC 3339 time string")
    try:
        return _durations.parse_instant(value).timestamp()
    except ValueError:
        raise BadRequest(f"{name}: {value!r} is not an RFC 3339 time") from None


async def _optional_body(request: web.Request) -> dict[str, Any]:
    """A JSON object body, or `{}` if there is none."""
    if not await request.read():
        return {}
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


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
