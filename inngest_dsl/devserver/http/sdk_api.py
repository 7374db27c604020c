"""What SDKs call: `POST /fn/register` (PROTOCOL.md §5.2) and `GET /v0/runs/{id}/batch|actions`.

With a signing key set, each needs its bearer (the hashed key, or the key itself): see
`http.access`.
"""

from __future__ import annotations

from aiohttp import web

from inngest_dsl.devserver.core.functions import RegistrationError, validate_registration
from inngest_dsl.devserver.http.keys import CLOCK, ENGINE, STORE
from inngest_dsl.devserver.http.responses import (
    BadRequest,
    error_response,
    json_response,
    read_json,
)

__all__ = ["register", "run_actions", "run_batch"]


async def register(request: web.Request) -> web.Response:
    expected_kind = request.headers.get("X-Inngest-Expected-Server-Kind")
    if expected_kind and expected_kind != "dev":
        return error_response(400, f"Expected server kind {expected_kind}, got dev")
    try:
        registration = validate_registration(await read_json(request))
    except (RegistrationError, BadRequest) as exc:
        return error_response(400, str(exc))
    registry = request.app[ENGINE].registry
    modified = registry.register(registration, request.app[CLOCK].now())
    return json_response({"ok": True, "modified": modified})


async def run_batch(request: web.Request) -> web.Response:
    run = request.app[STORE].get_run(request.match_info["run_id"])
    if run is None:
        return error_response(404, "run not found")
    return web.Response(body=run.events_json, content_type="application/json")


async def run_actions(request: web.Request) -> web.Response:
    store = request.app[STORE]
    run_id = request.match_info["run_id"]
    if store.get_run(run_id) is None:
        return error_response(404, "run not found")
    memos = store.memos(run_id)
    body = "{" + ",".join(f'"{step}":{memo}' for step, memo in sorted(memos)) + "}"
    return web.Response(body=body, content_type="application/json")
