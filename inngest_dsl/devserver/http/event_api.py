"""The event API (PROTOCOL.md §9): `POST /e/{key}` stores events and starts their runs.

Whether the key is right is `http.access`'s to say.
"""

from __future__ import annotations

from aiohttp import web

from inngest_dsl.devserver.core.events import EventValidationError, ids_from_seed, normalise_events
from inngest_dsl.devserver.http.keys import ENGINE
from inngest_dsl.devserver.http.responses import BadRequest, json_response, read_json

__all__ = ["send_events"]


async def send_events(request: web.Request) -> web.Response:
    try:
        events = normalise_events(await read_json(request))
        seed = request.headers.get("X-Inngest-Event-Id-Seed")
        seeded = ids_from_seed(seed, len(events)) if seed else None
    except (EventValidationError, BadRequest) as exc:
        return json_response({"ids": [], "status": 400, "error": str(exc)}, 400)
    ids = await request.app[ENGINE].runs.ingest_grouped(events, seeded)
    return json_response({"ids": ids, "status": 200})
