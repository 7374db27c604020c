"""Cancellation, timeouts, singletons, invoke, failure handlers and parallel steps."""

from __future__ import annotations

import datetime
import threading
from collections import Counter
from typing import Any

import pytest
from aiohttp import web

from inngest_dsl.devserver.store import Store
from inngest_dsl.devserver.store.records import RunRecord, RunStatus

from .clocked import ClockedServer, virtual_dev_server
from .conftest import (
    RawEnvironment,
    blocked_app,
    done_response,
    function_config,
    op,
    ops_response,
    send,
)
from .sdk_app import inngest, sdk_client, serve_sdk_app


def _run_of(store: Store, function_id: str, **data: Any) -> RunRecord | None:
    for run in store.list_runs(function_id=function_id):
        if all(run.events[0]["data"].get(k) == v for k, v in data.items()):
            return run
    return None


def _status(store: Store, function_id: str, **data: Any) -> str | None:
    run = _run_of(store, function_id, **data)
    return None if run is None else run.status


def _paused(store: Store, run: RunRecord | None) -> bool:
    if run is None:
        return False
    return any(s.status in ("Sleeping", "Waiting") for s in store.list_steps(run.run_id))


async def test_cancel_events_stop_sleeping_and_waiting_runs() -> None:
    calls: Counter[int] = Counter()
    afterwards: list[int] = []
    lock = threading.Lock()
    async with virtual_dev_server() as clocked:
        server, store = clocked.server, clocked.store
        client = sdk_client(server.url)

        @client.create_function(
            fn_id="cancellable",
            trigger=inngest.TriggerEvent(event="sdk/start"),
            cancel=[inngest.Cancel(event="sdk/stop", if_exp="async.data.id == event.data.id")],
        )
        def cancellable(ctx: inngest.ContextSync) -> None:
            ident = int(ctx.event.data["id"])
            with lock:
                calls[ident] += 1
            ctx.step.run("first", lambda: ident)
            if ctx.event.data["mode"] == "sleep":
                ctx.step.sleep("nap", datetime.timedelta(hours=1))
            else:
                ctx.step.wait_for_event(
                    "wait", event="sdk/never", timeout=datetime.timedelta(hours=1)
                )
            ctx.step.run("after", lambda: afterwards.append(ident))

        fid = "sdk-app-cancellable"
        with serve_sdk_app(client, [cancellable]) as url:
            await server.syncer.sync(url)
            await send(
                server,
                [
                    {"name": "sdk/start", "data": {"id": 1, "mode": "sleep"}},
                    {"name": "sdk/start", "data": {"id": 2, "mode": "wait"}},
                ],
            )
            await clocked.settle()
            assert _paused(store, _run_of(store, fid, id=1))
            assert _paused(store, _run_of(store, fid, id=2))
            before = dict(calls)
            await send(server, {"name": "sdk/stop", "data": {"id": 1}})
            await clocked.settle()
            assert _status(store, fid, id=1) == RunStatus.CANCELLED
            waiting = _run_of(store, fid, id=2)
            assert waiting is not None
            assert waiting.status == RunStatus.RUNNING
            await send(server, {"name": "sdk/stop", "data": {"id": 2}})
            await clocked.settle()
            assert _status(store, fid, id=2) == RunStatus.CANCELLED
            await clocked.advance("2h")  # past the sleep and the wait's timeout
        assert dict(calls) == before  # no call after the cancellation
        assert afterwards == []
        runs = {run.run_id: run for run in store.list_runs(function_id=fid)}
        assert all(run.reason and "sdk/stop" in run.reason for run in runs.values())
        cancelled = store.list_events(name="inngest/function.cancelled")
        assert {e.body["data"]["run_id"] for e in cancelled} == set(runs)
        assert all(e.body["data"]["function_id"] == fid for e in cancelled)
        assert all(e.body["data"]["error"]["message"] == "function cancelled" for e in cancelled)
        assert all(store.queue_for_run(run_id) == [] for run_id in runs)


async def test_a_cancel_trigger_expires_after_its_timeout(env: RawEnvironment) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        if "nap" not in body["steps"]:
            return ops_response(op("Sleep", "nap", opts={"duration": "500ms"}))
        return done_response("woke")

    app = env.app(handler)
    cancel = [{"event": "c/stop", "timeout": "200ms"}]
    env.register(app, function_config(app, "fn", event="c/go", cancel=cancel))
    await env.send({"name": "c/go"})
    await env.advance(0.3)
    await env.send({"name": "c/stop"})
    run = await env.finished_run("raw-fn")
    assert run.status == RunStatus.COMPLETED


