"""Throttle queues run starts; rate limits and idempotency skip the excess, visibly."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from inngest_dsl.devserver.store import Store
from inngest_dsl.devserver.store.records import RunStatus
from inngest_dsl.devserver.store.shapes import run_json

from .clocked import virtual_dev_server
from .conftest import RawEnvironment, done_response, function_config, send
from .sdk_app import inngest, sdk_client, serve_sdk_app


async def test_throttle_delays_run_starts_but_runs_them_all(env: RawEnvironment) -> None:
    starts: dict[int, float] = {}

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        n = body["event"]["data"]["n"]
        starts.setdefault(n, env.now())
        return done_response(n)

    app = env.app(handler)
    throttle = {"limit": 1, "period": "400ms", "burst": 1}
    env.register(app, function_config(app, "th", event="t/go", throttle=throttle))
    await env.send([{"name": "t/go", "data": {"n": n}} for n in range(4)])
    assert len(starts) == 2
    waiting = env.store.list_runs(RunStatus.QUEUED)
    await env.run_until(lambda: env.count(RunStatus.COMPLETED) == 4, within="10s")
    times = [starts[n] for n in range(4)]
    assert times[1] - times[0] < 0.2  # limit + burst start at once
    assert times[2] - times[0] >= 0.35  # then one per period / limit
    assert times[3] - times[2] >= 0.35
    assert len(waiting) == 2
    assert all(run.reason and "throttle" in run.reason for run in waiting)
    assert env.count(RunStatus.SKIPPED) == 0


async def test_rate_limit_skips_the_excess_per_key_and_says_why(env: RawEnvironment) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return done_response(body["event"]["data"])

    app = env.app(handler)
    limit = {"limit": 2, "period": "1s", "key": "event.data.user"}
    env.register(app, function_config(app, "rl", event="r/go", rateLimit=limit))
    burst = [{"name": "r/go", "data": {"user": "a", "n": n}} for n in range(4)]
    await env.send([*burst, {"name": "r/go", "data": {"user": "b", "n": 9}}])
    assert env.count(RunStatus.COMPLETED) == 3
    await env.advance(0.55)  # one token back (period / limit)
    await env.send({"name": "r/go", "data": {"user": "a", "n": 5}})
    assert env.count(RunStatus.COMPLETED) == 4
    # What `GET /v1/runs?status=skipped` lists.
    skipped = [run_json(run) for run in env.store.list_runs(RunStatus.SKIPPED)]
    done = sorted(r.output["n"] for r in env.store.list_runs(RunStatus.COMPLETED))
    assert done == [0, 1, 5, 9]
    assert len(skipped) == 2
    assert all("rate limit" in run["reason"] for run in skipped)
    assert {run["event"]["data"]["n"] for run in map(_detail(env.store), skipped)} == {2, 3}
    assert len(app.calls) == 4  # skipped runs are never called


def _detail(store: Store) -> Any:
    def load(run: dict[str, Any]) -> dict[str, Any]:
        record = store.get_run(run["run_id"])
        assert record is not None
        return {"event": record.events[0]}

    return load


async def test_idempotency_runs_once_per_key() -> None:
    async with virtual_dev_server() as clocked:
        server = clocked.server
        client = sdk_client(server.url)

        @client.create_function(
            fn_id="once",
            trigger=inngest.TriggerEvent(event="sdk/order"),
            idempotency="event.data.order",
        )
        def once(ctx: inngest.ContextSync) -> Any:
            return ctx.event.data["order"]

        with serve_sdk_app(client, [once]) as url:
            await server.syncer.sync(url)
            await send(
                server, [{"name": "sdk/order", "data": {"order": o}} for o in (1, 1, 2, 1, 2)]
            )
            await clocked.settle()
            assert clocked.count(RunStatus.COMPLETED) == 2
        runs = server.store.list_runs()
    assert sorted(r.output for r in runs if r.status == RunStatus.COMPLETED) == [1, 2]
    skipped = [r for r in runs if r.status == RunStatus.SKIPPED]
    assert len(skipped) == 3
    assert all(r.reason and r.reason.startswith("idempotency") for r in skipped)
