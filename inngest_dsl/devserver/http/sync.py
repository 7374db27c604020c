"""Finding apps: the sync `PUT` ping (§5.1) sent to every known app URL, once and periodically.

An app answers the ping by calling `/fn/register` (out-of-band) or, for a signed in-band ping,
by returning its configuration in the response (§5.3), which is registered here.

Each URL has its own timer on the clock. A synced app is pinged again every `interval`; one
that cannot be synced is tried again with a backoff (0.5 s doubling to 30 s), so an app started
after the dev server is found as soon as it is up. The log gets one line when an app's state
changes (synced, or a new problem), not one per attempt. URLs given at start (`-u`) are tried
for as long as the server runs; a URL added later (`POST /v1/apps`) that has never synced is
dropped after `GIVE_UP_AFTER` failed attempts (about two minutes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable

import aiohttp
import attrs

from inngest_dsl.devserver.core.clock import Clock, Timer
from inngest_dsl.devserver.core.functions import RegistrationError, Registry, validate_registration
from inngest_dsl.devserver.store import Store
from inngest_dsl.wire import _signing

__all__ = ["BACKOFF_CAP", "BACKOFF_START", "GIVE_UP_AFTER", "AppSyncer", "SyncError", "SyncState"]

log = logging.getLogger("inngest_dsl.devserver")

BACKOFF_START = 0.5
"""Seconds before the first retry of an app that could not be synced; doubled each time."""
BACKOFF_CAP = 30.0
"""The longest wait between two attempts at an app that could not be synced."""
GIVE_UP_AFTER = 10
"""Failed attempts after which a URL added at run time that never synced is dropped."""


class SyncError(Exception):
    """An app URL that could not be synced; the message says why."""


@attrs.define
class SyncState:
    """What the syncer knows of one URL."""

    url: str
    kept: bool
    """Tried for as long as the server runs (given at start), never dropped."""
    synced: bool = False
    """Synced at least once (registered, here or in an earlier run of the server)."""
    failures: int = 0
    """Failed attempts since the last success."""
    problem: str | None = None
    next_attempt: float | None = None
    timer: Timer | None = None
    task: asyncio.Task[None] | None = None


def backoff(failures: int) -> float:
    """Seconds to wait after the `failures`-th failed attempt in a row."""
    return min(BACKOFF_START * 2.0 ** min(failures - 1, 32), BACKOFF_CAP)


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
        self._states: dict[str, SyncState] = {}
        self._started = False

    @property
    def urls(self) -> list[str]:
        """The URLs synced now and then, in the order they were added."""
        return list(self._states)

    def state(self, url: str) -> SyncState | None:
        return self._states.get(url)

    def add(self, urls: Iterable[str], *, kept: bool = True) -> None:
        """Sync these URLs from now on (at once if running). `kept` ones are never dropped."""
        for url in urls:
            known = url in self._states
            state = self._state(url, kept)
            if not known and self._started:
                self._schedule(state, self._clock.now())

    def _state(self, url: str, kept: bool) -> SyncState:
        state = self._states.get(url)
        if state is None:
            # An app that registered before (out of band, or in an earlier run of the
            # server) is known to exist: it is never dropped.
            app = self._store.get_app(url)
            synced = app is not None and app.synced_at is not None
            self._states[url] = state = SyncState(url, kept, synced=synced)
        state.kept = state.kept or kept
        return state

    def remove(self, url: str) -> bool:
        """Stop syncing `url` and forget the app and its functions; False if unknown."""
        state = self._states.pop(url, None)
        if state is not None and state.timer is not None:
            state.timer.cancel()
        return self._registry.remove_app(url) or state is not None

    async def sync(self, url: str) -> None:
        """PUT the app once; raises `SyncError` if it does not register.

        A URL the syncer does not know yet is synced from then on, and dropped after
        `GIVE_UP_AFTER` failed attempts if it never synced.
        """
        state = self._state(url, kept=False)
        try:
            await self._ping(url)
        except SyncError as exc:
            self._failed(state, str(exc))
            raise
        self._succeeded(state)

    async def _ping(self, url: str) -> None:
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
            raise self._problem(url, f"unreachable ({exc or type(exc).__name__})") from None
        if not is_sdk:
            raise self._problem(url, f"HTTP {status} without X-Inngest-SDK: not an Inngest app")
        if status >= 300:
            raise self._problem(url, f"HTTP {status}: {_message(payload)}")
        if url not in self._states:
            return  # removed while the ping was out
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
            raise self._problem(url, f"bad in-band sync response: {exc}") from None
        self._registry.register(registration, self._clock.now())

    def _problem(self, url: str, problem: str) -> SyncError:
        if url in self._states:  # not removed meanwhile
            with self._store.transaction():
                self._store.set_app_error(url, problem)
        return SyncError(f"cannot sync {url}: {problem}")

    # -- outcomes and the schedule ------------------------------------------------------------

    def _succeeded(self, state: SyncState) -> None:
        if state.problem is not None:  # a first sync is logged by the registration itself
            log.info("app %s is up: synced after %d failed attempts", state.url, state.failures)
        state.synced, state.failures, state.problem = True, 0, None
        if self._started and state.url in self._states:
            self._schedule(state, self._clock.now() + self._interval)

    def _failed(self, state: SyncState, problem: str) -> None:
        state.failures += 1
        if state.url not in self._states:
            return
        if not state.kept and not state.synced and state.failures >= GIVE_UP_AFTER:
            log.warning("%s; giving up after %d attempts", problem, state.failures)
            self.remove(state.url)
            return
        delay = backoff(state.failures)
        if problem != state.problem:
            log.warning("%s; trying again every %gs at most", problem, BACKOFF_CAP)
        state.problem = problem
        if self._started:
            self._schedule(state, self._clock.now() + delay)

    def _schedule(self, state: SyncState, when: float) -> None:
        if state.timer is not None:
            state.timer.cancel()
        state.next_attempt = when
        state.timer = self._clock.call_at(when, lambda: self._attempt(state))

    def _attempt(self, state: SyncState) -> None:
        state.timer = None
        if state.task is not None and not state.task.done():
            return  # a slow attempt is not started twice; it schedules the next itself
        # The next attempt is set before this one ends: a slow or lost answer cannot stop
        # the polling; the outcome moves it (sooner after a failure, `interval` after success).
        self._schedule(state, self._clock.now() + self._interval)
        state.task = asyncio.get_running_loop().create_task(self._try(state))

    async def _try(self, state: SyncState) -> None:
        with contextlib.suppress(SyncError):  # `sync` logged and scheduled the next attempt
            await self.sync(state.url)

    async def sync_all(self) -> None:
        """Sync every known URL once now (failures are logged and retried, not raised)."""
        for url in self.urls:
            with contextlib.suppress(SyncError):
                await self.sync(url)

    def start(self) -> None:
        """Sync every app now, then every `interval` seconds of the clock's time."""
        self._started = True
        now = self._clock.now()
        for state in self._states.values():
            self._schedule(state, now)

    async def stop(self) -> None:
        self._started = False
        tasks = []
        for state in self._states.values():
            if state.timer is not None:
                state.timer.cancel()
                state.timer = None
            if state.task is not None:
                state.task.cancel()
                tasks.append(state.task)
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _message(payload: bytes) -> str:
    try:
        body = json.loads(payload)
    except ValueError:
        return payload.decode(errors="replace")[:300]
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)[:300]
    return str(body)[:300]
