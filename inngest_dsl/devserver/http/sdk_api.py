"""What SDKs call: `POST /fn/register` (PROTOCOL.md §5.2) and `GET /v0/runs/{id}/batch|actions`.

With a signing key set, each needs its bearer (the hashed key, or the key itself).
"""

from __future__ import annotations

import logging

from aiohttp import web

from inngest_dsl.devserver.core.functions import RegistrationError, validate_registration
from inngest_dsl.devserver.http.keys import CLOCK, CONFIG, ENGINE, STORE
from inngest_dsl.devserver.http.responses import (
    BadRequest,
    error_response,
    json_response,
    read_json,
)
from inngest_dsl.wire import _signing

__all__ = ["UNAUTHORISED", "authorised", "register", "run_actions", "run_batch"]

log = logging.getLogger("inngest_dsl.devserver")

UNAUTHORISED = "the Authorization bearer does not match the signing key"


def authorised(request: web.Request) -> bool:
    """Whether the request carries the signing key's bearer (always, without a key)."""
    key = request.app[CONFIG].signing_key
    if not key:
        return True
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return False
    given = _signing.normalize_key(header[len("Bearer ") :].strip())
    return given in (_signing.hash_signing_key(key), _signing.normalize_key(key))


async def register(request: web.Request) -> web.Response:
    if not authorised(request):
        return error_response(401, UNAUTHORISED)
    expected_kind = request.headers.get("X-Inngest-Expected-Server-Kind")
    if expected_kind and expected_kind != "dev":
        return error_response(400, f"Expected server kind {expected_kind}, got dev")
    try:
        registration = validate_registration(await read_json(request))
    except (RegistrationError, BadRequest) as exc:
        return error_response(400, str(exc))
    registry = request.app[ENGINE].registry
    modified = registry.register(registration, request.app[CLOCK].now())
    if modified:
        log.info(
            "synced app %s (%s): %d functions",
            registration.app_name or "?",
            registration.url,
            len(registration.functions),
        )
    return json_response({"ok": True, "modified": modified})


async def run_batch(request: web.Request) -> web.Response:
    if not authorised(request):
        return error_response(401, UNAUTHORISED)
    run = request.app[STORE].get_run(request.match_info["run_id"])
    if run is None:
        return error_response(404, "run not found")
    return web.Response(body=run.events_json, content_type="application/json")


async def run_actions(request: web.Request) -> web.Response:
    if not authorised(request):
        return error_response(401, UNAUTHORISED)
    store = request.app[STORE]
    run_id = request.match_info["run_id"]
    if store.get_run(run_id) is None:
        return error_response(404, "run not found")
    memos = store.memos(run_id)
    body = "{" + ",".join(f'"{step}":{memo}' for step, memo in sorted(memos)) + "}"
    return web.Response(body=body, content_type="application/json")
