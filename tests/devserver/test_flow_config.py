"""Flow control options: validated at sync with errors naming the field; the GCRA bucket."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from inngest_dsl.devserver.core.flow import NO_FLOW, FlowConfigError, parse_flow
from inngest_dsl.devserver.core.limiter import gcra
from inngest_dsl.devserver.store import Store
from inngest_dsl.devserver.store.records import RunStatus

from .clocked import ClockedServer
from .conftest import (
    RawEnvironment,
    done_response,
    function_config,
    raw_app,
    register,
    send,
    try_register,
)
from .test_ui import get, text_of


def test_parse_flow_reads_every_option_with_durations_in_seconds() -> None:
    flow = parse_flow(
        {
            "concurrency": [{"limit": 2, "key": "event.data.user"}, {"limit": 0}],
            "throttle": {"limit": 5, "period": "10s", "burst": 2},
            "rateLimit": {"limit": 1, "period": "1m", "key": "event.data.id"},
            "idempotency": "event.data.id",
            "debounce": {"period": "1s", "timeout": "2500ms"},
            "priority": {"run": "event.data.p"},
            "timeouts": {"start": "1m", "finish": "1h"},
            "singleton": {"mode": "cancel"},
        }
    )
    assert [(c.limit, c.key, c.scope) for c in flow.concurrency] == [(2, "event.data.user", "fn")]
    assert flow.throttle is not None
    assert (flow.throttle.limit, flow.throttle.period, flow.throttle.burst) == (5, 10.0, 2)
    assert flow.rate_limit is not None
    assert flow.rate_limit.period == 60.0
    assert flow.debounce is not None
    assert (flow.debounce.period, flow.debounce.timeout) == (1.0, 2.5)
    assert (flow.start_timeout, flow.finish_timeout) == (60.0, 3600.0)
    assert flow.singleton is not None
    assert (flow.singleton.mode, flow.singleton.key) == ("cancel", None)
    assert parse_flow({"concurrency": 3}).concurrency[0].limit == 3
    assert parse_flow({"name": "no options"}) is NO_FLOW
    assert parse_flow({"concurrency": [{"limit": 0}]}) is NO_FLOW  # 0 means unlimited


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"concurrency": [{"limit": 1}] * 3}, "concurrency: at most 2 limits"),
        ({"concurrency": [{"limit": 1, "scope": "team"}]}, "concurrency[0].scope"),
        ({"concurrency": [{"limit": 1, "scope": "account"}]}, "concurrency[0].key: required"),
        ({"concurrency": [{"limit": -1}]}, "concurrency[0].limit: must be at least 0"),
        ({"throttle": {"limit": 1, "period": "soon"}}, "throttle.period"),
        ({"rateLimit": {"limit": 1, "period": "25h"}}, "rateLimit.period: must be between 1s and"),
        ({"rateLimit": {"limit": 1, "period": "1s", "key": "event.data."}}, "rateLimit.key"),
        ({"debounce": {"period": "8d"}}, "debounce.period: must be between 1s and 7d"),
        ({"batchEvents": {"maxSize": 1, "timeout": "1s"}}, "batchEvents.maxSize"),
        ({"batchEvents": {"maxSize": 5, "timeout": "1d"}}, "batchEvents.timeout"),
        ({"singleton": {"mode": "queue"}}, "singleton.mode"),
        ({"priority": {"run": 5}}, "priority.run"),
        ({"timeouts": {"start": 10}}, "timeouts.start"),
        (
            {"batchEvents": {"maxSize": 5, "timeout": "1s"}, "cancel": [{"event": "x"}]},
            "batchEvents: cannot be combined with cancel",
        ),
        (
            {"batchEvents": {"maxSize": 5, "timeout": "1s"}, "debounce": {"period": "1s"}},
            "batchEvents: cannot be combined with debounce",
        ),
    ],
)
def test_parse_flow_refuses_bad_options(config: dict[str, Any], message: str) -> None:
    with pytest.raises(FlowConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_flow(config)


async def test_a_sync_with_a_bad_option_is_refused_naming_function_and_field(
    clocked: ClockedServer,
) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return done_response(None)

    async with raw_app(handler) as app:
        config = function_config(app, "fn", event="x/go", throttle={"limit": 0, "period": "1s"})
        status, reply = await try_register(clocked, app, config)
    assert status == 400
    assert reply["error"] == "function 'raw-fn': throttle.limit: must be at least 1"
    assert clocked.server.registry.functions == {}


def test_gcra_admits_capacity_at_once_then_one_per_emission_interval() -> None:
    tat = None
    allowed = []
    for _ in range(4):  # 3 per 3 s with a burst of 1: capacity 4, one back per second
        decision = gcra(tat, 100.0, 3.0, 3, 4)
        allowed.append(decision.allowed)
        tat = decision.tat
    refused = gcra(tat, 100.0, 3.0, 3, 4)
    assert allowed == [True] * 4
    assert not refused.allowed
    assert refused.retry_at == pytest.approx(101.0)
    assert gcra(tat, 101.0, 3.0, 3, 4).allowed
    assert not gcra(tat, 100.9, 3.0, 3, 4).allowed


async def test_skipped_runs_show_their_reason_in_the_api_and_the_ui(
    clocked: ClockedServer,
) -> None:
    server = clocked.server

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return done_response("ran")

    async with raw_app(handler) as app:
        limit = {"limit": 1, "period": "1h"}
        await register(server, app, function_config(app, "rl", event="r/go", rateLimit=limit))
        await send(server, [{"name": "r/go"}, {"name": "r/go"}])
        await clocked.settle()
        assert server.store.count_runs().get(RunStatus.COMPLETED) == 1
        (skipped,) = server.store.list_runs(RunStatus.SKIPPED)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{server.url}/v1/runs/{skipped.run_id}") as response,
        ):
            detail = (await response.json())["data"]
        _, _, page = await get(server, f"/runs/{skipped.run_id}")
        _, _, listing = await get(server, "/?status=skipped")
    assert detail["status"] == "Skipped"
    assert detail["reason"] == "rate limit: over 1 per 1h"
    assert detail["steps"] == []
    assert "badge-skipped" in page
    assert "rate limit: over 1 per 1h" in text_of(page)
    assert skipped.run_id in listing
    events = server.store.list_events(name="inngest/function.finished")
    assert [e.body["data"]["run_id"] for e in events] != []
    assert skipped.run_id not in {e.body["data"]["run_id"] for e in events}


async def test_a_key_that_cannot_be_evaluated_leaves_the_option_off(
    env: RawEnvironment, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return done_response(body["event"]["data"]["n"])

    app = env.app(handler)
    config = function_config(
        app,
        "keyed",
        event="k/go",
        rateLimit={"limit": 1, "period": "1h", "key": "event.data.user"},
        batchEvents={"maxSize": 5, "timeout": "1h", "key": "event.data.user"},
    )
    env.register(app, config)
    await env.send([{"name": "k/go", "data": {"n": n}} for n in range(3)])
    assert env.store.count_runs().get(RunStatus.COMPLETED) == 3
    assert sorted(run.output for run in env.store.list_runs()) == [0, 1, 2]
    assert "cannot evaluate the key" in caplog.text


def test_a_database_from_before_flow_control_gains_its_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute(
            "CREATE TABLE runs (run_id TEXT PRIMARY KEY, function_id TEXT NOT NULL, "
            "status TEXT NOT NULL, events TEXT NOT NULL, output TEXT, error TEXT, "
            "queued_at REAL NOT NULL, started_at REAL, ended_at REAL, "
            "outstanding INTEGER NOT NULL DEFAULT 0, force_plan INTEGER NOT NULL DEFAULT 0, "
            "version INTEGER NOT NULL DEFAULT -1, correlation_id TEXT)"
        )
        db.execute(
            "INSERT INTO runs (run_id, function_id, status, events, queued_at) "
            "VALUES ('r1', 'app-fn', 'Queued', '[]', 1.0)"
        )
        db.commit()
    store = Store(str(path))
    try:
        run = store.get_run("r1")
        assert run is not None
        assert (run.priority, run.flow_json, run.singleton, run.reason) == (0, None, None, None)
        store.set_run_reason("r1", "waiting")
        updated = store.get_run("r1")
        assert updated is not None
        assert updated.reason == "waiting"
    finally:
        store.close()


def test_a_cancellation_timeout_may_be_an_instant_as_the_server_reads_it() -> None:
    from inngest_dsl.devserver.core.flow import parse_options

    options = parse_options({"cancel": [{"event": "a/b", "timeout": "2030-01-01T00:00:00Z"}]})
    assert options.cancel_on[0].timeout == "2030-01-01T00:00:00Z"  # type: ignore[comparison-overlap]
