"""The Inngest client: configuration from `INNGEST_*` variables, and sending events.

Every setting comes from a constructor argument, else from its environment variable, else from
the mode's default (the rules are in `_settings`).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email.utils
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import quote

import aiohttp
import attrs

from inngest_dsl._settings import DEV_SERVER_URL, resolve
from inngest_dsl._version import __version__
from inngest_dsl.errors import ConfigError, EventError, SendEventError
from inngest_dsl.spec._event import Event, SendableEvents, to_events
from inngest_dsl.spec._middleware import Middleware, hooked_send, sends_hooked
from inngest_dsl.wire._json import dumps, loads
from inngest_dsl.wire._signing import bearer_token

__all__ = [
    "DEV_SERVER_URL",
    "NO_EVENT_KEY",
    "Inngest",
    "SendableEvents",
]

NO_EVENT_KEY = "NO_EVENT_KEY_SET"
"""Event key used in dev mode when none is configured; the dev server accepts any key."""

MAX_EVENTS_PER_SEND = 5000
"""The event API refuses larger batches."""

MAX_RETRY_DELAY = 30.0
"""Longest pause, in seconds, between two attempts of one send (exponential backoff)."""

MAX_RETRY_AFTER = 60.0
"""Longest pause, in seconds, a `Retry-After` header may ask for between two attempts."""

RETRIED_REFUSALS = frozenset((429,))
"""4xx answers that are retried (too many requests); every 5xx is retried too."""

API_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)
"""What `Inngest.api_request` raises when the Inngest API cannot be reached."""


def refuse_running_loop(
    message: str = "send_sync() was called inside a running event loop; use `await client.send()`",
) -> None:
    """Raise `RuntimeError(message)` inside a running event loop, which a sync call would block."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(message)


def _event_id_seed() -> str:
    # The event API derives the internal ULIDs from this seed, so retrying with the same seed
    # cannot create the events twice.
    return f"{int(time.time() * 1000)},{base64.b64encode(secrets.token_bytes(10)).decode()}"


def _parse_body(raw: bytes) -> Any:
    """The body as JSON if it parses, else as text (bad bytes replaced), None if empty."""
    text = raw.decode("utf-8", errors="replace")
    try:
        return loads(text) if text.strip() else None
    except ValueError:
        return text


def _http_date(text: str) -> dt.datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.timezone.utc)


def retry_after_seconds(headers: Mapping[str, str], now: float) -> float | None:
    """The wait a `Retry-After` header asks for: whole seconds, or an HTTP date (counted from
    the response's `Date` when it has one, so clocks apart do not matter, else from `now`).
    None without a readable header."""
    value = headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    when = _http_date(value)
    if when is None:
        return None
    sent = _http_date(headers.get("Date", ""))
    base = sent.timestamp() if sent is not None else now
    return max(when.timestamp() - base, 0.0)


