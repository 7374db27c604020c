"""Apps written with the official Python SDK (`inngest` 0.5.19) run on the dev server."""

from __future__ import annotations

import collections
import datetime
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import flask
import pytest

from inngest_dsl.devserver import DevServer
from inngest_dsl.devserver.store.records import RunStatus

from .conftest import finished_run_of, running_dev_server, send, wait_until
from .sdk_app import inngest, serve_sdk_app

pytestmark = pytest.mark.realtime  # apps of the official SDK, served over HTTP


def _client(server: DevServer, **options: Any) -> inngest.Inngest:
    options.setdefault("is_production", False)
    return inngest.Inngest(
        app_id="sdk-app", api_base_url=server.url, event_api_base_url=server.url, **options
    )


async def test_step_sleep_wait_step_flow_completes(dev_server: DevServer) -> None:
    client = _client(dev_server)
    executed: Counter[str] = Counter()

    @client.create_function(fn_id="flow", trigger=inngest.TriggerEvent(event="sdk/start"))
    def flow(ctx: inngest.ContextSync) -> dict[str, Any]:
        def first() -> int:
            executed["first"] += 1
            return int(ctx.event.data["n"]) * 2

        doubled = ctx.step.run("first", first)
        ctx.step.sleep("nap", datetime.timedelta(milliseconds=300))
        reply = ctx.step.wait_for_event(
            "reply",
            event="sdk/reply",
            if_exp="async.data.n == event.data.n",
            timeout=datetime.timedelta(seconds=20),
        )

        def second() -> str:
            executed["second"] += 1
            return "done"

        last = ctx.step.run("second", second)
        return {"doubled": doubled, "reply": reply.data if reply else None, "last": last}

    with serve_sdk_app(client, [flow]) as url:
        await dev_server.syncer.sync(url)
        assert "sdk-app-flow" in dev_server.registry.functions
        await send(dev_server, {"name": "sdk/start", "data": {"n": 21}})
        await wait_until(lambda: bool(dev_server.store.pauses_for_event("sdk/reply")), 10)
        await send(dev_server, {"name": "sdk/reply", "data": {"n": 21, "ok": True}})
        run = await finished_run_of(dev_server, "sdk-app-flow", timeout=20)
    assert run.status == RunStatus.COMPLETED
    assert run.output == {"doubled": 42, "reply": {"n": 21, "ok": True}, "last": "done"}
    assert executed == {"first": 1, "second": 1}
    kinds = [(s.display_name, s.kind) for s in dev_server.store.list_steps(run.run_id)]
    assert kinds == [
        ("first", "Run"),
        ("nap", "Sleep"),
        ("reply", "WaitForEvent"),
        ("second", "Run"),
    ]


async def test_sdk_step_retries_then_non_retriable_failure(dev_server: DevServer) -> None:
    client = _client(dev_server)
    attempts: list[int] = []

    @client.create_function(fn_id="flaky", trigger=inngest.TriggerEvent(event="sdk/flaky"))
    def flaky(ctx: inngest.ContextSync) -> str:
        def work() -> str:
            attempts.append(ctx.attempt)
            if len(attempts) < 3:
                raise ValueError("not yet")
            return "third time lucky"

        return ctx.step.run("work", work)

    @client.create_function(fn_id="doomed", trigger=inngest.TriggerEvent(event="sdk/doomed"))
    def doomed(ctx: inngest.ContextSync) -> None:
        def work() -> None:
            raise inngest.NonRetriableError("give up")

        ctx.step.run("work", work)

    with serve_sdk_app(client, [flaky, doomed]) as url:
        await dev_server.syncer.sync(url)
        await send(dev_server, [{"name": "sdk/flaky"}, {"name": "sdk/doomed"}])
        ok = await finished_run_of(dev_server, "sdk-app-flaky", timeout=20)
        bad = await finished_run_of(dev_server, "sdk-app-doomed", timeout=20)
    assert ok.status == RunStatus.COMPLETED
    assert ok.output == "third time lucky"
    assert attempts == [0, 1, 2]
    assert bad.status == RunStatus.FAILED
    assert "give up" in bad.error["message"]
    # The run keeps the SDK's error object as sent; the failed event has Inngest's shape.
    assert (bad.error["code"], bad.error["name"]) == ("non_retriable_error", "NonRetriableError")
    [failed] = dev_server.store.list_events(name="inngest/function.failed")
    error = failed.body["data"]["error"]
    assert sorted(error) == ["error", "message", "name", "stack"]
    assert error["error"] == "invalid status code: 500"
    assert (error["name"], error["message"]) == ("NonRetriableError", "give up")
    assert error["stack"] == bad.error["stack"]


