"""The `/v1` routes of the workbench: actions on runs, run and event search, over HTTP.

The real dev server on a virtual clock (`clocked`), a raw protocol app on loopback.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from aiohttp import web

from .clocked import START, ClockedServer
from .conftest import (
    APP_ID,
    RawApp,
    call_json,
    done_response,
    function_config,
    op,
    ops_response,
    raw_app,
    register,
    send,
)

FN = f"{APP_ID}-fn"


async def _two_steps(step_id: str, body: dict[str, Any]) -> web.Response:
    steps = body["steps"]
    if "a" not in steps:
        return ops_response(op("StepRun", "a", data=1))
    if "b" not in steps:
        return ops_response(op("StepRun", "b", data=2))
    return done_response({"event": body["event"]["name"], "data": body["event"]["data"]})


def _calls_of(app: RawApp, run_id: str) -> list[dict[str, Any]]:
    return [body for _, body in app.calls if body["ctx"]["run_id"] == run_id]


async def test_rerun_makes_a_new_run_of_the_same_event(clocked: ClockedServer) -> None:
    async with raw_app(_two_steps) as app:
        await register(clocked.server, app, function_config(app, "fn", event="app/go"))
        [event_id] = (await send(clocked.server, {"name": "app/go", "data": {"n": 1}}))["ids"]
        await clocked.settle()
        [first] = clocked.store.runs_for_event(event_id)
        status, reply = await call_json("POST", f"{clocked.url}/v1/runs/{first.run_id}/rerun")
        assert status == 201, reply
        new_id = reply["data"]["run_id"]
        await clocked.settle()
        status, listed = await call_json("GET", f"{clocked.url}/v1/runs?event_id={event_id}")
    assert reply["data"]["rerun_of"] == first.run_id
    assert reply["data"]["rerun_from_step"] is None
    assert [r["run_id"] for r in listed["data"]] == [new_id, first.run_id]  # newest first
    assert "rerun_of" not in listed["data"][1]  # the origin is no rerun
    assert listed["data"][0]["status"] == "Completed"
    assert listed["data"][0]["output"] == {"event": "app/go", "data": {"n": 1}}
    assert len(_calls_of(app, new_id)) == 3


async def test_rerun_from_a_step_sends_the_earlier_results_as_memos(clocked: ClockedServer) -> None:
    async with raw_app(_two_steps) as app:
        await register(clocked.server, app, function_config(app, "fn", event="app/go"))
        await send(clocked.server, {"name": "app/go"})
        await clocked.settle()
        [first] = clocked.store.list_runs()
        url = f"{clocked.url}/v1/runs/{first.run_id}/rerun"
        status, reply = await call_json("POST", url, {"from_step": "b"})
        assert status == 201, reply
        new_id = reply["data"]["run_id"]
        assert [s["id"] for s in reply["data"]["steps"]] == ["a"]
        await clocked.settle()
        status, shown = await call_json("GET", f"{clocked.url}/v1/runs/{new_id}")
    assert status == 200
    assert (shown["data"]["rerun_of"], shown["data"]["rerun_from_step"]) == (first.run_id, "b")
    assert [r.run_id for r in clocked.store.reruns_of(first.run_id)] == [new_id]
    calls = _calls_of(app, new_id)
    assert calls[0]["steps"] == {"a": {"data": 1}}  # `a` is not run again
    assert len(calls) == 2
    assert clocked.store.get_run(new_id).status == "Completed"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("path", "body", "status", "problem"),
    [
        ("/v1/runs/nope/rerun", {}, 404, "run 'nope' not found"),
        ("/v1/runs/{run}/rerun", {"from_step": "zzz"}, 409, "no step 'zzz'"),
        ("/v1/runs/{run}/rerun", {"from_step": 5}, 400, "from_step: must be"),
        ("/v1/runs/{run}/rerun", [1], 400, "must be a JSON object"),
        ("/v1/runs/nope/cancel", {}, 404, "run 'nope' not found"),
        ("/v1/functions/nope/invoke", {}, 404, "function 'nope' not found"),
        ("/v1/functions/fn/invoke", {"data": [1]}, 400, "data: must be a JSON object"),
        ("/v1/functions/fn/invoke", {"dta": {}}, 400, "dta: unknown field"),
        ("/v1/cancellations", {}, 400, "function_id: required"),
        ("/v1/cancellations", {"function_id": "fn"}, 400, "started_after: required"),
        (
            "/v1/cancellations",
            {"function_id": "fn", "started_after": "yesterday", "started_before": "x"},
            400,
            "started_after: 'yesterday' is not an RFC 3339 time",
        ),
        (
            "/v1/cancellations",
            {
                "function_id": "fn",
                "started_after": "2026-01-01T00:00:00Z",
                "started_before": "2026-01-02T00:00:00Z",
                "if": "event.data ==",
            },
            400,
            "if: invalid expression",
        ),
    ],
)
async def test_actions_refuse_with_one_line_naming_the_problem(
    clocked: ClockedServer, path: str, body: Any, status: int, problem: str
) -> None:
    async with raw_app(_two_steps) as app:
        await register(clocked.server, app, function_config(app, "fn", event="app/go"))
        await send(clocked.server, {"name": "app/go"})
        await clocked.settle()
        [run] = clocked.store.list_runs()
        got, reply = await call_json("POST", clocked.url + path.format(run=run.run_id), body)
    assert got == status
    assert problem in reply["error"]
    assert "\n" not in reply["error"]


async def test_invoke_starts_a_run_with_the_data_as_an_invoked_event(
    clocked: ClockedServer,
) -> None:
    async with raw_app(_two_steps) as app:
        await register(clocked.server, app, function_config(app, "fn", event="app/never"))
        status, reply = await call_json(
            "POST", f"{clocked.url}/v1/functions/fn/invoke", {"data": {"x": 1}}
        )
        assert status == 201, reply
        await clocked.settle()
    run = clocked.store.get_run(reply["data"]["run_id"])
    assert run is not None
    assert run.status == "Completed"
    assert run.output["event"] == "inngest/function.invoked"
    assert run.output["data"]["x"] == 1
    assert run.output["data"]["_inngest"]["fn_id"] == FN


async def test_bulk_cancellation_takes_the_shape_of_inngests(clocked: ClockedServer) -> None:
    async def sleeper(step_id: str, body: dict[str, Any]) -> web.Response:
        return ops_response(op("Sleep", "nap", opts={"duration": "1h"}))

    async with raw_app(sleeper) as app:
        await register(clocked.server, app, function_config(app, "fn", event="app/go"))
        for user in ("a", "b", "a"):
            await send(clocked.server, {"name": "app/go", "data": {"user": user}})
        await clocked.settle()
        status, reply = await call_json(
            "POST",
            f"{clocked.url}/v1/cancellations",
            {
                "app_id": APP_ID,
                "function_id": "fn",
                "started_after": "2025-12-31T00:00:00Z",
                "started_before": "2026-01-02T00:00:00Z",
                "if": "event.data.user == 'a'",
            },
        )
    assert status == 200, reply
    assert reply["function_id"] == FN
    assert reply["cancelled"] == 2
    assert reply["started_after"] == "2025-12-31T00:00:00.000Z"
    statuses = sorted(r.status for r in clocked.store.list_runs())
    assert statuses == ["Cancelled", "Cancelled", "Running"]


async def test_runs_search_pages_newest_first_with_a_cursor_and_filters(
    clocked: ClockedServer,
) -> None:
    async with raw_app(_two_steps) as app:
        await register(clocked.server, app, function_config(app, "fn", event="app/go"))
        ids = []
        for n in range(7):
            ids += (await send(clocked.server, {"name": "app/go", "data": {"n": n}}))["ids"]
            clocked.clock.advance(60)
        await clocked.settle()
    runs = [clocked.store.runs_for_event(i)[0].run_id for i in ids]
    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        status, reply = await call_json("GET", f"{clocked.url}/v1/runs?limit=3&cursor={cursor}")
        assert status == 200, reply
        seen += [r["run_id"] for r in reply["data"]]
        pages += 1
        if reply["cursor"] is None:
            break
        cursor = reply["cursor"]
    assert seen == runs[::-1]
    assert pages == 3

    base = f"{clocked.url}/v1/runs"
    _, reply = await call_json("GET", f"{base}?run_id={runs[2]}")
    assert [r["run_id"] for r in reply["data"]] == [runs[2]]
    _, reply = await call_json("GET", f"{base}?event_id={ids[4]}")
    assert [r["run_id"] for r in reply["data"]] == [runs[4]]
    _, reply = await call_json("GET", f"{base}?function_id={FN}&status=completed,failed")
    assert len(reply["data"]) == 7
    _, reply = await call_json("GET", f"{base}?function_id=fn&limit=1")  # the id within its app
    assert [r["run_id"] for r in reply["data"]] == [runs[6]]
    _, reply = await call_json("GET", f"{base}?function_id=gone")
    assert reply["data"] == []
    _, reply = await call_json("GET", f"{base}?status=Running")
    assert reply["data"] == []
    after = _iso(START + 60)
    before = _iso(START + 180)
    _, reply = await call_json("GET", f"{base}?after={after}&before={before}")
    assert [r["run_id"] for r in reply["data"]] == [runs[2], runs[1]]
    status, reply = await call_json("GET", f"{base}?after=soon")
    assert status == 400
    assert reply["error"].startswith("after: 'soon'")
    for cursor in ("zzz", runs[3].lower(), runs[3] + "0"):  # not a run id: no first page
        status, reply = await call_json("GET", f"{base}?cursor={cursor}")
        assert status == 400, cursor
        assert reply["error"] == f"cursor: {cursor!r} is not one this search returned"


async def test_a_run_cancelled_through_the_api_says_so(clocked: ClockedServer) -> None:
    async def sleeper(step_id: str, body: dict[str, Any]) -> web.Response:
        return ops_response(op("Sleep", "nap", opts={"duration": "1h"}))

    async with raw_app(sleeper) as app:
        await register(clocked.server, app, function_config(app, "fn", event="app/go"))
        await send(clocked.server, {"name": "app/go"})
        await clocked.settle()
        [run] = clocked.store.list_runs()
        status, reply = await call_json("POST", f"{clocked.url}/v1/runs/{run.run_id}/cancel")
    assert status == 200, reply
    assert reply["data"]["status"] == "Cancelled"
    assert reply["data"]["reason"] == "cancelled through the API"


async def test_events_search_hides_internal_events_unless_asked(clocked: ClockedServer) -> None:
    async with raw_app(_two_steps) as app:
        await register(clocked.server, app, function_config(app, "fn", event="app/go"))
        for _ in range(3):
            await send(clocked.server, {"name": "app/go"})
        await clocked.settle()
    base = f"{clocked.url}/v1/events"
    _, reply = await call_json("GET", base)
    assert [e["name"] for e in reply["data"]] == ["app/go"] * 3
    _, reply = await call_json("GET", f"{base}?internal=true&limit=4")
    assert len(reply["data"]) == 4
    _, more = await call_json("GET", f"{base}?internal=true&limit=4&cursor={reply['cursor']}")
    assert len(more["data"]) == 2
    assert more["cursor"] is None
    _, reply = await call_json("GET", f"{base}?name=inngest/function.finished")
    assert len(reply["data"]) == 3
    status, reply = await call_json("GET", f"{base}?cursor=abc")
    assert status == 400


def _iso(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.isoformat().replace("+00:00", "Z")
