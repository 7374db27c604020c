"""Calls to apps over HTTP (PROTOCOL.md §6): the transport the dev server gives its executor.

An app's HTTP server closes keep-alive connections it has kept idle for a while (uvicorn after
5 s): a call sent on such a connection as it closes never reaches the app and fails with
`ServerDisconnectedError` or a connection reset before any response. aiohttp retries that only
for idempotent methods, and a call is a `POST`, so `HttpTransport` does it: a call that failed
that way on a reused connection is sent again at once, on another connection, and the executor
never sees it (it is not an attempt). The session must trace connections for this
(`client_session` makes one that does).
"""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp
import yarl

from inngest_dsl._version import __version__
from inngest_dsl.devserver.core import protocol
from inngest_dsl.devserver.core.clock import Clock
from inngest_dsl.devserver.core.functions import FunctionInfo
from inngest_dsl.devserver.core.protocol import CallOutcome, error_object
from inngest_dsl.wire import _signing

__all__ = ["USER_AGENT", "HttpTransport", "call_url", "client_session", "connection_tracing"]

log = logging.getLogger("inngest_dsl.devserver")

USER_AGENT = f"inngest-dsl-devserver/{__version__}"

MAX_STALE_RETRIES = 16
"""At most this many calls in a row sent again after a reused connection turned out closed.

Each such failure drops one stale pooled connection, so a retry soon gets a fresh one; the
bound only guards against an app that keeps handing out connections it then drops.
"""

_REUSED = "reused"


def call_url(url: str, function_id: str, step_id: str) -> str:
    """The app URL with `fnId` and `stepId` (re)set."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("fnId", "stepId")]
    query += [("fnId", function_id), ("stepId", step_id)]
    return urlunsplit(parts._replace(query=urlencode(query)))


async def _reused(_: aiohttp.ClientSession, context: SimpleNamespace, __: Any) -> None:
    probe = context.trace_request_ctx
    if isinstance(probe, dict):
        probe[_REUSED] = True


async def _created(_: aiohttp.ClientSession, context: SimpleNamespace, __: Any) -> None:
    probe = context.trace_request_ctx
    if isinstance(probe, dict):
        probe[_REUSED] = False


def connection_tracing() -> aiohttp.TraceConfig:
    """Tracing that tells `HttpTransport` whether a call went out on a reused connection."""
    config = aiohttp.TraceConfig()
    config.on_connection_reuseconn.append(_reused)
    config.on_connection_create_end.append(_created)
    return config


def client_session(*, timeout: float, limit: int) -> aiohttp.ClientSession:
    """The session for calls and sync pings: `timeout` seconds a request, `limit` connections,
    connections traced so that calls lost to a closing keep-alive connection are sent again."""
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout),
        connector=aiohttp.TCPConnector(limit=limit),
        trace_configs=[connection_tracing()],
        cookie_jar=aiohttp.DummyCookieJar(),  # apps' cookies mean nothing to the executor
    )


def _lost_on_reused_connection(exc: BaseException, probe: dict[str, bool]) -> bool:
    """Whether a call failed before any response because its reused connection was closed."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return False  # connecting failed: a new connection, not a stale one
    closed = isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError))
    return closed and probe.get(_REUSED, False)


class HttpTransport:
    """Calls apps over HTTP at their registered URL, signed when the server has a key."""

    def __init__(
        self, session: aiohttp.ClientSession, clock: Clock, signing_key: str | None = None
    ) -> None:
        self._session = session
        self._clock = clock
        self._signing_key = signing_key
        self._urls: dict[tuple[str, str, str], yarl.URL] = {}

    def _url(self, url: str, function_id: str, step_id: str) -> yarl.URL:
        """`call_url`, parsed once per app URL, function and step (the usual `"step"`)."""
        key = (url, function_id, step_id)
        found = self._urls.get(key)
        if found is None:
            if len(self._urls) >= 4096:  # step ids of many runs: start over
                self._urls.clear()
            found = self._urls[key] = yarl.URL(call_url(url, function_id, step_id))
        return found

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
        url = self._url(function.url, function.id, step_id)
        for stale in range(MAX_STALE_RETRIES + 1):
            probe: dict[str, bool] = {}
            try:
                response = await self._session.post(
                    url, data=body, headers=headers, trace_request_ctx=probe
                )
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                if stale < MAX_STALE_RETRIES and _lost_on_reused_connection(exc, probe):
                    log.debug("%s: the reused connection was closed (%s); sending again", url, exc)
                    continue
                return _failed(url, exc)
            try:
                async with response:
                    payload = await response.read()
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                return _failed(url, exc)  # the app answered: this call reached it
            return protocol.interpret_response(
                response.status, response.headers, payload, self._clock.now()
            )
        raise AssertionError("unreachable: the last try returns")  # pragma: no cover


def _failed(url: yarl.URL, exc: BaseException) -> CallOutcome:
    message = str(exc) or type(exc).__name__
    return CallOutcome(error=error_object("ConnectionError", f"{url}: {message}"))
