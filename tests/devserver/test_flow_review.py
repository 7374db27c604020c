"""Flow control edge cases: limits that refuse a start spend nothing, bad values stay local."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from inngest_dsl.devserver import DevServer
from inngest_dsl.devserver.core.flow import parse_flow
from inngest_dsl.devserver.core.flow_keys import shape_run
from inngest_dsl.devserver.store.records import RunRecord, RunStatus

from .clocked import clocked_dev_server
from .conftest import (
    APP_ID,
    done_response,
    function_config,
    op,
    ops_response,
    raw_app,
    register,
    send,
    wait_until,
)


async def _echo(step_id: str, body: dict[str, Any]) -> web.Response:
    return done_response(body["event"]["data"])


def _runs(server: DevServer, status: str) -> list[RunRecord]:
    return server.store.list_runs(status)


async def test_an_event_skipped_by_the_rate_limit_keeps_its_idempotency_key(
    tmp_path: Path,
) -> None:
    async with clocked_dev_server(tmp_path) as (server, clock), raw_app(_echo) as app:
        config = function_config(
            app,
            "once",
            event="o/go",
            idempotency="event.data.k",
            rateLimit={"limit": 1, "period": "1m"},
        )
        await register(server, app, config)
        await send(server, {"name": "o/go", "data": {"k": "A"}})
        await wait_until(lambda: len(_runs(server, RunStatus.COMPLETED)) == 1)
        await send(server, {"name": "o/go", "data": {"k": "B"}})  # over the rate limit
        clock.advance(120)
        await send(server, {"name": "o/go", "data": {"k": "B"}})  # B never ran: it runs now
        await wait_until(lambda: len(_runs(server, RunStatus.COMPLETED)) == 2)
        clock.advance(120)
        await send(server, {"name": "o/go", "data": {"k": "B"}})  # now B is a duplicate
        await wait_until(lambda: len(_runs(server, RunStatus.SKIPPED)) == 2)
        completed = _runs(server, RunStatus.COMPLETED)
        reasons = sorted(run.reason or "" for run in _runs(server, RunStatus.SKIPPED))
    assert sorted(run.output["k"] for run in completed) == ["A", "B"]
    assert reasons[0] == "idempotency: duplicate of an earlier event with idempotency key 'B'"
    assert reasons[1].startswith("rate limit: over 1 per 1m")


async def test_a_duplicate_does_not_use_up_a_rate_limit_token(tmp_path: Path) -> None:
    async with clocked_dev_server(tmp_path) as (server, _clock), raw_app(_echo) as app:
        config = function_config(
            app,
            "once",
            event="o/go",
            idempotency="event.data.k",
            rateLimit={"limit": 2, "period": "1m"},
        )
        await register(server, app, config)
        for key in ("A", "A", "A", "B"):  # two duplicates of A between the two starts
            await send(server, {"name": "o/go", "data": {"k": key}})
        await wait_until(lambda: len(_runs(server, RunStatus.COMPLETED)) == 2)
        skipped = _runs(server, RunStatus.SKIPPED)
    assert [run.reason for run in skipped] == [
        "idempotency: duplicate of an earlier event with idempotency key 'A'"
    ] * 2


async def _post_events(server: DevServer, body: bytes) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{server.url}/e/test", data=body, headers={"Content-Type": "application/json"}
        ) as response,
    ):
        return response.status, await response.json()


async def test_a_non_finite_priority_runs_at_priority_zero_and_refuses_nothing(
    dev_server: DevServer,
) -> None:
    async with raw_app(_echo) as app:
        await register(
            dev_server,
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
        replies = await asyncio.gather(*(_post_events(dev_server, body) for body in bodies))
        await wait_until(lambda: len(_runs(dev_server, RunStatus.COMPLETED)) == 8)
    assert [status for status, _ in replies] == [200, 200, 200]
    runs = dev_server.store.list_runs()
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
    dev_server: DevServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inngest_dsl.devserver.core import admission

    real_shape_run = admission.shape_run

    def shape_run(function_id: str, flow: Any, event: Any) -> Any:
        if function_id == f"{APP_ID}-broken":
            raise RuntimeError("the key store is on fire")
        return real_shape_run(function_id, flow, event)

    monkeypatch.setattr(admission, "shape_run", shape_run)
    async with raw_app(_echo) as app:
        await register(
            dev_server,
            app,
            function_config(app, "broken", event="f/go", concurrency=1),
            function_config(app, "fine", event="f/go", concurrency=1),
        )
        reply = await send(dev_server, [{"name": "f/go", "data": {"n": n}} for n in range(2)])
        await wait_until(lambda: len(_runs(dev_server, RunStatus.COMPLETED)) == 2)
    assert len(reply["ids"]) == 2
    assert len(dev_server.store.list_events(name="f/go")) == 2
    skipped = _runs(dev_server, RunStatus.SKIPPED)
    assert {run.function_id for run in skipped} == {f"{APP_ID}-broken"}
    assert len(skipped) == 2
    assert all(
        run.reason == "flow control failed: RuntimeError: the key store is on fire"
        for run in skipped
    )
    completed = _runs(dev_server, RunStatus.COMPLETED)
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


async def test_parked_calls_of_cancelled_runs_are_dropped_at_once(dev_server: DevServer) -> None:
    release = asyncio.Event()

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        if body["event"]["data"]["n"] == 0:
            await release.wait()
        return done_response(body["event"]["data"]["n"])

    async with raw_app(handler) as app:
        await register(
            dev_server,
            app,
            function_config(app, "one", event="g/one", concurrency=1),
            function_config(
                app, "paced", event="g/paced", throttle={"limit": 1, "period": "1h"}
            ),
        )
        await send(dev_server, [{"name": "g/one", "data": {"n": n}} for n in range(3)])
        # Limit 1 plus the default burst of 1: two start, the third waits an hour.
        await send(dev_server, [{"name": "g/paced", "data": {"n": n}} for n in (6, 7, 8)])
        await wait_until(lambda: dev_server.executor.gates.parked == 3)
        waiting = _runs(dev_server, RunStatus.QUEUED)
        assert len(waiting) == 3
        for run in waiting:
            await _cancel(dev_server, run.run_id)
        parked_after_cancel = (await _health(dev_server))["parked"]
        release.set()
        await wait_until(lambda: len(_runs(dev_server, RunStatus.COMPLETED)) == 3)
        final = await _health(dev_server)
    assert parked_after_cancel == 0
    assert final["parked"] == 0
    assert sorted(run.output for run in _runs(dev_server, RunStatus.COMPLETED)) == [0, 6, 7]
    assert len(app.calls) == 3  # the cancelled runs were never called


async def test_calls_of_runs_without_gates_start_without_an_admission_read(
    dev_server: DevServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    readers: list[str] = []
    real_get_run = dev_server.store.get_run

    def get_run(run_id: str) -> RunRecord | None:
        readers.append(sys._getframe(1).f_code.co_name)
        return real_get_run(run_id)

    monkeypatch.setattr(dev_server.store, "get_run", get_run)

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        if step_id == "step" and not body["steps"]:
            return ops_response(op("StepRun", "a", data=1))
        return done_response(body["event"]["name"])

    async with raw_app(handler) as app:
        await register(
            dev_server,
            app,
            function_config(app, "free", event="x/free"),
            function_config(app, "gated", event="x/gated", concurrency=5),
        )
        await send(dev_server, [{"name": "x/free"}] * 3)
        await wait_until(lambda: len(_runs(dev_server, RunStatus.COMPLETED)) == 3)
        free_reads = readers.count("_admit")
        await send(dev_server, [{"name": "x/gated"}])
        await wait_until(lambda: len(_runs(dev_server, RunStatus.COMPLETED)) == 4)
        gated_reads = readers.count("_admit")
    assert len(app.calls) == 8  # two calls a run: the step, then completion
    assert free_reads == 0
    assert gated_reads == 2  # the gated run's two calls are admitted after reading it


async def test_a_failure_when_a_debounce_fires_skips_its_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inngest_dsl.devserver.core import admission

    def shape_run(function_id: str, flow: Any, event: Any) -> Any:
        raise RuntimeError("no shape today")

    monkeypatch.setattr(admission, "shape_run", shape_run)
    async with clocked_dev_server(tmp_path) as (server, clock), raw_app(_echo) as app:
        config = function_config(app, "db", event="d/go", debounce={"period": "1s"})
        await register(server, app, config)
        await send(server, {"name": "d/go", "data": {"n": 1}})
        clock.advance(1.0)
        await wait_until(lambda: len(_runs(server, RunStatus.SKIPPED)) == 1)
        (skipped,) = _runs(server, RunStatus.SKIPPED)
        debounces_left = server.store._one("SELECT COUNT(*) FROM debounces")[0]
        queue_left = len(server.store.queue_items())
    assert skipped.reason == "flow control failed: RuntimeError: no shape today"
    assert skipped.events[0]["data"] == {"n": 1}
    assert (debounces_left, queue_left) == (0, 0)
    assert app.calls == []