async def test_start_timeout_cancels_a_run_still_queued(env: RawEnvironment) -> None:
    app, blocker, called = blocked_app(env)
    config = function_config(
        app, "st", event="s/go", concurrency=[{"limit": 1}], timeouts={"start": "200ms"}
    )
    env.register(app, config)
    store = env.store
    await env.send({"name": "s/go", "data": {"name": "blocker"}})
    assert called == ["blocker"]
    await env.send({"name": "s/go", "data": {"name": "late"}})
    await env.run_until(lambda: _status(store, "raw-st", name="late") == "Cancelled", "1s")
    await env.advance(0.1)  # the blocker has been going longer than 200 ms itself
    blocker.release()
    await env.settle()
    assert _status(store, "raw-st", name="blocker") == "Completed"
    late = _run_of(store, "raw-st", name="late")
    assert late is not None
    assert late.reason is not None
    assert late.reason.startswith("timeouts.start")
    assert called == ["blocker"]


async def test_finish_timeout_cancels_a_run_that_runs_too_long(env: RawEnvironment) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        if "nap" not in body["steps"]:
            return ops_response(op("Sleep", "nap", opts={"duration": "1h"}))
        return done_response("woke")

    app = env.app(handler)
    config = function_config(app, "ft", event="f/go", timeouts={"finish": "300ms"})
    env.register(app, config)
    await env.send({"name": "f/go"})
    run = await env.finished_run("raw-ft", within="5s")
    assert run.status == RunStatus.CANCELLED
    assert run.reason == "timeouts.finish: not finished within 300ms"
    assert run.ended_at is not None
    assert run.started_at is not None
    assert 0.29 <= run.ended_at - run.started_at < 1.0
    assert run.ended_at - run.started_at == pytest.approx(0.3)  # on time, to the millisecond


def _singleton_app(clocked: ClockedServer, mode: str) -> tuple[inngest.Inngest, Any]:
    client = sdk_client(clocked.url)

    @client.create_function(
        fn_id=f"single-{mode}",
        trigger=inngest.TriggerEvent(event="sdk/sync"),
        singleton=inngest.Singleton(key="event.data.user", mode=mode),  # type: ignore[arg-type]
    )
    def single(ctx: inngest.ContextSync) -> Any:
        done = ctx.step.wait_for_event(
            "done",
            event="sdk/done",
            if_exp="async.data.n == event.data.n",
            timeout=datetime.timedelta(seconds=30),
        )
        return ctx.event.data["n"] if done else None

    return client, single


async def test_singleton_skip_drops_new_runs_while_one_is_in_progress(
    clocked: ClockedServer,
) -> None:
    client, single = _singleton_app(clocked, "skip")
    server, store = clocked.server, clocked.store
    fid = "sdk-app-single-skip"
    with serve_sdk_app(client, [single]) as url:
        await server.syncer.sync(url)
        await send(server, {"name": "sdk/sync", "data": {"user": "a", "n": 1}})
        await clocked.settle()
        assert _paused(store, _run_of(store, fid, n=1))
        await send(server, {"name": "sdk/sync", "data": {"user": "a", "n": 2}})
        await send(server, {"name": "sdk/sync", "data": {"user": "b", "n": 3}})
        await clocked.settle()
        assert _paused(store, _run_of(store, fid, n=3))
        await send(server, [{"name": "sdk/done", "data": {"n": n}} for n in (1, 3)])
        await clocked.settle()
        assert _status(store, fid, n=1) == "Completed"
        await send(server, {"name": "sdk/sync", "data": {"user": "a", "n": 4}})
        await clocked.settle()
        assert _paused(store, _run_of(store, fid, n=4))
    skipped = _run_of(store, fid, n=2)
    assert skipped is not None
    assert skipped.status == RunStatus.SKIPPED
    first = _run_of(store, fid, n=1)
    assert first is not None
    assert skipped.reason == f"singleton: run {first.run_id} is still in progress"
    assert _status(store, fid, n=3) == RunStatus.COMPLETED


async def test_singleton_cancel_replaces_the_run_in_progress(clocked: ClockedServer) -> None:
    client, single = _singleton_app(clocked, "cancel")
    server, store = clocked.server, clocked.store
    fid = "sdk-app-single-cancel"
    with serve_sdk_app(client, [single]) as url:
        await server.syncer.sync(url)
        await send(server, {"name": "sdk/sync", "data": {"user": "a", "n": 1}})
        await clocked.settle()
        assert _paused(store, _run_of(store, fid, n=1))
        await send(server, {"name": "sdk/sync", "data": {"user": "a", "n": 2}})
        await clocked.settle()
        assert _paused(store, _run_of(store, fid, n=2))
        await send(server, [{"name": "sdk/done", "data": {"n": n}} for n in (1, 2)])
        await clocked.settle()
        assert _status(store, fid, n=2) == "Completed"
    first, second = _run_of(store, fid, n=1), _run_of(store, fid, n=2)
    assert first is not None
    assert second is not None
    assert first.status == RunStatus.CANCELLED
    assert first.reason == f"singleton: replaced by run {second.run_id}"
    assert second.output == 2


