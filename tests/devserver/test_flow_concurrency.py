"""Concurrency limits and priority: calls over a limit wait, in priority order, never dropped."""

from __future__ import annotations

import threading
from typing import Any

from aiohttp import web

from inngest_dsl.devserver.store.records import RunStatus

from .clocked import virtual_dev_server
from .conftest import (
    RawEnvironment,
    blocked_app,
    busy,
    done_response,
    function_config,
    op,
    ops_response,
    send,
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


async def test_ten_runs_with_concurrency_two_never_exceed_two_calls() -> None:
    in_flight = InFlight()
    async with virtual_dev_server() as clocked:
        server = clocked.server
        hold = clocked.hold()
        client = sdk_client(server.url)

        @client.create_function(
            fn_id="limited",
            trigger=inngest.TriggerEvent(event="sdk/limited"),
            concurrency=[inngest.Concurrency(limit=2)],
        )
        def limited(ctx: inngest.ContextSync) -> int:
            with in_flight:
                # Every call waits for the test: the calls held together are all the calls the
                # dev server let in at once (the replay that returns is a call too).
                hold.block()
                n = ctx.step.run("work", lambda: int(ctx.event.data["n"]))
                return n * 10

        with serve_sdk_app(client, [limited]) as url:
            await server.syncer.sync(url)
            await send(server, [{"name": "sdk/limited", "data": {"n": n}} for n in range(10)])
            for _ in range(50):
                await clocked.settle()
                if clocked.count(RunStatus.COMPLETED) == 10:
                    break
                hold.release_held()
        runs = server.store.list_runs()
    assert sorted(run.output for run in runs) == [n * 10 for n in range(10)]
    assert in_flight.most == 2, in_flight.most
    assert in_flight.calls >= 20


async def test_a_keyed_limit_is_per_key_and_sleeping_runs_hold_no_slot(
    env: RawEnvironment,
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
            await busy()
        finished.append(data["name"])
        return done_response(data["name"])

    app = env.app(handler)
    limit = [{"limit": 1, "key": "event.data.user"}]
    env.register(app, function_config(app, "keyed", event="k/go", concurrency=limit))
    # a1 sleeps first: while it sleeps, a2 (same user) runs to the end.
    await env.send({"name": "k/go", "data": {"user": "a", "name": "a1", "nap": True}})
    assert env.store.list_steps(env.store.list_runs()[0].run_id)
    await env.send(
        [
            {"name": "k/go", "data": {"user": "a", "name": "a2"}},
            {"name": "k/go", "data": {"user": "b", "name": "b1"}},
            {"name": "k/go", "data": {"user": "a", "name": "a3"}},
        ],
    )
    await env.run_until(lambda: len(finished) == 4, within="10s")
    assert finished.index("a2") < finished.index("a1")  # a1's sleep held no slot
    assert in_flight["a"].most == 1
    assert in_flight["b"].most == 1
    assert everyone.most == 2  # different keys did run side by side


async def test_account_scope_shares_one_limit_across_functions(env: RawEnvironment) -> None:
    in_flight = InFlight()

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        with in_flight:
            await busy()
        return done_response(body["event"]["name"])

    app = env.app(handler)
    shared = [{"limit": 1, "key": '"openai"', "scope": "account"}]
    env.register(
        app,
        function_config(app, "one", event="s/one", concurrency=shared),
        function_config(app, "two", event="s/two", concurrency=shared),
    )
    await env.send([{"name": f"s/{n}"} for n in ("one", "two") * 3])
    await env.run_until(lambda: env.count(RunStatus.COMPLETED) == 6, within="10s")
    assert in_flight.most == 1


async def test_priority_orders_runs_waiting_for_a_slot(env: RawEnvironment) -> None:
    app, blocker, started = blocked_app(env)
    config = function_config(
        app,
        "prio",
        event="p/go",
        concurrency=[{"limit": 1}],
        priority={"run": "event.data.prio"},
    )
    env.register(app, config)
    await env.send({"name": "p/go", "data": {"name": "blocker", "prio": 0}})
    assert started == ["blocker"]
    for name, prio in (("low", -100), ("plain", 0), ("high", 300), ("clamped", 10_000)):
        await env.send({"name": "p/go", "data": {"name": name, "prio": prio}})
    queued = env.store.list_runs(RunStatus.QUEUED)
    assert len(queued) == 4
    parked = env.executor.gates.parked  # what /health reports as "parked"
    blocker.release()
    await env.run_until(lambda: env.count(RunStatus.COMPLETED) == 5, within="10s")
    assert started == ["blocker", "clamped", "high", "plain", "low"]
    assert {run.priority for run in queued} == {-100, 0, 300, 600}
    assert parked == 4
    assert all(run.reason and "concurrency" in run.reason for run in queued)
    finished = env.store.list_runs(RunStatus.COMPLETED)
    assert all(run.reason is None for run in finished)
