"""Helpers for dev server tests: an in-process dev server on a free port, raw protocol apps."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp import web

from inngest_dsl.devserver import DevServer, DevServerConfig
from inngest_dsl.devserver.store.records import RunRecord, RunStatus

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


async def send(server: DevServer, events: Any, key: str = "test") -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.url}/e/{key}", json=events) as response,
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
        body = json.loads(raw)
        step_id = request.query.get("stepId", "")
        if self.record:
            self.raw_bodies.append(raw)
            self.calls.append((step_id, body))
            self.headers.append(dict(request.headers))
        return await self.handler(step_id, body)


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
async def raw_app(handler: Handler) -> AsyncIterator[RawApp]:
    app = RawApp(handler)
    web_app = web.Application()
    web_app.router.add_post("/api/inngest", app._endpoint)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    app.url = f"http://127.0.0.1:{port}/api/inngest"
    try:
        yield app
    finally:
        await runner.cleanup()


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