def _unreachable(exc: BaseException, timeout: float | None) -> str:
    """Why a request got no answer, in one short line."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        error = exc.os_error
        reason = os.strerror(error.errno) if error.errno else str(error) or type(error).__name__
        return f"cannot connect to {exc.host}:{exc.port} ({reason})"
    if isinstance(exc, asyncio.TimeoutError):
        return f"no answer within {timeout:g} s" if timeout else "timed out"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection without answering"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


def _error_message(body: Any, fallback: str) -> str:
    if isinstance(body, Mapping):
        for key in ("error", "message"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])
    if isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return fallback


class Inngest:
    """Client for one app: resolved configuration, event sending and Inngest API calls.

    Dev mode (`is_dev=True` or a truthy `INNGEST_DEV`) talks to a local dev server and needs no
    keys. Cloud mode needs `INNGEST_EVENT_KEY` to send events and `INNGEST_SIGNING_KEY` to
    serve functions. Use it as an async context manager, or `await client.close()` when done.
    """

    def __init__(
        self,
        app_id: str,
        *,
        event_key: str | None = None,
        signing_key: str | None = None,
        signing_key_fallback: str | None = None,
        env: str | None = None,
        is_dev: bool | None = None,
        api_base_url: str | None = None,
        event_api_base_url: str | None = None,
        serve_origin: str | None = None,
        serve_path: str | None = None,
        app_version: str | None = None,
        logger: logging.Logger | None = None,
        send_attempts: int = 5,
        send_retry_delay: float = 0.5,
        request_timeout: float = 30.0,
        middleware: Sequence[Middleware] = (),
    ) -> None:
        self._settings = resolve(
            app_id,
            event_key=event_key,
            signing_key=signing_key,
            signing_key_fallback=signing_key_fallback,
            env=env,
            is_dev=is_dev,
            api_base_url=api_base_url,
            event_api_base_url=event_api_base_url,
            serve_origin=serve_origin,
            serve_path=serve_path,
            app_version=app_version,
        )
        if send_attempts < 1:
            raise ConfigError(f"send_attempts must be at least 1, got {send_attempts}")
        if not all(isinstance(m, Middleware) for m in middleware):
            raise ConfigError(
                f"middleware must be a list of Middleware instances, got {middleware!r}"
            )
        self.middleware: tuple[Middleware, ...] = tuple(middleware)
        """Runs around every call of the functions this client serves, and every send."""
        self.logger = logger or logging.getLogger("inngest_dsl")
        self.send_attempts = send_attempts
        self.send_retry_delay = send_retry_delay
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        # How a send waits between attempts; tests swap it to record the delays.
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def __repr__(self) -> str:
        mode = "dev" if self.is_dev else "cloud"
        return f"<Inngest app_id={self.app_id!r} {mode} api={self.api_base_url!r}>"

    # -- resolved settings ---------------------------------------------------------------

    @property
    def app_id(self) -> str:
        """The app's id; function ids on the wire are `<app_id>-<function id>`."""
        return self._settings.app_id

    @property
    def is_dev(self) -> bool:
        """True in dev mode (local dev server, no signatures), False in cloud mode."""
        return self._settings.is_dev

    @property
    def event_key(self) -> str | None:
        """The configured event key (None if none; dev mode then sends with a placeholder)."""
        return self._settings.event_key

    @property
    def signing_key(self) -> str | None:
        """The signing key, or None; see `require_signing_key`."""
        return self._settings.signing_key

    @property
    def signing_key_fallback(self) -> str | None:
        """The fallback signing key used while rotating keys, or None."""
        return self._settings.signing_key_fallback

    @property
    def env(self) -> str | None:
        """The branch environment name sent as `X-Inngest-Env`, or None."""
        return self._settings.env

    @property
    def api_base_url(self) -> str:
        """Origin of the Inngest API (sync, run data), without a trailing slash."""
        return self._settings.api_base_url

    @property
    def event_api_base_url(self) -> str:
        """Origin of the event API (`/e/{key}`), without a trailing slash."""
        return self._settings.event_api_base_url

    @property
    def serve_origin(self) -> str | None:
        """Origin to report at sync instead of the request's, or None."""
        return self._settings.serve_origin

    @property
    def serve_path(self) -> str | None:
        """Path to report at sync instead of the request's, or None."""
        return self._settings.serve_path

    @property
    def app_version(self) -> str | None:
        """The app's version (a release tag, a commit), sent at sync as `appVersion`, or None.

        Given as `app_version=`; none of the official SDKs reads it from a variable, and
        neither does this client.
        """
        return self._settings.app_version

    @property
    def sdk_header(self) -> str:
        """Value of `X-Inngest-SDK` and `User-Agent`."""
        return f"inngest-dsl:v{__version__}"

    def require_signing_key(self) -> str | None:
        """The signing key; raises `ConfigError` in cloud mode if there is none."""
        if self.signing_key is None and not self.is_dev:
            raise ConfigError(
                "no signing key: set INNGEST_SIGNING_KEY or pass signing_key=, "
                "or use dev mode (INNGEST_DEV=1) to serve without one"
            )
        return self.signing_key

    def headers(self) -> dict[str, str]:
        """Headers sent on every request to Inngest."""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self.sdk_header,
            "X-Inngest-SDK": self.sdk_header,
        }
        if self.env:
            headers["X-Inngest-Env"] = self.env
        return headers

    # -- session ---------------------------------------------------------------------------

    def _new_session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=self._timeout)

    def _shared_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is not None and not self._session.closed:
            if self._session_loop is not loop:
                raise RuntimeError(
                    "this Inngest client's HTTP session belongs to another event loop; "
                    "await client.close() in that loop first, or use one client per loop"
                )
            return self._session
        self._session, self._session_loop = self._new_session(), loop
        return self._session

    async def close(self) -> None:
        """Close the HTTP session, if one was opened. The client stays usable."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> Inngest:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- sending events --------------------------------------------------------------------

    async def send(self, events: SendableEvents) -> list[str]:
        """Send one event or a list of events; return their ids, in order.

        Mappings and `@event_type` instances are validated as `Event`s first (`EventError`).
        Server errors (5xx), `429 Too Many Requests` and network failures are retried,
        `send_attempts` times in all, after a doubling delay from `send_retry_delay`, or as
        long as a `Retry-After` header asks (at most `MAX_RETRY_AFTER` s); another refusal
        (4xx) is not. Either ends in `SendEventError`. The client's middleware sees the events
        first (`before_send_events`).
        """
        return await self._send_hooked(
            to_events(events), lambda b: self._send(self._shared_session(), b)
        )

    async def _send_hooked(
        self, batch: list[Event], send: Callable[[list[Event]], Awaitable[list[str]]]
    ) -> list[str]:
        """`send(batch)` with the client's middleware around it (unless the engine already
        ran the hooks); what every send of this client and its test doubles goes through."""
        if not batch:
            return []
        if self.middleware and not sends_hooked.get():
            return await hooked_send(self.middleware, batch, send)
        return await send(batch)

    def send_sync(self, events: SendableEvents) -> list[str]:
        """`send` for code that is not async. Not allowed inside a running event loop."""
        refuse_running_loop()
        batch = to_events(events)
        if not batch:
            return []

        async def send_with_own_session() -> list[str]:
            async with self._new_session() as session:
                return await self._send_hooked(batch, lambda b: self._send(session, b))

        return asyncio.run(send_with_own_session())

    def _event_key_for_send(self) -> str:
        if self.event_key:
            return self.event_key
        if self.is_dev:
            return NO_EVENT_KEY
        raise ConfigError(
            "no event key: set INNGEST_EVENT_KEY or pass event_key=, "
            "or use dev mode (INNGEST_DEV=1) to send to a local dev server"
        )

    async def _send(self, session: aiohttp.ClientSession, batch: list[Event]) -> list[str]:
        if len(batch) > MAX_EVENTS_PER_SEND:
            raise EventError(
                f"cannot send {len(batch)} events at once; the limit is {MAX_EVENTS_PER_SEND}"
            )
        url = f"{self.event_api_base_url}/e/{quote(self._event_key_for_send(), safe='')}"
        now_ms = int(time.time() * 1000)
        body = dumps(
            [(e if e.ts is not None else attrs.evolve(e, ts=now_ms)).to_wire() for e in batch]
        )
        headers = {**self.headers(), "X-Inngest-Event-Id-Seed": _event_id_seed()}
        if self.is_dev and self.signing_key:
            # A dev server started with the signing key wants its bearer on events too.
            headers["Authorization"] = bearer_token(self.signing_key)
        failure = "no attempt made"
        status: int | None = None
        delay = 0.0
        for attempt in range(1, self.send_attempts + 1):
            if attempt > 1:
                await self._sleep(delay)
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    status = response.status
                    parsed = _parse_body(await response.read())
                    wait = retry_after_seconds(response.headers, time.time())
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                status = None
                reason = _unreachable(exc, self._timeout.total)
                failure = f"could not reach the event API at {self.event_api_base_url}: {reason}"
                delay = self._backoff(attempt)
                self._retrying(attempt, failure, delay)
                continue
            if status < 300:
                return self._ids(parsed, len(batch), status)
            failure = _error_message(parsed, f"the event API answered HTTP {status}")
            if status < 500 and status not in RETRIED_REFUSALS:
                raise SendEventError(failure, status=status)
            delay = self._backoff(attempt) if wait is None else min(wait, MAX_RETRY_AFTER)
            self._retrying(attempt, f"{failure} (HTTP {status})", delay)
        raise SendEventError(
            f"gave up after {self.send_attempts} attempts: {failure}", status=status
        )

    def _backoff(self, attempt: int) -> float:
        """Seconds before the attempt after `attempt`, doubling each time, bounded."""
        return min(self.send_retry_delay * 2.0 ** (attempt - 1), MAX_RETRY_DELAY)

    def _retrying(self, attempt: int, failure: str, delay: float) -> None:
        """One line for an attempt that failed, when another follows (the last one's failure
        is the `SendEventError`)."""
        if attempt < self.send_attempts:
            self.logger.warning(
                "send attempt %d of %d failed: %s; retrying in %.3g s",
                attempt,
                self.send_attempts,
                failure,
                delay,
            )

    @staticmethod
    def _ids(parsed: Any, expected: int, status: int) -> list[str]:
        ids = parsed.get("ids") if isinstance(parsed, Mapping) else None
        if (
            not isinstance(ids, list)
            or len(ids) != expected
            or not all(isinstance(i, str) for i in ids)
        ):
            raise SendEventError(
                f"the event API answered without {expected} event ids: {parsed!r:.200}",
                status=status,
            )
        return ids

    # -- Inngest API -----------------------------------------------------------------------

    async def api_request(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        """Call the Inngest API at `path`; return the status and the parsed JSON (or text).

        Authenticated with the signing key's bearer token when one is set; on 401/403 the
        request is repeated once with the fallback key. `headers` are added to the client's
        own. Network errors propagate as `aiohttp.ClientError` or `asyncio.TimeoutError`.
        """
        session = self._shared_session()
        url = f"{self.api_base_url}/{path.lstrip('/')}"
        keys: list[str | None] = [k for k in (self.signing_key, self.signing_key_fallback) if k]
        status, parsed = 0, None
        for key in keys or [None]:
            sent = {**self.headers(), **(headers or {})}
            if key:
                sent["Authorization"] = bearer_token(key)
            async with session.request(method, url, json=json, headers=sent) as response:
                status = response.status
                parsed = _parse_body(await response.read())
            if status not in (401, 403):
                break
        return status, parsed
