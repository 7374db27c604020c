"""Calls to apps over HTTP (PROTOCOL.md §6): the transport the dev server gives its executor."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp

from inngest_dsl._version import __version__
from inngest_dsl.devserver.core import protocol
from inngest_dsl.devserver.core.clock import Clock
from inngest_dsl.devserver.core.functions import FunctionInfo
from inngest_dsl.devserver.core.protocol import CallOutcome, error_object
from inngest_dsl.wire import _signing

__all__ = ["USER_AGENT", "HttpTransport", "call_url"]

USER_AGENT = f"inngest-dsl-devserver/{__version__}"


def call_url(url: str, function_id: str, step_id: str) -> str:
    """The app URL with `fnId` and `stepId` (re)set."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("fnId", "stepId")]
    query += [("fnId", function_id), ("stepId", step_id)]
    return urlunsplit(parts._replace(query=urlencode(query)))


class HttpTransport:
    """Calls apps over HTTP at their registered URL, signed when the server has a key."""

    def __init__(
        self, session: aiohttp.ClientSession, clock: Clock, signing_key: str | None = None
    ) -> None:
        self._session = session
        self._clock = clock
        self._signing_key = signing_key

    async def call(
        self, function: FunctionInfo, step_id: str, body: bytes, run_id: str
    ) -> CallOutcome:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Run-Id": run_id,
            "X-Inngest-Step-Id": step_id,
        }
        if self._signing_key:
            headers["X-Inngest-Signature"] = _signing.sign(body, self._signing_key)
        url = call_url(function.url, function.id, step_id)
        try:
            async with self._session.post(url, data=body, headers=headers) as response:
                payload = await response.read()
                return protocol.interpret_response(
                    response.status, response.headers, payload, self._clock.now()
                )
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            message = str(exc) or type(exc).__name__
            return CallOutcome(error=error_object("ConnectionError", f"{url}: {message}"))
