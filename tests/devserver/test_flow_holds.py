"""Debounce runs a burst once with its last event; batching hands many events to one run."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from inngest_dsl.devserver.store.records import RunStatus

from .clocked import virtual_dev_server
from .conftest import RawEnvironment, done_response, function_config, send
from .sdk_app import inngest, sdk_client, serve_sdk_app


async def _echo(step_id: str, body: dict[str, Any]) -> web.Response:
    return done_response(
        {"event": body["event"]["data"], "events": [e["data"] for e in body["events"]]}
    )


async def test_debounce_runs_a_burst_once_with_the_last_event(env: RawEnvironment) -> None:
    app = env.app(_echo)
    debounce = {"period": "1s", "key": "event.data.user"}
    env.register(app, function_config(app, "db", event="d/go", debounce=debounce))
    for n in range(5):
        await env.advance(0.25)
        await env.send({"name": "d/go", "data": {"user": "a", "n": n}})
    await env.send({"name": "d/go", "data": {"user": "b", "n": 9}})
    last_sent = env.now()
    await env.advance(0.9)
    assert env.store.list_runs() == []  # still quiet-waiting
    await env.advance(0.1)
    assert env.count(RunStatus.COMPLETED) == 2
    runs = env.store.list_runs()
    assert len(runs) == 2
    by_user = {run.output["event"]["user"]: run for run in runs}
    assert by_user["a"].output == {
        "event": {"user": "a", "n": 4},
        "events": [{"user": "a", "n": 4}],
    }
    assert by_user["b"].output["event"]["n"] == 9
    assert by_user["b"].queued_at == pytest.approx(last_sent + 1.0)


async def test_debounce_timeout_caps_the_delay_from_the_first_event(env: RawEnvironment) -> None:
    app = env.app(_echo)
    debounce = {"period": "1s", "timeout": "2s"}
    env.register(app, function_config(app, "db", event="d/go", debounce=debounce))
    first_sent = env.now()
    for n in range(4):  # one event every 500 ms: never quiet for a second
        await env.send({"name": "d/go", "data": {"n": n}})
        await env.advance(0.5)
    assert env.count(RunStatus.COMPLETED) == 1  # 2 s after the first event
    await env.send({"name": "d/go", "data": {"n": 4}})
    await env.advance(1.0)
    assert env.count(RunStatus.COMPLETED) == 2
    first, second = sorted(env.store.list_runs(), key=lambda run: run.queued_at)
    assert first.queued_at == pytest.approx(first_sent + 2.0)  # the timeout, not a quiet second
    assert first.output["event"]["n"] == 3  # the latest event at that moment
    assert second.output["event"]["n"] == 4


async def test_a_batch_arrives_as_events_with_the_first_as_event() -> None:
    async with virtual_dev_server() as clocked:
        server = clocked.server
        client = sdk_client(server.url)

        @client.create_function(
            fn_id="batched",
            trigger=inngest.TriggerEvent(event="sdk/item"),
            batch_events=inngest.Batch(max_size=3, timeout=1000),
        )
        def batched(ctx: inngest.ContextSync) -> dict[str, Any]:
            return {"event": ctx.event.data["n"], "events": [e.data["n"] for e in ctx.events]}

        with serve_sdk_app(client, [batched]) as url:
            await server.syncer.sync(url)
            sent = clocked.now()
            await send(server, [{"name": "sdk/item", "data": {"n": n}} for n in range(7)])
            await clocked.run_until(lambda: clocked.count(RunStatus.COMPLETED) == 3, "10s")
        runs = server.store.list_runs()
    outputs = sorted((run.output for run in runs), key=lambda out: out["event"])
    assert outputs == [
        {"event": 0, "events": [0, 1, 2]},
        {"event": 3, "events": [3, 4, 5]},
        {"event": 6, "events": [6]},
    ]
    queued = sorted(run.queued_at - sent for run in runs)
    assert queued[1] < 0.5  # full batches do not wait for the timeout
    assert queued[2] >= 0.95  # the partial one does
    assert queued[2] == pytest.approx(1.0)  # exactly its timeout after it opened


async def test_batches_are_per_key_and_events_failing_if_run_alone(env: RawEnvironment) -> None:
    app = env.app(_echo)
    batch = {
        "maxSize": 2,
        "timeout": "1s",
        "key": "event.data.user",
        "if": "event.data.batch",
    }
    env.register(app, function_config(app, "bk", event="b/go", batchEvents=batch))
    await env.send(
        [
            {"name": "b/go", "data": {"user": "a", "n": 1, "batch": True}},
            {"name": "b/go", "data": {"user": "b", "n": 2, "batch": True}},
            {"name": "b/go", "data": {"user": "x", "n": 3, "batch": False}},
            {"name": "b/go", "data": {"user": "a", "n": 4, "batch": True}},
        ],
    )
    assert env.count(RunStatus.COMPLETED) == 2
    early = sorted([e["n"] for e in run.output["events"]] for run in env.store.list_runs())
    await env.advance(1.0)
    assert env.count(RunStatus.COMPLETED) == 3
    late = [run.output["events"] for run in env.store.list_runs()]
    assert early == [[1, 4], [3]]
    assert sorted([e["n"] for e in events] for events in late) == [[1, 4], [2], [3]]
