"""Reading the JSON API's query parameters and bodies; each problem is a `BadRequest` naming
the parameter."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from inngest_dsl.devserver.http.responses import BadRequest, read_json
from inngest_dsl.spec import _durations

__all__ = [
    "MAX_LIMIT",
    "flag",
    "instant",
    "instant_field",
    "limit",
    "list_param",
    "optional_body",
    "time_param",
]

MAX_LIMIT = 1000
"""The most items one page holds; a cursor reaches the rest."""


def limit(request: web.Request, default: int = 100) -> int:
    text = request.query.get("limit", str(default))
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise BadRequest(f"limit: must be an integer from 1 to {MAX_LIMIT}")
    return int(text)


def list_param(request: web.Request, name: str) -> list[str] | None:
    """Repeated or comma-separated values; None if there are none."""
    values = [v for text in request.query.getall(name, []) for v in text.split(",") if v]
    return values or None


def flag(request: web.Request, name: str) -> bool:
    text = request.query.get(name, "false").lower()
    if text not in ("true", "false", "1", "0"):
        raise BadRequest(f"{name}: must be true or false")
    return text in ("true", "1")


def time_param(request: web.Request, name: str) -> float | None:
    """An RFC 3339 time in the query, as epoch seconds; None if absent."""
    text = request.query.get(name)
    return instant(text, name) if text else None


def instant(text: str, name: str) -> float:
    """An RFC 3339 time (or any layout Inngest reads for an instant) as epoch seconds."""
    try:
        return _durations.parse_instant(text).timestamp()
    except ValueError:
        raise BadRequest(f"{name}: {text!r} is not an RFC 3339 time") from None


def instant_field(body: dict[str, Any], name: str) -> float:
    """A required RFC 3339 time in a JSON body, as epoch seconds."""
    value = body.get(name)
    if value is None:
        raise BadRequest(f"{name}: required (an RFC 3339 time)")
    if not isinstance(value, str):
        raise BadRequest(f"{name}: must be an RFC 3339 time string")
    return instant(value, name)


async def optional_body(request: web.Request) -> dict[str, Any]:
    """A JSON object body, or `{}` if there is none."""
    if not await request.read():
        return {}
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body
