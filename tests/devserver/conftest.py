"""Helpers for dev server tests: raw protocol apps, in process on virtual time or over HTTP.

Behaviour tests run the dev server's engine in a `TestEnvironment` (in memory, on a virtual
clock) and answer its calls in-process with `RawApp` handlers: `raw_environment()` / the `env`
fixture. Tests of the HTTP layer itself use the real server on a virtual clock
(`clocked.virtual_dev_server`) with `raw_app` serving the handlers over loopback HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp import web

from inngest_dsl.devserver import DevServer, DevServerConfig
from inngest_dsl.devserver.core.events import normalise_events
from inngest_dsl.devserver.store.records import RunRecord, RunStatus
from inngest_dsl.testing import TestEnvironment

from .clocked import START, ClockedServer, Driven, virtual_dev_server

SDK_HEADERS = {"X-Inngest-SDK": "raw-test:v1.0.0", "X-Inngest-Req-Version": "2"}
APP_ID = "raw"


@contextlib.asynccontextmanager
async def running_dev_server(db: str = ":memory:", **options: Any) -> AsyncIterator[DevServer]:
    """A started dev server on a free loopback port (options are `DevServerConfig` fields)."""
    options.setdefault("retry_interval", 0.05)
    options.setdefault("poll_interval", 3600.0)
    server = DevServer(DevServerConfig(port=0, db=db, **options))
    async with server:
        yield server


@pytest.fixture
async def dev_server(tmp_path: Path) -> AsyncIterator[DevServer]:
    async with running_dev_server(str(tmp_path / "dev.db")) as server:
        yield server


@pytest.fixture
async def clocked(tmp_path: Path) -> AsyncIterator[ClockedServer]:
    """The real dev server over HTTP on a virtual clock (see `clocked.virtual_dev_server`)."""
    async with virtual_dev_server(tmp_path / "dev.db") as server:
        yield server


async def wait_for_run(
    server: DevServer,
    predicate: Callable[[], RunRecord | None],
    timeout: float = 10.0,
) -> RunRecord:
    """Poll until `predicate()` returns a run in a final status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = predicate()
        if run is not None and run.status in RunStatus.FINAL:
            return run
        await asyncio.sleep(0.01)
    raise AssertionError(f"no finished run within {timeout}s; last seen: {predicate()!r}")


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def finished_run_of(server: DevServer, function_id: str, timeout: float = 10.0) -> RunRecord:
    def latest() -> RunRecord | None:
        runs = server.store.list_runs(function_id=function_id, limit=1)
        return runs[0] if runs else None

    return await wait_for_run(server, latest, timeout)


async def send(
    server: DevServer, events: Any, key: str = "test", headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.url}/e/{key}", json=events, headers=headers) as response,
    ):
        body: dict[str, Any] = await response.json()
        assert response.status == 200, body
        return body


def op(kind: str, step_id: str, **fields: Any) -> dict[str, Any]:
    return {"op": kind, "id": step_id, "name": fields.pop("name", step_id), **fields}