async def test_invoke_returns_the_callee_output(clocked: ClockedServer) -> None:
    server = clocked.server
    client = sdk_client(server.url)

    @client.create_function(fn_id="callee", trigger=inngest.TriggerEvent(event="sdk/never"))
    def callee(ctx: inngest.ContextSync) -> int:
        return int(ctx.step.run("double", lambda: ctx.event.data["x"] * 2))

    @client.create_function(fn_id="caller", trigger=inngest.TriggerEvent(event="sdk/call"))
    def caller(ctx: inngest.ContextSync) -> Any:
        return {"got": ctx.step.invoke("inv", function=callee, data={"x": 21})}

    with serve_sdk_app(client, [callee, caller]) as url:
        await server.syncer.sync(url)
        await send(server, {"name": "sdk/call"})
        run = await clocked.finished_run("sdk-app-caller", within="20s")
    assert run.status == RunStatus.COMPLETED
    assert run.output == {"got": 42}
    (child,) = clocked.store.list_runs(function_id="sdk-app-callee")
    assert child.correlation_id is not None
    assert child.correlation_id.startswith(run.run_id)


async def test_invoke_times_out_and_a_skipped_callee_fails_the_step(env: RawEnvironment) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        event = body["event"]
        if event["name"] == "inngest/function.invoked":
            if "nap" not in body["steps"]:
                return ops_response(op("Sleep", "nap", opts={"duration": "1h"}))
            return done_response("too late")
        steps = body["steps"]
        for n in (1, 2):
            if f"inv{n}" not in steps:
                opts = {"function_id": "raw-slow", "payload": {"data": {}}, "timeout": "300ms"}
                return ops_response(op("InvokeFunction", f"inv{n}", opts=opts))
        return done_response(steps)

    app = env.app(handler)
    limited = {"limit": 1, "period": "1m"}
    env.register(
        app,
        function_config(app, "caller", event="i/go"),
        function_config(app, "slow", event="i/never", rateLimit=limited),
    )
    await env.send({"name": "i/go"})
    run = await env.finished_run("raw-caller", within="5s")
    first, second = run.output["inv1"], run.output["inv2"]
    assert first["error"]["name"] == "InngestInvokeTimeoutError"
    assert second["error"]["message"].startswith("the invoked function raw-slow was skipped")
    statuses = sorted(r.status for r in env.store.list_runs(function_id="raw-slow"))
    assert statuses == [RunStatus.RUNNING, RunStatus.SKIPPED]


async def test_a_failing_function_runs_its_failure_handler(clocked: ClockedServer) -> None:
    server = clocked.server
    client = sdk_client(server.url)

    def on_failure(ctx: inngest.ContextSync) -> dict[str, Any]:
        data = ctx.event.data
        return {
            "function_id": data["function_id"],
            "message": data["error"]["message"],
            "order": data["event"]["data"]["order"],
        }

    @client.create_function(
        fn_id="fragile",
        trigger=inngest.TriggerEvent(event="sdk/fragile"),
        retries=0,
        on_failure=on_failure,
    )
    def fragile(ctx: inngest.ContextSync) -> None:
        raise ValueError("out of stock")

    with serve_sdk_app(client, [fragile]) as url:
        await server.syncer.sync(url)
        assert "sdk-app-fragile-failure" in server.registry.functions
        await send(server, {"name": "sdk/fragile", "data": {"order": 7}})
        failed = await clocked.finished_run("sdk-app-fragile", within="20s")
        handled = await clocked.finished_run("sdk-app-fragile-failure", within="20s")
    assert failed.status == RunStatus.FAILED
    assert handled.status == RunStatus.COMPLETED
    assert handled.output == {
        "function_id": "sdk-app-fragile",
        "message": "out of stock",
        "order": 7,
    }
    assert handled.events[0]["name"] == "inngest/function.failed"


async def test_parallel_steps_run_as_targeted_calls_and_fan_in(clocked: ClockedServer) -> None:
    server = clocked.server
    client = sdk_client(server.url)
    step_ids: list[str] = []

    @client.create_function(fn_id="fan", trigger=inngest.TriggerEvent(event="sdk/fan"))
    def fan(ctx: inngest.ContextSync) -> Any:
        parts = ctx.group.parallel(
            tuple(
                (lambda name=name: ctx.step.run(name, lambda: name.upper()))
                for name in ("a", "b", "c")
            )
        )
        return {"parts": list(parts), "after": ctx.step.run("after", lambda: "joined")}

    with serve_sdk_app(client, [fan], step_ids) as url:
        await server.syncer.sync(url)
        await send(server, {"name": "sdk/fan"})
        run = await clocked.finished_run("sdk-app-fan", within="20s")
    assert run.output == {"parts": ["A", "B", "C"], "after": "joined"}
    steps = clocked.store.list_steps(run.run_id)
    assert sorted(s.display_name for s in steps) == ["a", "after", "b", "c"]
    assert steps[-1].display_name == "after"  # only after all three fanned in
    planned = {s.step_id for s in steps if s.display_name in ("a", "b", "c")}
    # Discovery plans the three; each runs in its own targeted call; then one discovery.
    assert step_ids[0] == "step"
    assert sorted(step_ids[1:4]) == sorted(planned)
    assert step_ids[4] == "step"
