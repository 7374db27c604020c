"""The executor against raw protocol apps: opcodes, retries, waits, parallelism, internal events."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from inngest_dsl.devserver.store.records import RunStatus
from inngest_dsl.wire import _signing

from .clocked import virtual_dev_server
from .conftest import (
    SDK_HEADERS,
    RawEnvironment,
    done_response,
    error_response,
    function_config,
    op,
    ops_response,
    raw_app,
    register,
    send,
)


async def test_step_then_completion_sends_full_call_bodies(env: RawEnvironment) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        if "s1" not in body["steps"]:
            return ops_response(op("StepRun", "s1", displayName="first", data={"n": 1}))
        return done_response({"got": body["steps"]["s1"]["data"]["n"] + 1})

    app = env.app(handler)
    env.register(app, function_config(app, "fn", event="app/go"))
    await env.send({"name": "app/go", "data": {"x": 1}})
    run = await env.finished_run("raw-fn")
    assert run.status == RunStatus.COMPLETED
    assert run.output == {"got": 2}
    assert len(app.calls) == 2
    first, second = app.calls[0][1], app.calls[1][1]
    assert first["event"]["name"] == "app/go"
    assert first["event"]["data"] == {"x": 1}
    assert first["events"] == [first["event"]]
    assert first["use_api"] is False
    assert first["version"] == -1
    assert second["version"] == 2
    ctx = first["ctx"]
    assert ctx["run_id"] == run.run_id
    assert ctx["attempt"] == 0
    assert ctx["max_attempts"] == 5
    assert ctx["disable_immediate_execution"] is False
    assert ctx["use_api"] is False
    assert ctx["step_id"] == "step"
    assert ctx["fn_id"]
    assert ctx["stack"] == {"stack": [], "current": 0}
    assert second["ctx"]["stack"] == {"stack": ["s1"], "current": 1}
    assert second["steps"] == {"s1": {"data": {"n": 1}}}
    steps = env.store.list_steps(run.run_id)
    assert [(s.step_id, s.display_name, s.kind, s.status) for s in steps] == [
        ("s1", "first", "Run", "Completed")
    ]


async def test_step_failing_twice_succeeds_on_third_attempt(env: RawEnvironment) -> None:
    executions: list[int] = []

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        if "flaky" in body["steps"]:
            return done_response(body["steps"]["flaky"])
        executions.append(body["ctx"]["attempt"])
        if len(executions) < 3:
            return ops_response(
                op("StepError", "flaky", error={"name": "ValueError", "message": "not yet"})
            )
        return ops_response(op("StepRun", "flaky", data="ok"))

    app = env.app(handler)
    env.register(app, function_config(app, "fn", event="app/go"))
    await env.send({"name": "app/go"})
    run = await env.finished_run("raw-fn")
    assert run.status == RunStatus.COMPLETED
    assert run.output == {"data": "ok"}
    assert executions == [0, 1, 2]
    step = env.store.get_step(run.run_id, "flaky")
    assert step is not None
    assert step.attempts == 3
    assert step.status == "Completed"


async def test_step_error_on_last_attempt_is_memoised_as_failure(env: RawEnvironment) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        if "bad" in body["steps"]:
            return done_response(body["steps"]["bad"])
        return ops_response(op("StepError", "bad", error={"name": "E", "message": "broken"}))

    app = env.app(handler)
    env.register(app, function_config(app, "fn", event="app/go", retries=1))
    await env.send({"name": "app/go"})
    run = await env.finished_run("raw-fn")
    assert run.status == RunStatus.COMPLETED
    assert run.output == {"error": {"name": "E", "message": "broken"}}
    assert [body["ctx"]["attempt"] for _, body in app.calls[:2]] == [0, 1]
    assert app.calls[0][1]["ctx"]["max_attempts"] == 2
    assert len(app.calls) == 3


async def test_no_retry_header_fails_the_run_at_once(env: RawEnvironment) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return error_response("fatal", headers={"X-Inngest-No-Retry": "true"})

    app = env.app(handler)
    env.register(app, function_config(app, "fn", event="app/go"))
    await env.send({"name": "app/go"})
    run = await env.finished_run("raw-fn")
    assert run.status == RunStatus.FAILED
    assert run.error == {"name": "Error", "message": "fatal"}
    assert len(app.calls) == 1
    failed = env.store.list_events(name="inngest/function.failed")
    assert [e.body["data"]["run_id"] for e in failed] == [run.run_id]
    assert failed[0].id == run.run_id


@pytest.mark.parametrize(
    ("sent", "event_error"),
    [
        (
            {"code": "unknown", "message": "boom", "name": "ValueError", "stack": None},
            {"error": "invalid status code: 500", "name": "ValueError", "message": "boom"},
        ),
        (
            {"message": "boom", "name": "ValueError", "stack": "Traceback ...", "extra": [1]},
            {
                "error": "invalid status code: 500",
                "name": "ValueError",
                "message": "boom",
                "stack": "Traceback ...",
            },
        ),
        (  # an SDK's own `error` string is kept, as Inngest does
            {"error": "fn failed", "message": "boom", "name": "E"},
            {"error": "fn failed", "name": "E", "message": "boom"},
        ),
    ],
)
async def test_a_failed_run_keeps_the_sdk_error_and_emits_inngests_shape(
    env: RawEnvironment, sent: dict[str, Any], event_error: dict[str, Any]
) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return web.json_response(
            sent, status=500, headers={**SDK_HEADERS, "X-Inngest-No-Retry": "true"}
        )

    app = env.app(handler)
    env.register(app, function_config(app, "fn", event="app/go"))
    await env.send({"name": "app/go"})
    run = await env.finished_run("raw-fn")
    assert run.status == RunStatus.FAILED
    assert run.error == sent  # as the SDK sent it: `"stack": null` and all
    [failed] = env.store.list_events(name="inngest/function.failed")
    [finished] = env.store.list_events(name="inngest/function.finished")
    assert failed.body["data"]["error"] == event_error  # no `code`
    assert finished.body["data"]["error"] == event_error


async def test_a_run_failed_without_a_call_error_says_so_in_the_event(
    env: RawEnvironment,
) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return ops_response(op("WaitForEvent", "w", opts={"event": "app/x", "timeout": "nope"}))

    app = env.app(handler)
    env.register(app, function_config(app, "fn", event="app/go"))
    await env.send({"name": "app/go"})
    run = await env.finished_run("raw-fn")
    assert run.status == RunStatus.FAILED
    [failed] = env.store.list_events(name="inngest/function.failed")
    error = failed.body["data"]["error"]
    assert set(error) == {"error", "name", "message"}
    assert error["error"] == error["message"] == run.error["message"]


async def test_server_errors_are_retried_until_attempts_run_out(env: RawEnvironment) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return error_response("boom", status=500)

    app = env.app(handler)
    env.register(app, function_config(app, "fn", event="app/go", retries=2))
    await env.send({"name": "app/go"})
    run = await env.finished_run("raw-fn")
    assert run.status == RunStatus.FAILED
    assert [body["ctx"]["attempt"] for _, body in app.calls] == [0, 1, 2]


async def test_response_without_sdk_header_is_an_error(env: RawEnvironment) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return web.json_response("hello")

    app = env.app(handler)
    env.register(app, function_config(app, "fn", event="app/go", retries=0))
    await env.send({"name": "app/go"})
    run = await env.finished_run("raw-fn")
    assert run.status == RunStatus.FAILED
    assert "X-Inngest-SDK" in run.error["message"]


async def test_sleep_memoises_null_after_the_duration(env: RawEnvironment) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        if "nap" not in body["steps"]:
            return ops_response(op("Sleep", "nap", opts={"duration": "200ms"}))
        return done_response(body["steps"])

    app = env.app(handler)
    env.register(app, function_config(app, "fn", event="app/go"))
    await env.send({"name": "app/go"})
    assert len(app.calls) == 1
    assert env.count(RunStatus.RUNNING) == 1  # asleep
    await env.advance(0.199)
    assert len(app.calls) == 1  # not a moment early
    run = await env.finished_run("raw-fn")
    assert run.output == {"nap": None}
    assert run.ended_at is not None
    assert run.started_at is not None
    assert run.ended_at - run.started_at >= 0.2


async def test_sleep_until_an_instant_given_in_name(env: RawEnvironment) -> None:
    wake = env.env.now + datetime.timedelta(milliseconds=300)
    stamp = wake.strftime("%Y-%m-%dT%H:%M:%S.") + f"{wake.microsecond // 1000:03d}Z"

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        if "nap" not in body["steps"]:
            return ops_response(op("Sleep", "nap", name=stamp))
        return done_response(None)

    app = env.app(handler)
    env.register(app, function_config(app, "fn", event="app/go"))
    await env.send({"name": "app/go"})
    run = await env.finished_run("raw-fn")
    assert run.status == RunStatus.COMPLETED
    assert run.ended_at is not None
    assert run.ended_at >= wake.timestamp() - 0.001
    assert run.ended_at == pytest.approx(wake.timestamp())  # at that instant, not later


def _wait_handler(timeout: str, expression: str | None = None) -> Any:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        if "w" not in body["steps"]:
            opts = {"event": "app/reply", "timeout": timeout}
            if expression:
                opts["if"] = expression
            return ops_response(op("WaitForEvent", "w", name="app/reply", opts=opts))
        return done_response({"memo": body["steps"]["w"]})

    return handler


async def test_wait_times_out_to_null(env: RawEnvironment) -> None:
    app = env.app(_wait_handler("200ms"))
    env.register(app, function_config(app, "fn", event="app/go"))
    await env.send({"name": "app/go"})
    run = await env.finished_run("raw-fn")
    assert run.output == {"memo": None}
    assert run.ended_at is not None
    assert run.started_at is not None
    assert run.ended_at - run.started_at == pytest.approx(0.2)


async def test_wait_is_satisfied_only_by_events_after_it_is_armed(env: RawEnvironment) -> None:
    app = env.app(_wait_handler("5s", "async.data.id == event.data.id"))
    env.register(app, function_config(app, "fn", event="app/go"))
    # Sent before the run exists, so before the wait is armed: must not count.
    await env.send({"name": "app/reply", "data": {"id": 7, "early": True}})
    await env.send({"name": "app/go", "data": {"id": 7}})
    assert env.store.pauses_for_event("app/reply")
    await env.send({"name": "app/reply", "data": {"id": 8}})  # expression false
    await env.send({"name": "app/reply", "data": {"id": 7, "late": True}})
    run = await env.finished_run("raw-fn")
    memo = run.output["memo"]
    assert memo["name"] == "app/reply"
    assert memo["data"] == {"id": 7, "late": True}
    assert memo["user"] == {}
    assert isinstance(memo["ts"], int)


@pytest.mark.parametrize(
    "shape",
    [
        # Today's shape (and the conformance suite's): the step id in `name`, the event in opts.
        {"name": "w", "opts": {"event": "app/reply", "if": None, "timeout": "5s"}},
        # The official Python SDK's: the event name in `name`, no `opts.event`.
        {"name": "app/reply", "opts": {"if": None, "timeout": "5s"}},
    ],
    ids=["event-in-opts", "event-in-name"],
)
async def test_a_wait_reads_its_event_from_opts_or_else_from_name(
    env: RawEnvironment, shape: dict[str, Any]
) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        if "w" not in body["steps"]:
            return ops_response(op("WaitForEvent", "w", displayName="w", data=None, **shape))
        return done_response({"memo": body["steps"]["w"]})

    app = env.app(handler)
    env.register(app, function_config(app, "fn", event="app/go"))
    await env.send({"name": "app/go"})
    assert env.store.pauses_for_event("app/reply")
    await env.send({"name": "app/reply", "data": {"tag": "t"}})
    run = await env.finished_run("raw-fn")
    assert run.output["memo"]["data"] == {"tag": "t"}


async def test_parallel_planned_steps_fan_in_before_rediscovery(env: RawEnvironment) -> None:
    slow = env.hold()

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        steps = body["steps"]
        if step_id == "step":
            if not steps:
                return ops_response(op("StepPlanned", "a"), op("StepPlanned", "b"))
            return done_response(sorted(steps))
        if step_id == "a":
            await slow.wait()  # b finishes first; discovery must still wait for a
        return ops_response(op("StepRun", step_id, data=step_id.upper()))

    app = env.app(handler)
    env.register(app, function_config(app, "fn", event="app/go"))
    await env.send({"name": "app/go"})
    assert sorted(step_id for step_id, _ in app.calls) == ["a", "b", "step"]
    assert env.store.get_step(env.store.list_runs()[0].run_id, "b") is not None
    slow.release()
    run = await env.finished_run("raw-fn")
    assert run.output == ["a", "b"]
    step_ids = [step_id for step_id, _ in app.calls]
    assert step_ids[0] == "step"
    assert sorted(step_ids[1:3]) == ["a", "b"]
    assert step_ids[3:] == ["step"]
    targeted = [body for step_id, body in app.calls if step_id in ("a", "b")]
    assert all(body["ctx"]["disable_immediate_execution"] for body in targeted)
    assert app.calls[3][1]["ctx"]["stack"]["stack"] == ["b", "a"]
    assert app.calls[3][1]["ctx"]["disable_immediate_execution"] is False


async def test_event_id_dedup_starts_one_run_per_function(env: RawEnvironment) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return done_response(body["event"]["data"])

    app = env.app(handler)
    env.register(app, function_config(app, "fn", event="app/go"))
    first = await env.send({"name": "app/go", "id": "same", "data": {"n": 1}})
    second = await env.send({"name": "app/go", "id": "same", "data": {"n": 2}})
    await env.send({"name": "app/go", "id": "other", "data": {"n": 3}})
    assert len(env.store.list_runs(RunStatus.COMPLETED)) == 2
    assert first != second
    runs = env.store.list_runs()
    assert sorted(r.output["n"] for r in runs) == [1, 3]


async def test_trigger_wildcards_and_expressions(env: RawEnvironment) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return done_response(body["event"]["name"])

    app = env.app(handler)
    env.register(
        app,
        function_config(app, "wild", event="shop/*"),
        function_config(app, "big", event="shop/order", expression="event.data.total > 100"),
    )
    await env.send([{"name": "shop/order", "data": {"total": 5}}])
    await env.send([{"name": "shop/order", "data": {"total": 500}}])
    await env.send([{"name": "other/order", "data": {"total": 500}}])
    assert len(env.store.list_runs(RunStatus.COMPLETED)) == 3
    by_function: dict[str, int] = {}
    for run in env.store.list_runs():
        by_function[run.function_id] = by_function.get(run.function_id, 0) + 1
    assert by_function == {"raw-wild": 2, "raw-big": 1}


async def test_finished_event_triggers_another_function(env: RawEnvironment) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        event = body["event"]
        if event["name"] == "inngest/function.finished":
            return done_response({"saw": event["data"]["result"]})
        return done_response("first result")

    app = env.app(handler)
    env.register(
        app,
        function_config(app, "first", event="app/go"),
        function_config(
            app,
            "after",
            event="inngest/function.finished",
            expression="event.data.function_id == 'raw-first'",
        ),
    )
    await env.send({"name": "app/go"})
    run = await env.finished_run("raw-after")
    assert run.output == {"saw": "first result"}


async def test_invoke_returns_the_invoked_functions_result(env: RawEnvironment) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        event = body["event"]
        if event["name"] == "inngest/function.invoked":
            return done_response(event["data"]["x"] * 10)
        if "inv" not in body["steps"]:
            opts = {"function_id": "raw-child", "payload": {"data": {"x": 4}}, "timeout": "10s"}
            return ops_response(op("InvokeFunction", "inv", opts=opts))
        return done_response(body["steps"]["inv"])

    app = env.app(handler)
    env.register(
        app,
        function_config(app, "parent", event="app/go"),
        function_config(app, "child", event="app/never"),
    )
    await env.send({"name": "app/go"})
    run = await env.finished_run("raw-parent")
    assert run.output == {"data": 40}
    child = env.store.list_runs(function_id="raw-child")[0]
    assert child.correlation_id == f"{run.run_id}.inv"


async def test_cancel_on_event_cancels_the_run(env: RawEnvironment) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return ops_response(op("Sleep", "nap", opts={"duration": "1h"}))

    app = env.app(handler)
    cancel = [{"event": "app/stop", "if": "async.data.id == event.data.id"}]
    env.register(app, function_config(app, "fn", event="app/go", cancel=cancel))
    await env.send({"name": "app/go", "data": {"id": 1}})
    assert len(app.calls) == 1
    await env.send({"name": "app/stop", "data": {"id": 2}})
    assert env.store.list_runs()[0].status == RunStatus.RUNNING
    await env.send({"name": "app/stop", "data": {"id": 1}})
    run = await env.finished_run("raw-fn")
    assert run.status == RunStatus.CANCELLED
    assert env.store.queue_for_run(run.run_id) == []


async def test_cron_function_fires_with_an_injected_schedule(tmp_path: Path) -> None:
    def soon(expr: str, after: datetime.datetime) -> datetime.datetime:
        return after + datetime.timedelta(milliseconds=100)

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return done_response(body["event"])

    async with (
        virtual_dev_server(tmp_path / "db", next_fire=soon) as clocked,
        raw_app(handler) as app,
    ):
        await register(clocked.server, app, function_config(app, "tick", cron="* * * * *"))
        run = await clocked.finished_run("raw-tick")
    event = run.output
    assert event["name"] == "inngest/scheduled.timer"
    assert event["data"]["cron"] == "* * * * *"
    assert event["id"] == event["data"]["scheduledAt"]


async def test_calls_are_signed_over_the_exact_bytes_sent(tmp_path: Path) -> None:
    key = "signkey-test-12345678"

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return done_response("ok")

    async with (
        virtual_dev_server(tmp_path / "db", signing_key=key) as clocked,
        raw_app(handler) as app,
    ):
        server = clocked.server
        bearer = {"Authorization": _signing.bearer_token(key)}
        await register(server, app, function_config(app, "fn", event="app/go"), headers=bearer)
        await send(server, {"name": "app/go", "data": {"é": [1.5, "x"], "b": 1}}, headers=bearer)
        await clocked.finished_run("raw-fn")
    signature = app.headers[0]["X-Inngest-Signature"]
    sent = app.raw_bodies[0]
    assert _signing.canonicalize_body(sent) == sent  # JCS canonical as sent
    assert _signing.verify(signature, sent, [key]) == key
    assert _signing.verify(signature, sent.replace(b"1.5", b"1.50"), [key]) is None
    assert _signing.verify(signature, sent.replace(b'"b":1', b'"b":2'), [key]) is None


async def test_retry_after_header_sets_the_retry_time(env: RawEnvironment) -> None:
    arrivals: list[float] = []

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        arrivals.append(env.now())
        if len(arrivals) == 1:
            return error_response("busy", status=503, headers={"Retry-After": "1"})
        return done_response("ok")

    app = env.app(handler)
    env.register(app, function_config(app, "fn", event="app/go"))
    await env.send({"name": "app/go"})
    run = await env.finished_run("raw-fn")
    assert run.status == RunStatus.COMPLETED
    assert arrivals[1] - arrivals[0] >= 0.95  # not the 0.05 s --retry-interval
    assert arrivals[1] - arrivals[0] == pytest.approx(1.0)


async def test_sleeps_wake_on_time_while_every_call_slot_is_busy() -> None:
    """Calls waiting for a free slot must not hold up timers."""
    async with virtual_dev_server(concurrency=1) as clocked:
        server = clocked.server
        release = clocked.hold()

        async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
            if body["event"]["name"] == "app/hang":
                await release.wait()
                return done_response("released")
            if "nap" not in body["steps"]:
                return ops_response(op("Sleep", "nap", opts={"duration": "200ms"}))
            return done_response("woke")

        async with raw_app(handler) as app:
            await register(
                server,
                app,
                function_config(app, "napper", event="app/nap"),
                function_config(app, "hanger", event="app/hang"),
            )
            await send(server, {"name": "app/nap"})
            await clocked.settle()
            assert len(app.calls) == 1
            # One call holds the only slot; the second waits for it.
            await send(server, [{"name": "app/hang"}, {"name": "app/hang"}])
            await clocked.settle()
            assert len(app.calls) == 2
            (nap_run,) = [r for r in server.store.list_runs(None, 10, "raw-napper")]
            await clocked.advance(0.5)
            steps = server.store.list_steps(nap_run.run_id)
            release.release()
            assert [(s.kind, s.status) for s in steps] == [("Sleep", "Completed")], steps
            run = await clocked.finished_run("raw-napper")
            assert run.output == "woke"