async def test_signed_calls_are_accepted_by_the_sdk_in_cloud_mode(tmp_path: Path) -> None:
    key = "signkey-test-0123456789abcdef"
    # A shared dev server: SDK apps hold the signing key, senders the event key.
    async with running_dev_server(
        str(tmp_path / "db"), signing_key=key, event_key="test"
    ) as server:
        client = _client(server, is_production=True, signing_key=key)

        @client.create_function(fn_id="secure", trigger=inngest.TriggerEvent(event="sdk/secure"))
        def secure(ctx: inngest.ContextSync) -> str:
            return str(ctx.step.run("inner", lambda: "signed ok"))

        with serve_sdk_app(client, [secure]) as url:
            await server.syncer.sync(url)
            assert "sdk-app-secure" in server.registry.functions
            await send(server, {"name": "sdk/secure"})
            run = await finished_run_of(server, "sdk-app-secure", timeout=20)
    assert run.status == RunStatus.COMPLETED
    assert run.output == "signed ok"


async def test_sdk_function_with_two_triggers_and_a_race_group(dev_server: DevServer) -> None:
    """Race mode asks for a discovery after each completion: here "b" finishes only once the
    app has seen a discovery in which "a" is done (in wait mode it would never finish)."""
    client = _client(dev_server)
    discovered_a: dict[str, threading.Event] = collections.defaultdict(threading.Event)
    calls: list[str] = []

    @client.create_function(
        fn_id="raced",
        trigger=[inngest.TriggerEvent(event="sdk/a"), inngest.TriggerEvent(event="sdk/b")],
    )
    def raced(ctx: inngest.ContextSync) -> dict[str, Any]:
        released = discovered_a[ctx.run_id]

        def a() -> str:
            out = str(ctx.step.run("a", lambda: "a done"))
            if flask.request.args.get("stepId") == "step":
                released.set()  # a discovery that sees "a" finished
            return out

        def b() -> str:
            def work() -> str:
                assert released.wait(timeout=30), "no discovery after 'a' finished"
                return "b done"

            return str(ctx.step.run("b", work))

        results = ctx.group.parallel((a, b), parallel_mode=inngest.ParallelMode.RACE)
        return {"results": list(results), "event": ctx.event.name}

    with serve_sdk_app(client, [raced], calls) as url:
        await dev_server.syncer.sync(url)
        triggers = dev_server.registry.functions["sdk-app-raced"].config["triggers"]
        assert triggers == [{"event": "sdk/a"}, {"event": "sdk/b"}]
        await send(dev_server, [{"name": "sdk/a"}, {"name": "sdk/b"}, {"name": "sdk/c"}])
        await wait_until(lambda: dev_server.store.count_runs().get("Completed", 0) == 2, 30)
        runs = dev_server.store.list_runs(function_id="sdk-app-raced")
    assert sorted(run.output["event"] for run in runs) == ["sdk/a", "sdk/b"]
    assert all(run.output["results"] == ["a done", "b done"] for run in runs)
    for run in runs:
        steps = dev_server.store.list_steps(run.run_id)
        assert all(s.opts.get("parallelMode") == "race" for s in steps), steps
