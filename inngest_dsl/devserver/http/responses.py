"""JSON responses of the dev server's HTTP API, and its errors.

Every error is a one-line JSON body `{"error": ..., "status": ...}` with a meaningful status,
never a traceback: a body that cannot be read (a `Content-Encoding` that does not decode, a
broken chunked body), is not JSON, nests too deeply or is not a form is a 400.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from inngest_dsl.wire._json import dumps, loads

__all__ = [
    "BadRequest",
    "error_middleware",
    "error_response",
    "json_response",
    "read_form",
    "read_json",
]

log = logging.getLogger("inngest_dsl.devserver")

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Form = MultiDictProxy[str | bytes | bytearray | web.FileField]


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


async def read_form(request: web.Request) -> Form:
    """The request's form fields; raises `BadRequest` if the body is not a readable form."""
    try:
        return await request.post()
    except (web.HTTPException, web.RequestPayloadError):
        raise  # a body too large (413), or one that cannot be read: the middleware answers
    except Exception:
        # Parsing a form raises what its parts happen to trip (ValueError, LookupError,
        # RuntimeError, aiohttp's own...): all of it is about the body, none of it a fault here.
        raise BadRequest("the body is not a readable form (urlencoded or multipart)") from None


UNREADABLE = "the body could not be read: a Content-Encoding that does not decode, or cut off"


async def _drained(request: web.Request) -> None:
    """Read what the handler left of an encoded body, raising `RequestPayloadError` if it does
    not decode: else aiohttp finds out while draining it after the answer went out, and writes
    a second answer (a plain-text 400) behind the first."""
    if "Content-Encoding" in request.headers and request.body_exists:
        async for _ in request.content.iter_any():
            pass


@web.middleware
async def error_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
        await _drained(request)
        return response
    except BadRequest as exc:
        return error_response(400, str(exc))
    except web.RequestPayloadError:
        return error_response(400, UNREADABLE)
    except RecursionError:
        # Only input nests deep enough to exhaust the stack (JSON bodies, forms, queries).
        log.warning("%s %s: the request nests too deeply", request.method, request.path)
        return error_response(400, "the body nests too deeply")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, exc.reason)
    except Exception as exc:
        log.exception("internal error on %s %s", request.method, request.path)
        return error_response(500, f"internal error: {type(exc).__name__}")
