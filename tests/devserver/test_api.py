"""The HTTP API: event validation, registration validation, auth, and the JSON read API."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from inngest_dsl.devserver.store.records import RunStatus
from tests.loopback import on_loopback

from .clocked import ClockedServer, virtual_dev_server
from .conftest import (
    APP_ID,
    call_json,
    done_response,
    function_config,
    op,
    ops_response,
    raw_app,
    register,
    send,
)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "not valid JSON"),
        ({"data": {}}, "name: required"),
        ({"name": ""}, "name: required"),
        ({"name": "x" * 513}, "longer than 512"),
        ({"name": "inngest/function.failed"}, "reserved"),
        ({"name": "app/x", "data": [1]}, "data: must be a JSON object"),
        ({"name": "app/x", "user": "bob"}, "user: must be a JSON object"),
        ({"name": "app/x", "ts": "yesterday"}, "ts: must be milliseconds"),
        ({"name": "app/x", "ts": 12}, "between 1980 and 2100"),
        ({"name": "app/x", "id": 5}, "id: must be a string"),
        ([{"name": "app/ok"}, {"name": ""}], "event 1: name: required"),
        ([], "no events"),
        ([{"name": "a/b"}] * 5001, "at most 5000"),
        ("just a string", "must be a JSON object"),
    ],
)
async def test_event_api_refuses_invalid_events(
    clocked: ClockedServer, body: Any, problem: str
) -> None:
    status, reply = await call_json("POST", f"{clocked.url}/e/key", body)
    assert status == 400
    assert reply["status"] == 400
    assert problem in reply["error"]
    assert clocked.store.count_events() == 0


async def test_event_api_fills_ids_and_timestamps(clocked: ClockedServer) -> None:
    reply = await send(
        clocked.server,
        [
            {"name": "app/a", "data": {"_inngest": {"x": 1}, "k": 1}},
            {"name": "app/b", "id": "mine"},
        ],
    )
    assert reply["status"] == 200
    assert len(reply["ids"]) == 2
    first = clocked.store.get_event(reply["ids"][0])
    second = clocked.store.get_event(reply["ids"][1])
    assert first is not None
    assert second is not None
    assert first.body["id"] == reply["ids"][0]
    assert first.body["data"] == {"k": 1}
    assert first.body["user"] == {}
    assert isinstance(first.body["ts"], int)
    assert second.id == "mine"
    assert second.internal_id == reply["ids"][1]


async def test_event_key_is_checked_when_configured(tmp_path: Path) -> None:
    async with virtual_dev_server(tmp_path / "db", event_key="secret") as server:
        status, reply = await call_json("POST", f"{server.url}/e/wrong", {"name": "app/a"})
        assert (status, reply["error"]) == (401, "Event key not found")
        status, reply = await call_json("POST", f"{server.url}/e/secret", {"name": "app/a"})
        assert status == 200


def _config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "id": f"{APP_ID}-fn",
        "name": "Fn",
        "triggers": [{"event": "app/go"}],
        "steps": {
            "step": {
                "id": "step",
                "name": "step",
                "runtime": {"type": "http", "url": "http://127.0.0.1:1/api/inngest"},
            }
        },
    }
    config.update(overrides)
    return config


def _step(**runtime: Any) -> dict[str, Any]:
    return {"step": {"id": "step", "name": "step", "runtime": runtime}}


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        (_config(id=""), "function '?': id: required"),
        (_config(id="other-fn"), "function 'other-fn': id: must be the composite"),
        (_config(name=""), "function 'raw-fn': name: must not be empty"),
        (_config(steps={}), "function 'raw-fn': steps: must hold exactly one step entry"),
        (_config(steps=_step(type="http", url="ftp://x")), "steps.step.runtime.url"),
        (_config(triggers=[{"event": "a", "cron": "* * * * *"}]), "triggers[0]: needs exactly"),
        (_config(triggers=[{"cron": "every minute"}]), "function 'raw-fn': triggers[0].cron"),
        (_config(triggers=[{"event": "a", "expression": "event.data.x >"}]), "expression"),
        (_config(triggers=[{"event": "a"}, {"event": "a"}]), "triggers[1]: duplicate"),
        (_config(triggers=[{"event": f"e{i}"} for i in range(11)]), "at most 10"),
        (_config(cancel=[{"event": "a", "timeout": "soon"}]), "cancel[0].timeout"),
    ],
)
async def test_register_refuses_invalid_functions(
    clocked: ClockedServer, config: dict[str, Any], problem: str
) -> None:
    body = {"url": "http://127.0.0.1:1/api/inngest", "appName": APP_ID, "functions": [config]}
    status, reply = await call_json("POST", f"{clocked.url}/fn/register", body)
    assert status == 400
    assert problem in reply["error"]
    assert clocked.server.registry.functions == {}


async def test_register_reports_modified_only_on_change(clocked: ClockedServer) -> None:
    body = {"url": "http://127.0.0.1:1/api/inngest", "appName": APP_ID, "functions": [_config()]}
    first = await call_json("POST", f"{clocked.url}/fn/register", body)
    again = await call_json("POST", f"{clocked.url}/fn/register", body)
    body["functions"] = [_config(name="Renamed")]
    changed = await call_json("POST", f"{clocked.url}/fn/register", body)
    assert [first[1]["modified"], again[1]["modified"], changed[1]["modified"]] == [
        True,
        False,
        True,
    ]
    assert clocked.server.registry.functions["raw-fn"].name == "Renamed"
    expected_cloud = {"X-Inngest-Expected-Server-Kind": "cloud"}
    status, reply = await call_json(
        "POST", f"{clocked.url}/fn/register", body, headers=expected_cloud
    )
    assert status == 400
    assert "Expected server kind cloud" in reply["error"]


async def test_signing_key_guards_register_and_v0(tmp_path: Path) -> None:
    key = "signkey-prod-12345678"
    hashed = "b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c"
    body = {"url": "http://127.0.0.1:1/api/inngest", "appName": APP_ID, "functions": [_config()]}
    async with virtual_dev_server(tmp_path / "db", signing_key=key) as server:
        url = f"{server.url}/fn/register"
        assert (await call_json("POST", url, body))[0] == 401
        wrong = {"Authorization": "Bearer wrong"}
        assert (await call_json("POST", url, body, headers=wrong))[0] == 401
        for bearer in (hashed, f"signkey-prod-{hashed}", "12345678", key):
            right = {"Authorization": f"Bearer {bearer}"}
            assert (await call_json("POST", url, body, headers=right))[0] == 200
        status, _ = await call_json("GET", f"{server.url}/v0/runs/nope/batch")
        assert status == 401
        status, reply = await call_json(
            "GET", f"{server.url}/v0/runs/nope/batch", headers={"Authorization": f"Bearer {hashed}"}
        )
        assert (status, reply["error"]) == (404, "run not found")


async def test_json_api_shows_runs_steps_events_and_functions(clocked: ClockedServer) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        if "s" not in body["steps"]:
            return ops_response(op("StepRun", "s", displayName="Say hi", data="hi"))
        return done_response({"said": body["steps"]["s"]["data"]})

    async with raw_app(handler) as app:
        await register(clocked.server, app, function_config(app, "fn", event="app/go"))
        sent = await send(clocked.server, {"name": "app/go", "data": {"a": 1}})
        run = await clocked.finished_run("raw-fn")
    base = clocked.url
    status, reply = await call_json("GET", f"{base}/v1/runs/{run.run_id}")
    assert status == 200
    detail = reply["data"]
    assert detail["status"] == "Completed"
    assert detail["output"] == {"said": "hi"}
    assert detail["event"]["data"] == {"a": 1}
    assert detail["started_at"].endswith("Z")
    assert detail["duration_ms"] >= 0
    [step] = detail["steps"]
    assert (step["id"], step["name"], step["kind"], step["output"], step["attempts"]) == (
        "s",
        "Say hi",
        "Run",
        "hi",
        1,
    )
    status, reply = await call_json("GET", f"{base}/v1/runs?status=completed&limit=5")
    assert [r["run_id"] for r in reply["data"]] == [run.run_id]
    status, reply = await call_json("GET", f"{base}/v1/runs?status=bogus")
    assert status == 400
    status, reply = await call_json("GET", f"{base}/v1/runs?limit=0")
    assert status == 400
    status, reply = await call_json("GET", f"{base}/v1/events/{sent['ids'][0]}")
    assert [r["run_id"] for r in reply["data"]["runs"]] == [run.run_id]
    status, reply = await call_json("GET", f"{base}/v1/events?limit=50")
    assert [e["name"] for e in reply["data"]] == ["app/go"]
    status, reply = await call_json("GET", f"{base}/v1/events?limit=50&internal=true")
    names = [e["name"] for e in reply["data"]]
    assert names == ["inngest/function.finished", "app/go"]
    status, reply = await call_json("GET", f"{base}/v1/functions")
    assert [f["id"] for f in reply["data"]] == ["raw-fn"]
    status, reply = await call_json("GET", f"{base}/v0/runs/{run.run_id}/actions")
    assert reply == {"s": {"data": "hi"}}
    status, reply = await call_json("GET", f"{base}/v0/runs/{run.run_id}/batch")
    assert [e["name"] for e in reply] == ["app/go"]
    for path in ("/v1/runs/nope", "/v1/events/nope", "/nowhere"):
        status, reply = await call_json("GET", base + path)
        assert status == 404
        assert "error" in reply
    status, reply = await call_json("GET", f"{base}/health")
    assert reply["status"] == "ok"
    status, reply = await call_json("GET", f"{base}/")
    assert reply["runs"] == {RunStatus.COMPLETED: 1}


async def test_cancel_endpoint_cancels_a_sleeping_run(clocked: ClockedServer) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return ops_response(op("Sleep", "nap", opts={"duration": "1h"}))

    async with raw_app(handler) as app:
        await register(clocked.server, app, function_config(app, "fn", event="app/go"))
        await send(clocked.server, {"name": "app/go"})
        await clocked.settle()
        assert app.calls
        run_id = clocked.store.list_runs()[0].run_id
        status, reply = await call_json("POST", f"{clocked.url}/v1/runs/{run_id}/cancel", {})
    assert status == 200
    assert reply["data"]["status"] == "Cancelled"
    cancelled = clocked.store.list_events(name="inngest/function.cancelled")
    assert len(cancelled) == 1


async def test_unreachable_app_is_listed_with_its_error(clocked: ClockedServer) -> None:
    status, reply = await call_json("POST", f"{clocked.url}/v1/apps", {"url": "http://127.0.0.1:9/api/inngest"})
    assert status == 502
    assert "unreachable" in reply["error"]
    status, reply = await call_json("GET", f"{clocked.url}/v1/apps")
    [app] = reply["data"]
    assert app["url"] == "http://127.0.0.1:9/api/inngest"
    assert "unreachable" in app["error"]
    status, reply = await call_json("POST", f"{clocked.url}/v1/apps", {"url": "nope"})
    assert status == 400


async def test_apps_are_synced_at_start_and_every_poll_interval_of_the_clock() -> None:
    pings: list[float] = []
    pinged = asyncio.Event()
    servers: list[ClockedServer] = []

    async def ping(request: web.Request) -> web.Response:
        pings.append(servers[0].now())
        pinged.set()
        return web.json_response({}, headers={"X-Inngest-SDK": "raw-test:v1.0.0"})

    web_app = web.Application()
    web_app.router.add_put("/api/inngest", ping)
    async with on_loopback(web_app) as origin:
        url = origin + "/api/inngest"
        async with virtual_dev_server(app_urls=[url], poll_interval=60.0) as clocked:
            servers.append(clocked)
            start = clocked.now()
            await clocked.settle()
            assert clocked.clock.next_at() == start + 60  # the next sync: a timer of its clock
            await pinged.wait()  # the sync at start
            pinged.clear()
            await clocked.advance(59.9)
            assert pings == [start]
            await clocked.advance(0.1)
            await pinged.wait()  # a minute of the server's clock later
            pinged.clear()
            await clocked.advance(60)
            await pinged.wait()
    assert pings == [start, start + 60, start + 120]


async def test_a_retried_send_with_the_same_seed_stores_and_runs_once(
    clocked: ClockedServer,
) -> None:
    """The client resends a failed batch with the same X-Inngest-Event-Id-Seed."""

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return done_response("ran")

    seed = {"X-Inngest-Event-Id-Seed": "1795240000000,AAECAwQFBgcICQ=="}
    batch = [{"name": "app/once", "data": {"n": 1}}, {"name": "app/once", "data": {"n": 2}}]
    async with raw_app(handler) as app:
        await register(clocked.server, app, function_config(app, "once", event="app/once"))
        first = await call_json("POST", f"{clocked.url}/e/test", batch, headers=seed)
        again = await call_json("POST", f"{clocked.url}/e/test", batch, headers=seed)
        other = await call_json("POST", f"{clocked.url}/e/test", batch[:1])
        await clocked.settle()  # a duplicate run, if any, would have started by now
        assert clocked.store.count_runs().get("Completed") == 3
    assert first[0] == again[0] == 200
    assert first[1]["ids"] == again[1]["ids"]
    assert len(set(first[1]["ids"])) == 2
    assert other[1]["ids"][0] not in first[1]["ids"]
    assert sum(clocked.store.count_runs().values()) == 3
    sent = [e for e in clocked.store.list_events(100) if e.name == "app/once"]
    assert len(sent) == 3


@pytest.mark.parametrize(
    ("body", "headers", "fragment"),
    [
        (b'{"name": "app/x", "data": {"v": NaN}}', {}, "not valid JSON"),
        (b'{"name": "app/x"}', {"X-Inngest-Event-Id-Seed": "soon,abc"}, "Event-Id-Seed"),
    ],
    ids=["nan", "bad-seed"],
)
async def test_event_api_refuses_nan_and_malformed_seeds(
    clocked: ClockedServer, body: bytes, headers: dict[str, str], fragment: str
) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{clocked.url}/e/test", data=body, headers=headers) as response,
    ):
        reply = await response.json()
    assert response.status == 400
    assert fragment in reply["error"]
    assert clocked.store.count_events() == 0
