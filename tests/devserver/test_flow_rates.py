"""Throttle queues run starts; rate limits and idempotency skip the excess, visibly."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web

from inngest_dsl.devserver import DevServer
from inngest_dsl.devserver.store.records import RunStatus

from .conftest import done_response, function_config, raw_app, register, send, wait_until
from .sdk_app import inngest, sdk_client, serve_sdk_app


def _count(server: DevServer, status: str) -> int:
    return server.store.count_runs().get(status, 0)


async def test_throttle_delays_run_starts_but_runs_them_all(dev_server: DevServer) -> None:
    starts: dict[int, float] = {}

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        n = body["event"]["data"]["n"]
        starts.setdefault(n, asyncio.get_running_loop().time())
        return done_response(n)

    async with raw_app(handler) as app:
        throttle = {"limit": 1, "period": "400ms", "burst": 1}
        await register(dev_server, app, function_config(app, "th", event="t/go", throttle=throttle))
        await send(dev_server, [{"name": "t/go", "data": {"n": n}} for n in range(4)])
        await wait_until(lambda: len(starts) == 2)
        waiting = dev_server.store.list_runs(RunStatus.QUEUED)
        await wait_until(lambda: _count(dev_server, RunStatus.COMPLETED) == 4, timeout=10)
    times = [starts[n] for n in range(4)]
    assert times[1] - times[0] < 0.2  # limit + burst start at once
    assert times[2] - times[0] >= 0.35  # then one per period / limit
    assert times[3] - times[2] >= 0.35
    assert len(waiting) == 2
    assert all(run.reason and "throttle" in run.reason for run in waiting)
    assert _count(dev_server, RunStatus.SKIPPED) == 0


async def test_rate_limit_skips_the_excess_per_key_and_says_why(dev_server: DevServer) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return done_response(body["event"]["data"])

    async with raw_app(handler) as app:
        limit = {"limit": 2, "period": "1s", "key": "event.data.user"}
        await register(dev_server, app, function_config(app, "rl", event="r/go", rateLimit=limit))
        burst = [{"name": "r/go", "data": {"user": "a", "n": n}} for n in range(4)]
        await send(dev_server, [*burst, {"name": "r/go", "data": {"user": "b", "n": 9}}])
        await wait_until(lambda: _count(dev_server, RunStatus.COMPLETED) == 3)
        await asyncio.sleep(0.55)  # one token back (period / limit)
        await send(dev_server, {"name": "r/go", "data": {"user": "a", "n": 5}})
        await wait_until(lambda: _count(dev_server, RunStatus.COMPLETED) == 4)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{dev_server.url}/v1/runs?status=skipped") as response,
        ):
            skipped = (await response.json())["data"]
    done = sorted(r.output["n"] for r in dev_server.store.list_runs(RunStatus.COMPLETED))
    assert done == [0, 1, 5, 9]
    assert len(skipped) == 2
    assert all("rate limit" in run["reason"] for run in skipped)
    assert {run["event"]["data"]["n"] for run in map(_detail(dev_server), skipped)} == {2, 3}
    assert len(app.calls) == 4  # skipped runs are never called


def _detail(server: DevServer) -> Any:
    def load(run: dict[str, Any]) -> dict[str, Any]:
        record = server.store.get_run(run["run_id"])
        assert record is not None
        return {"event": record.events[0]}

    return load


async def test_idempotency_runs_once_per_key(dev_server: DevServer) -> None:
    client = sdk_client(dev_server.url)

    @client.create_function(
        fn_id="once",
        trigger=inngest.TriggerEvent(event="sdk/order"),
        idempotency="event.data.order",
    )
    def once(ctx: inngest.ContextSync) -> Any:
        return ctx.event.data["order"]

    with serve_sdk_app(client, [once]) as url:
        await dev_server.syncer.sync(url)
        await send(
            dev_server, [{"name": "sdk/order", "data": {"order": o}} for o in (1, 1, 2, 1, 2)]
        )
        await wait_until(lambda: _count(dev_server, RunStatus.COMPLETED) == 2, timeout=20)
        await asyncio.sleep(0.2)
    runs = dev_server.store.list_runs()
    assert sorted(r.output for r in runs if r.status == RunStatus.COMPLETED) == [1, 2]
    skipped = [r for r in runs if r.status == RunStatus.SKIPPED]
    assert len(skipped) == 3
    assert all(r.reason and r.reason.startswith("idempotency") for r in skipped)
