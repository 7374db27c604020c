"""Flow control edge cases: limits that refuse a start spend nothing, bad values stay local."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from inngest_dsl.devserver import DevServer
from inngest_dsl.devserver.core.flow import parse_flow
from inngest_dsl.devserver.core.flow_keys import shape_run
from inngest_dsl.devserver.store import Store
from inngest_dsl.devserver.store.records import RunRecord, RunStatus

from .clocked import ClockedServer
from .conftest import (
    APP_ID,
    RawEnvironment,
    call_json,
    done_response,
    function_config,
    op,
    ops_response,
    raw_app,
    register,
    send,
)


async def _echo(step_id: str, body: dict[str, Any]) -> web.Response:
    return done_response(body["event"]["data"])


def _register_once(env: RawEnvironment, *, rate_limit: int) -> None:
    """`raw-once` on `o/go`: one run per `data.k`, at most `rate_limit` starts a minute."""
    app = env.app(_echo)
    env.register(
        app,
        function_config(
            app,
            "once",
            event="o/go",
            idempotency="event.data.k",
            rateLimit={"limit": rate_limit, "period": "1m"},
        ),
    )


def _runs(store: Store, status: str) -> list[RunRecord]:
    return store.list_runs(status)


async def test_an_event_skipped_by_the_rate_limit_keeps_its_idempotency_key(
    env: RawEnvironment,
) -> None:
    _register_once(env, rate_limit=1)
    store = env.store
    await env.send({"name": "o/go", "data": {"k": "A"}})
    assert len(_runs(store, RunStatus.COMPLETED)) == 1
    await env.send({"name": "o/go", "data": {"k": "B"}})  # over the rate limit
    await env.advance(120)
    await env.send({"name": "o/go", "data": {"k": "B"}})  # B never ran: it runs now
    assert len(_runs(store, RunStatus.COMPLETED)) == 2
    await env.advance(120)
    await env.send({"name": "o/go", "data": {"k": "B"}})  # now B is a duplicate
    assert len(_runs(store, RunStatus.SKIPPED)) == 2
    completed = _runs(store, RunStatus.COMPLETED)
    reasons = sorted(run.reason or "" for run in _runs(store, RunStatus.SKIPPED))
    assert sorted(run.output["k"] for run in completed) == ["A", "B"]
    assert reasons[0] == "idempotency: duplicate of an earlier event with idempotency key 'B'"
    assert reasons[1].startswith("rate limit: over 1 per 1m")


async def test_a_duplicate_does_not_use_up_a_rate_limit_token(env: RawEnvironment) -> None:
    _register_once(env, rate_limit=2)
    for key in ("A", "A", "A", "B"):  # two duplicates of A between the two starts
        await env.send({"name": "o/go", "data": {"k": key}})
    assert len(_runs(env.store, RunStatus.COMPLETED)) == 2
    skipped = _runs(env.store, RunStatus.SKIPPED)
    assert [run.reason for run in skipped] == [
        "idempotency: duplicate of an earlier event with idempotency key 'A'"
    ] * 2


async def _post_events(server: DevServer, body: bytes) -> tuple[int, dict[str, Any]]:
    json_type = {"Content-Type": "application/json"}
    return await call_json("POST", f"{server.url}/e/test", body, headers=json_type)


async def test_a_non_finite_priority_runs_at_priority_zero_and_refuses_nothing(
    clocked: ClockedServer,
) -> None:
    server = clocked.server
    async with raw_app(_echo) as app:
        await register(
            server,
            app,
            # p = 10 gives +inf, p = -10 gives -inf, p = 1 gives 1e308 (clamped).
            function_config(app, "prio", event="p/go", priority={"run": "event.data.p * 1e308"}),
            function_config(app, "plain", event="p/go"),
        )
        bodies = [
            b'[{"name": "p/go", "data": {"p": 10.0, "n": 1}}]',
            b'[{"name": "p/go", "data": {"p": -10.0, "n": 2}}, {"name": "p/go", "data": {"n": 3}}]',
            b'{"name": "p/go", "data": {"p": 1.0, "n": 4}}',
        ]
        # Concurrent requests share one commit: one bad value must not refuse the others.
        replies = await asyncio.gather(*(_post_events(server, body) for body in bodies))
        await clocked.settle()
        assert len(_runs(clocked.store, RunStatus.COMPLETED)) == 8
    assert [status for status, _ in replies] == [200, 200, 200]
    runs = clocked.store.list_runs()
    prio = [run for run in runs if run.function_id == f"{APP_ID}-prio"]
    assert sorted((run.output["n"], run.priority) for run in prio) == [
        (1, 0),
        (2, 0),
        (3, 0),
        (4, 600),
    ]
    plain = [run.output["n"] for run in runs if run.function_id == f"{APP_ID}-plain"]
    assert sorted(plain) == [1, 2, 3, 4]


def test_a_nan_priority_is_zero_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    flow = parse_flow({"priority": {"run": "event.data.p * 1e308 * 0.0"}})  # inf * 0 is NaN
    with caplog.at_level(logging.WARNING, logger="inngest_dsl.devserver"):
        shape = shape_run("fn", flow, {"name": "x", "data": {"p": 10.0}})
    assert shape.priority == 0
    assert "priority of fn: nan is not a number of seconds" in caplog.text


async def test_a_failure_in_flow_control_skips_only_that_functions_run(
    env: RawEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inngest_dsl.devserver.core import admission

    real_shape_run = admission.shape_run

    def shape_run(function_id: str, flow: Any, event: Any) -> Any:
        if function_id == f"{APP_ID}-broken":
            raise RuntimeError("the key store is on fire")
        return real_shape_run(function_id, flow, event)

    monkeypatch.setattr(admission, "shape_run", shape_run)
    app = env.app(_echo)
    env.register(
        app,
        function_config(app, "broken", event="f/go", concurrency=1),
        function_config(app, "fine", event="f/go", concurrency=1),
    )
    ids = await env.send([{"name": "f/go", "data": {"n": n}} for n in range(2)])
    store = env.store
    assert len(_runs(store, RunStatus.COMPLETED)) == 2
    assert len(ids) == 2
    assert len(store.list_events(name="f/go")) == 2
    skipped = _runs(store, RunStatus.SKIPPED)
    assert {run.function_id for run in skipped} == {f"{APP_ID}-broken"}
    assert len(skipped) == 2
    assert all(
        run.reason == "flow control failed: RuntimeError: the key store is on fire"
        for run in skipped
    )
    completed = _runs(store, RunStatus.COMPLETED)
    assert {run.function_id for run in completed} == {f"{APP_ID}-fine"}


async def _health(server: DevServer) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{server.url}/health") as response,
    ):
        body: dict[str, Any] = await response.json()
        return body


async def _cancel(server: DevServer, run_id: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.url}/v1/runs/{run_id}/cancel") as response,
    ):
        assert response.status == 200, await response.text()


async def test_parked_calls_of_cancelled_runs_are_dropped_at_once(clocked: ClockedServer) -> None:
    server = clocked.server
    release = clocked.hold()

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        if body["event"]["data"]["n"] == 0:
            await release.wait()
        return done_response(body["event"]["data"]["n"])

    async with raw_app(handler) as app:
        await register(
            server,
            app,
            function_config(app, "one", event="g/one", concurrency=1),
            function_config(app, "paced", event="g/paced", throttle={"limit": 1, "period": "1h"}),
        )
        await send(server, [{"name": "g/one", "data": {"n": n}} for n in range(3)])
        # Limit 1 plus the default burst of 1: two start, the third waits an hour.
        await send(server, [{"name": "g/paced", "data": {"n": n}} for n in (6, 7, 8)])
        await clocked.settle()
        assert server.executor.gates.parked == 3
        waiting = _runs(clocked.store, RunStatus.QUEUED)
        assert len(waiting) == 3
        for run in waiting:
            await _cancel(server, run.run_id)
        parked_after_cancel = (await _health(server))["parked"]
        release.release()
        await clocked.settle()
        assert len(_runs(clocked.store, RunStatus.COMPLETED)) == 3
        final = await _health(server)
    assert parked_after_cancel == 0
    assert final["parked"] == 0
    assert sorted(run.output for run in _runs(clocked.store, RunStatus.COMPLETED)) == [0, 6, 7]
    assert len(app.calls) == 3  # the cancelled runs were never called


async def test_calls_of_runs_without_gates_start_without_an_admission_read(
    env: RawEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    readers: list[str] = []
    real_get_run = env.store.get_run

    def get_run(run_id: str) -> RunRecord | None:
        readers.append(sys._getframe(1).f_code.co_name)
        return real_get_run(run_id)

    monkeypatch.setattr(env.store, "get_run", get_run)

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        if step_id == "step" and not body["steps"]:
            return ops_response(op("StepRun", "a", data=1))
        return done_response(body["event"]["name"])

    app = env.app(handler)
    env.register(
        app,
        function_config(app, "free", event="x/free"),
        function_config(app, "gated", event="x/gated", concurrency=5),
    )
    await env.send([{"name": "x/free"}] * 3)
    assert len(_runs(env.store, RunStatus.COMPLETED)) == 3
    free_reads = readers.count("_admit")
    await env.send([{"name": "x/gated"}])
    assert len(_runs(env.store, RunStatus.COMPLETED)) == 4
    gated_reads = readers.count("_admit")
    assert len(app.calls) == 8  # two calls a run: the step, then completion
    assert free_reads == 0
    assert gated_reads == 2  # the gated run's two calls are admitted after reading it


async def test_a_failure_when_a_debounce_fires_skips_its_run(
    env: RawEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inngest_dsl.devserver.core import admission

    def shape_run(function_id: str, flow: Any, event: Any) -> Any:
        raise RuntimeError("no shape today")

    monkeypatch.setattr(admission, "shape_run", shape_run)
    app = env.app(_echo)
    config = function_config(app, "db", event="d/go", debounce={"period": "1s"})
    env.register(app, config)
    await env.send({"name": "d/go", "data": {"n": 1}})
    await env.advance(1.0)
    (skipped,) = _runs(env.store, RunStatus.SKIPPED)
    debounces_left = env.store._one("SELECT COUNT(*) FROM debounces")[0]
    queue_left = len(env.store.queue_items())
    assert skipped.reason == "flow control failed: RuntimeError: no shape today"
    assert skipped.events[0]["data"] == {"n": 1}
    assert (debounces_left, queue_left) == (0, 0)
    assert app.calls == []
