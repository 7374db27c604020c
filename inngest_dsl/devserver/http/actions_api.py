"""The `/v1` routes of the workbench's actions: cancel, rerun, invoke, bulk cancel.

Each is a thin shell around `core.actions`: the UI calls the same functions.
"""

from __future__ import annotations

from aiohttp import web

from inngest_dsl.devserver.core import actions
from inngest_dsl.devserver.http import params
from inngest_dsl.devserver.http.keys import ENGINE
from inngest_dsl.devserver.http.responses import error_response, json_response, read_json
from inngest_dsl.devserver.store.shapes import instant, run_json

__all__ = ["cancel_run", "create_cancellation", "invoke_function", "rerun"]


async def cancel_run(request: web.Request) -> web.Response:
    try:
        run = actions.cancel_run(request.app[ENGINE], request.match_info["run_id"])
    except actions.ActionError as exc:
        return error_response(exc.status, str(exc))
    return json_response({"data": run_json(run)})


async def rerun(request: web.Request) -> web.Response:
    """A new run from the run's events; `{"from_step": ID}` keeps the earlier steps' results."""
    body = await params.optional_body(request)
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
    body = await params.optional_body(request)
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
            started_after=params.instant_field(body, "started_after"),
            started_before=params.instant_field(body, "started_before"),
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
