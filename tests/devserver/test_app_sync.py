"""Apps that are not up yet, go away, or are added, re-synced and removed through the API.

The real dev server on a virtual clock: each sync attempt is a timer of that clock, and the
test awaits the attempt it fired (the ping itself goes to a loopback port).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from inngest_dsl.devserver.http.sync import BACKOFF_CAP, GIVE_UP_AFTER, AppSyncer
from tests.loopback import free_port, on_loopback

from .clocked import ClockedServer, virtual_dev_server
from .conftest import call_json, function_config, raw_app, register


@contextlib.asynccontextmanager
async def _pingable_app(port: int) -> AsyncIterator[list[str]]:
    """An app on `port` that answers sync pings as an SDK does; the pings it got."""
    pings: list[str] = []

    async def ping(request: web.Request) -> web.Response:
        pings.append(request.method)
        return web.json_response({}, headers={"X-Inngest-SDK": "raw-test:v1.0.0"})

    web_app = web.Application()
    web_app.router.add_put("/api/inngest", ping)
    async with on_loopback(web_app, port):
        yield pings


async def _next_attempt(clocked: ClockedServer, syncer: AppSyncer, url: str) -> float:
    """Move the clock to the URL's next attempt, await it; how long the wait was."""
    state = syncer.state(url)
    assert state is not None
    if state.task is not None:
        await state.task  # the attempt under way (the first one, at start)
    assert state.next_attempt is not None
    before = clocked.fake_clock.now()
    clocked.fake_clock.move_to(state.next_attempt)
    clocked.fake_clock.fire_due()
    assert state.task is not None
    await state.task
    return clocked.fake_clock.now() - before


async def test_an_app_started_after_the_server_is_retried_with_backoff_and_found(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "inngest_dsl.devserver")
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/inngest"
    async with virtual_dev_server(app_urls=[url], poll_interval=5.0) as clocked:
        syncer = clocked.server.syncer
        state = syncer.state(url)
        assert state is not None
        waits = [await _next_attempt(clocked, syncer, url) for _ in range(8)]
        assert state.failures == 9
        async with _pingable_app(port) as pings:
            await _next_attempt(clocked, syncer, url)
            assert pings == ["PUT"]
            assert state.failures == 0
            assert await _next_attempt(clocked, syncer, url) == 5.0  # the poll interval again
            assert pings == ["PUT", "PUT"]
        _, reply = await call_json("GET", f"{clocked.url}/v1/apps")
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, BACKOFF_CAP, BACKOFF_CAP]
    lines = [r.getMessage() for r in caplog.records if url in r.getMessage()]
    assert len(lines) == 2, lines  # one line when it failed, one when it synced
    assert "unreachable" in lines[0]
    assert lines[1] == f"app {url} is up: synced after 9 failed attempts"
    [app] = reply["data"]
    assert app["error"] is None
    assert app["polled"] is True


async def test_a_url_added_through_the_api_that_never_syncs_is_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"http://127.0.0.1:{free_port()}/api/inngest"
    async with virtual_dev_server(poll_interval=5.0) as clocked:
        status, reply = await call_json("POST", f"{clocked.url}/v1/apps", {"url": url})
        assert status == 502
        assert reply["url"] == url
        _, listed = await call_json("GET", f"{clocked.url}/v1/apps")
        assert [(a["url"], a["polled"], a["failures"]) for a in listed["data"]] == [(url, True, 1)]
        syncer = clocked.server.syncer
        for _ in range(GIVE_UP_AFTER - 1):
            await _next_attempt(clocked, syncer, url)
        assert syncer.state(url) is None
        _, listed = await call_json("GET", f"{clocked.url}/v1/apps")
    assert listed["data"] == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, warnings
    assert warnings[1].endswith(f"giving up after {GIVE_UP_AFTER} attempts")


async def test_an_app_is_resynced_and_removed_with_its_functions(clocked: ClockedServer) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        raise AssertionError("not called")

    async with raw_app(handler) as app:
        await register(clocked.server, app, function_config(app, "fn", event="app/go"))
        base = f"{clocked.url}/v1/apps"
        status, reply = await call_json("POST", f"{base}/resync", {"url": app.url})
        assert status == 502  # a raw app does not answer pings
        assert "cannot sync" in reply["error"]
        status, reply = await call_json("POST", f"{base}/resync", {"url": "http://127.0.0.1:1/x"})
        assert status == 404
        status, reply = await call_json("DELETE", f"{base}?url={app.url}")
        assert status == 200, reply
        assert clocked.server.registry.functions == {}
        status, reply = await call_json("GET", f"{clocked.url}/v1/functions")
        assert reply["data"] == []
        status, reply = await call_json("DELETE", f"{base}?url={app.url}")
        assert status == 404
        status, reply = await call_json("DELETE", base)
        assert status == 400


async def test_a_registered_app_that_stops_answering_is_never_dropped(
    clocked: ClockedServer,
) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        raise AssertionError("not called")

    async with raw_app(handler) as app:
        await register(clocked.server, app, function_config(app, "fn", event="app/go"))
        status, _ = await call_json("POST", f"{clocked.url}/v1/apps/resync", {"url": app.url})
        assert status == 502  # a raw app does not answer sync pings
        syncer = clocked.server.syncer
        for _ in range(GIVE_UP_AFTER + 2):
            await _next_attempt(clocked, syncer, app.url)
        state = syncer.state(app.url)
        assert state is not None
        assert state.failures == GIVE_UP_AFTER + 3
    assert list(clocked.server.registry.functions) == ["raw-fn"]


async def test_a_sync_is_logged_once_naming_the_app_its_url_and_functions(
    clocked: ClockedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "inngest_dsl.devserver")

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        raise AssertionError("not called")

    async with raw_app(handler) as app:
        one = function_config(app, "fn", event="app/go")
        two = function_config(app, "other", event="app/other")
        for configs in ((one,), (one,), (one, two)):
            await register(clocked.server, app, *configs)
    lines = [r.getMessage() for r in caplog.records if "synced app" in r.getMessage()]
    assert lines == [
        f"synced app raw at {app.url}: 1 function (raw-fn)",
        f"synced app raw at {app.url}: 2 functions (raw-fn, raw-other)",
    ]
