"""Concurrency limits and priority: calls over a limit wait, in priority order, never dropped."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import aiohttp
from aiohttp import web

from inngest_dsl.devserver import DevServer
from inngest_dsl.devserver.store.records import RunStatus

from .conftest import (
    done_response,
    function_config,
    op,
    ops_response,
    raw_app,
    register,
    send,
    wait_until,
)
from .sdk_app import inngest, sdk_client, serve_sdk_app


class InFlight:
    """Counts calls executing at once (from any thread) and remembers the most seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.calls = 0

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.calls += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.now -= 1


async def test_ten_runs_with_concurrency_two_never_exceed_two_calls(
    dev_server: DevServer,
) -> None:
    client = sdk_client(dev_server.url)
    in_flight = InFlight()

    @client.create_function(
        fn_id="limited",
        trigger=inngest.TriggerEvent(event="sdk/limited"),
        concurrency=[inngest.Concurrency(limit=2)],
    )
    def limited(ctx: inngest.ContextSync) -> int:
        with in_flight:

            def work() -> int:
                time.sleep(0.1)
                return int(ctx.event.data["n"])

            n = ctx.step.run("work", work)
            time.sleep(0.02)  # the replay that returns is a call too
            return n * 10

    with serve_sdk_app(client, [limited]) as url:
        await dev_server.syncer.sync(url)
        await send(dev_server, [{"name": "sdk/limited", "data": {"n": n}} for n in range(10)])
        await wait_until(
            lambda: dev_server.store.count_runs().get(RunStatus.COMPLETED, 0) == 10, timeout=20
        )
    runs = dev_server.store.list_runs()
    assert sorted(run.output for run in runs) == [n * 10 for n in range(10)]
    assert in_flight.most == 2, in_flight.most
    assert in_flight.calls >= 20


async def test_a_keyed_limit_is_per_key_and_sleeping_runs_hold_no_slot(
    dev_server: DevServer,
) -> None:
    """Limit 1 per user: one user's runs take turns, another user's run alongside."""
    in_flight: dict[str, InFlight] = {"a": InFlight(), "b": InFlight()}
    everyone = InFlight()
    finished: list[str] = []

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        data = body["event"]["data"]
        with in_flight[data["user"]], everyone:
            if "nap" not in body["steps"] and data.get("nap"):
                return ops_response(op("Sleep", "nap", opts={"duration": "400ms"}))
            await asyncio.sleep(0.1)
        finished.append(data["name"])
        return done_response(data["name"])

    async with raw_app(handler) as app:
        limit = [{"limit": 1, "key": "event.data.user"}]
        await register(
            dev_server, app, function_config(app, "keyed", event="k/go", concurrency=limit)
        )
        # a1 sleeps first: while it sleeps, a2 (same user) runs to the end.
        await send(dev_server, {"name": "k/go", "data": {"user": "a", "name": "a1", "nap": True}})
        await wait_until(
            lambda: bool(dev_server.store.list_steps(dev_server.store.list_runs()[0].run_id))
        )
        await send(
            dev_server,
            [
                {"name": "k/go", "data": {"user": "a", "name": "a2"}},
                {"name": "k/go", "data": {"user": "b", "name": "b1"}},
                {"name": "k/go", "data": {"user": "a", "name": "a3"}},
            ],
        )
        await wait_until(lambda: len(finished) == 4, timeout=10)
    assert finished.index("a2") < finished.index("a1")  # a1's sleep held no slot
    assert in_flight["a"].most == 1
    assert in_flight["b"].most == 1
    assert everyone.most == 2  # different keys did run side by side


async def test_account_scope_shares_one_limit_across_functions(dev_server: DevServer) -> None:
    in_flight = InFlight()

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        with in_flight:
            await asyncio.sleep(0.05)
        return done_response(body["event"]["name"])

    async with raw_app(handler) as app:
        shared = [{"limit": 1, "key": '"openai"', "scope": "account"}]
        await register(
            dev_server,
            app,
            function_config(app, "one", event="s/one", concurrency=shared),
            function_config(app, "two", event="s/two", concurrency=shared),
        )
        await send(dev_server, [{"name": f"s/{n}"} for n in ("one", "two") * 3])
        await wait_until(
            lambda: dev_server.store.count_runs().get(RunStatus.COMPLETED, 0) == 6, timeout=10
        )
    assert in_flight.most == 1


async def test_priority_orders_runs_waiting_for_a_slot(dev_server: DevServer) -> None:
    release = asyncio.Event()
    started: list[str] = []

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        name = body["event"]["data"]["name"]
        started.append(name)
        if name == "blocker":
            await release.wait()
        return done_response(name)

    async with raw_app(handler) as app:
        config = function_config(
            app,
            "prio",
            event="p/go",
            concurrency=[{"limit": 1}],
            priority={"run": "event.data.prio"},
        )
        await register(dev_server, app, config)
        await send(dev_server, {"name": "p/go", "data": {"name": "blocker", "prio": 0}})
        await wait_until(lambda: started == ["blocker"])
        for name, prio in (("low", -100), ("plain", 0), ("high", 300), ("clamped", 10_000)):
            await send(dev_server, {"name": "p/go", "data": {"name": name, "prio": prio}})
        await wait_until(lambda: len(dev_server.store.list_runs(RunStatus.QUEUED)) == 4)
        queued = dev_server.store.list_runs(RunStatus.QUEUED)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{dev_server.url}/health") as response,
        ):
            health = await response.json()
        release.set()
        await wait_until(
            lambda: dev_server.store.count_runs().get(RunStatus.COMPLETED, 0) == 5, timeout=10
        )
    assert started == ["blocker", "clamped", "high", "plain", "low"]
    assert {run.priority for run in queued} == {-100, 0, 300, 600}
    assert health["parked"] == 4
    assert all(run.reason and "concurrency" in run.reason for run in queued)
    finished = dev_server.store.list_runs(RunStatus.COMPLETED)
    assert all(run.reason is None for run in finished)
