"""Finding apps: the sync `PUT` ping (§5.1) sent to every known app URL, once and periodically.

An app answers the ping by calling `/fn/register` (out-of-band) or, for a signed in-band ping,
by returning its configuration in the response (§5.3), which is registered here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable

import aiohttp

from inngest_dsl.devserver.core.clock import Clock, Timer
from inngest_dsl.devserver.core.functions import RegistrationError, Registry, validate_registration
from inngest_dsl.devserver.store import Store
from inngest_dsl.wire import _signing

__all__ = ["AppSyncer", "SyncError"]

log = logging.getLogger("inngest_dsl.devserver")


class SyncError(Exception):
    """An app URL that could not be synced; the message says why."""


class AppSyncer:
    """Pings app URLs so they register, and keeps re-syncing them every `interval` seconds."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        session: aiohttp.ClientSession,
        *,
        signing_key: str | None = None,
        interval: float = 5.0,
        clock: Clock,
    ) -> None:
        self._store = store
        self._registry = registry
        self._session = session
        self._signing_key = signing_key
        self._interval = interval
        self._clock = clock
        self.urls: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._timer: Timer | None = None

    def add(self, urls: Iterable[str]) -> None:
        for url in urls:
            if url not in self.urls:
                self.urls.append(url)

    async def sync(self, url: str) -> None:
        """PUT the app once; raises `SyncError` if it does not register."""
        self.add([url])
        body = _signing.canonical_json({"url": url})
        headers = {"Content-Type": "application/json"}
        if self._signing_key:
            # Signed like Cloud: SDKs in cloud mode refuse a ping that announces a dev server,
            # and asked for an in-band sync they answer with their configuration instead of
            # registering with their (Cloud) API origin.
            headers["X-Inngest-Signature"] = _signing.sign(body, self._signing_key)
            headers["X-Inngest-Sync-Kind"] = "in_band"
        else:
            headers["X-Inngest-Server-Kind"] = "dev"
        try:
            async with self._session.put(url, data=body, headers=headers) as response:
                payload = await response.read()
                status = response.status
                sync_kind = response.headers.get("X-Inngest-Sync-Kind", "")
                is_sdk = "X-Inngest-SDK" in response.headers
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise self._failed(url, f"unreachable ({exc or type(exc).__name__})") from None
        if not is_sdk:
            raise self._failed(url, f"HTTP {status} without X-Inngest-SDK: not an Inngest app")
        if status >= 300:
            raise self._failed(url, f"HTTP {status}: {_message(payload)}")
        if sync_kind == "in_band":
            self._register_in_band(url, payload)
        with self._store.transaction():
            self._store.set_app_error(url, None)

    def _register_in_band(self, url: str, payload: bytes) -> None:
        try:
            body = json.loads(payload)
            registration = validate_registration(
                {
                    "url": body.get("url") or url,
                    "appName": body.get("app_id", ""),
                    "sdk": f"{body.get('sdk_language', '')}:v{body.get('sdk_version', '')}",
                    "framework": body.get("framework") or "",
                    "functions": body.get("functions") or [],
                }
            )
        except (ValueError, AttributeError, RegistrationError) as exc:
            raise self._failed(url, f"bad in-band sync response: {exc}") from None
        self._registry.register(registration, self._clock.now())

    def _failed(self, url: str, problem: str) -> SyncError:
        with self._store.transaction():
            self._store.set_app_error(url, problem)
        return SyncError(f"cannot sync {url}: {problem}")

    async def sync_all(self) -> None:
        for url in list(self.urls):
            try:
                await self.sync(url)
            except SyncError as exc:
                log.warning("%s", exc)

    def start(self) -> None:
        """Sync every app now, then every `interval` seconds of the clock's time."""
        self._tick()

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _tick(self) -> None:
        self._timer = self._clock.call_at(self._clock.now() + self._interval, self._tick)
        if self._task is None or self._task.done():  # a slow round is not started twice
            self._task = asyncio.get_running_loop().create_task(self.sync_all())


def _message(payload: bytes) -> str:
    try:
        body = json.loads(payload)
    except ValueError:
        return payload.decode(errors="replace")[:300]
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)[:300]
    return str(body)[:300]
