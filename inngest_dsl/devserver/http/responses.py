"""JSON responses of the dev server's HTTP API, and its errors.

Every error is a JSON body `{"error": ...}` with a meaningful status, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from inngest_dsl.wire._json import dumps, loads

__all__ = ["BadRequest", "error_middleware", "error_response", "json_response", "read_json"]

log = logging.getLogger("inngest_dsl.devserver")

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BadRequest(Exception):
    """A request the API refuses with 400; the message says why."""


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=dumps(body),
        status=status,
        content_type="application/json",
        headers={"X-Inngest-Server-Kind": "dev"},
    )


def error_response(status: int, message: str, **extra: Any) -> web.Response:
    return json_response({"error": message, "status": status, **extra}, status)


async def read_json(request: web.Request) -> Any:
    """The request's JSON body; raises `BadRequest` if it is not JSON."""
    raw = await request.read()
    try:
        return loads(raw)
    except ValueError:
        raise BadRequest("the body is not valid JSON") from None


@web.middleware
async def error_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except BadRequest as exc:
        return error_response(400, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, exc.reason)
    except Exception as exc:
        log.exception("internal error on %s %s", request.method, request.path)
        return error_response(500, f"internal error: {type(exc).__name__}")