def ops_response(*ops: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(list(ops), status=206, headers={**SDK_HEADERS, **(headers or {})})


def done_response(value: Any) -> web.Response:
    return web.json_response(value, status=200, headers=SDK_HEADERS)


def error_response(
    message: str, status: int = 500, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {"name": "Error", "message": message},
        status=status,
        headers={**SDK_HEADERS, **(headers or {})},
    )


Handler = Callable[[str, dict[str, Any]], Awaitable[web.Response]]


@attrs.define
class RawApp:
    """A protocol-speaking app: `handler(step_id, body)` answers each call; calls are recorded."""

    handler: Handler
    url: str = ""
    calls: list[tuple[str, dict[str, Any]]] = attrs.field(factory=list)
    headers: list[dict[str, str]] = attrs.field(factory=list)
    raw_bodies: list[bytes] = attrs.field(factory=list)
    record: bool = True
    """Keep every call's body and headers (turn off under load)."""

    async def _endpoint(self, request: web.Request) -> web.Response:
        raw = await request.read()
        step_id = request.query.get("stepId", "")
        return await self._answer(step_id, raw, dict(request.headers))

    async def _answer(self, step_id: str, raw: bytes, headers: dict[str, str]) -> web.Response:
        body = json.loads(raw)
        if self.record:
            self.raw_bodies.append(raw)
            self.calls.append((step_id, body))
            self.headers.append(headers)
        return await self.handler(step_id, body)

    async def __call__(
        self, function_id: str, step_id: str, body: bytes
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Answer a call in-process (an `AppCall` of the test environment)."""
        response = await self._answer(step_id, body, {})
        payload = response.body
        assert isinstance(payload, bytes), "in-process handlers answer with bytes bodies"
        return response.status, response.headers, payload


def function_config(
    app: RawApp,
    fn: str,
    *,
    event: str | None = None,
    expression: str | None = None,
    cron: str | None = None,
    retries: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    trigger: dict[str, Any] = {"cron": cron} if cron else {"event": event}
    if expression:
        trigger["expression"] = expression
    fid = f"{APP_ID}-{fn}"
    step: dict[str, Any] = {
        "id": "step",
        "name": "step",
        "runtime": {"type": "http", "url": f"{app.url}?fnId={fid}&stepId=step"},
    }
    if retries is not None:
        step["retries"] = {"attempts": retries}
    return {"id": fid, "name": fn, "triggers": [trigger], "steps": {"step": step}, **extra}


@contextlib.asynccontextmanager
async def serving(web_app: web.Application) -> AsyncIterator[str]:
    """`web_app` served on a free loopback port while the block runs; its base URL."""
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def raw_app(handler: Handler) -> AsyncIterator[RawApp]:
    app = RawApp(handler)
    web_app = web.Application()
    web_app.router.add_post("/api/inngest", app._endpoint)
    async with serving(web_app) as base:
        app.url = f"{base}/api/inngest"
        yield app


async def register(
    server: DevServer, app: RawApp, *configs: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    body = {"url": app.url, "appName": APP_ID, "sdk": "raw:v1", "functions": list(configs)}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.url}/fn/register", json=body, headers=headers) as response,
    ):
        reply: dict[str, Any] = await response.json()
        assert response.status == 200, reply
        return reply


class InFlight:
    """Counts step bodies executing at once (all on the test's event loop), and the most seen."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0

    def reset(self) -> None:
        self.now = self.most = 0

    def __enter__(self) -> None:
        self.now += 1
        self.most = max(self.most, self.now)

    def __exit__(self, *exc: object) -> None:
        self.now -= 1


async def busy(turns: int = 5) -> None:
    """Work that lets every other ready call run meanwhile, yet takes no time: calls started
    together are all in their handlers at once (what a concurrency limit must prevent)."""
    for _ in range(turns):
        await asyncio.sleep(0)


class RawEnvironment(Driven):
    """The dev server's engine in a `TestEnvironment`, answering calls with raw protocol apps
    in-process: no port, no HTTP, and time moves only when the test moves it."""

    def __init__(self, env: TestEnvironment) -> None:
        super().__init__(env.engine.executor, env.clock, env.store)
        self.env = env
        self.engine = env.engine
        self.executor = env.engine.executor
        self.registry = env.engine.registry
        self.runs = env.engine.runs

    def app(self, handler: Handler, name: str = APP_ID) -> RawApp:
        """A raw app answering calls for the functions registered at its URL."""
        app = RawApp(handler, url=f"http://{name}.testing.invalid/api/inngest")
        self.env.add_app(app.url, app)
        return app

    def register(self, app: RawApp, *configs: dict[str, Any]) -> bool:
        """Register functions as `POST /fn/register` does; whether anything changed."""
        body = {"url": app.url, "appName": APP_ID, "sdk": "raw:v1", "functions": list(configs)}
        return self.env.register_app(body)

    async def ingest(self, events: Any) -> list[str]:
        """Take events as the event API does (validated, group-committed), without settling."""
        return await self.runs.ingest_grouped(normalise_events(events))

    async def send(self, events: Any) -> list[str]:
        """Send events as through the event API, then settle; their internal ids."""
        ids = await self.ingest(events)
        await self.settle()
        return ids


@contextlib.asynccontextmanager
async def raw_environment(**options: Any) -> AsyncIterator[RawEnvironment]:
    """A started `RawEnvironment` (options go to `TestEnvironment`; the start is fixed and
    retries wait 0.05 s unless told otherwise, as in the dev server tests)."""
    options.setdefault("now", datetime.datetime.fromtimestamp(START, datetime.timezone.utc))
    options.setdefault("retry_interval", 0.05)
    async with TestEnvironment(**options) as env:
        raw = RawEnvironment(env)
        try:
            yield raw
        finally:
            raw.release_all()


@pytest.fixture
async def env() -> AsyncIterator[RawEnvironment]:
    async with raw_environment() as raw:
        yield raw


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say where the browser tests left their screenshots, whatever `-s` says."""
    from .browser import SCREENSHOTS, taken

    if taken:
        terminalreporter.write_line(f"UI screenshots ({len(taken)}): {SCREENSHOTS}")
