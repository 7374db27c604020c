"""`POST /v0/gql` and the REST reads in the Inngest dev server's shapes, for runs that completed,
failed, were cancelled and are still running (the real server over loopback, virtual time)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp import web

from .clocked import ClockedServer, virtual_dev_server
from .conftest import (
    call_json,
    done_response,
    error_response,
    function_config,
    op,
    ops_response,
    raw_app,
    register,
    send,
)

STACK = "Traceback: boom()"


async def gql(
    url: str, query: str, variables: dict[str, Any] | None = None, **headers: str
) -> tuple[int, dict[str, Any]]:
    """Post a query as tooling does (`{"query", "variables"}`); the status and the JSON body."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{url}/v0/gql", json={"query": query, "variables": variables}, headers=headers
        ) as response,
    ):
        return response.status, await response.json()


async def data_of(url: str, query: str, **variables: Any) -> dict[str, Any]:
    status, body = await gql(url, query, variables)
    assert status == 200, body
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def _handler(step_id: str, body: dict[str, Any]) -> web.Response:
    name = body["event"]["name"]
    steps = body["steps"]
    if name == "app/ok":
        if "greet" not in steps:
            return ops_response(op("StepRun", "greet", displayName="greet", data="hi"))
        return done_response({"said": steps["greet"]["data"]})
    if name == "app/bad":
        if "boom" not in steps:
            error = {"name": "ValueError", "message": "bad input", "stack": STACK}
            return ops_response(op("StepFailed", "boom", displayName="boom", error=error))
        return error_response("the step failed")
    if "nap" in steps:
        return done_response("rested")
    return ops_response(op("Sleep", "nap", displayName="nap", opts={"duration": "1h"}))


@attrs.frozen
class Runs:
    """One run of each kind, and the event that started it."""

    server: ClockedServer
    events: dict[str, str]
    runs: dict[str, str]


@pytest.fixture
async def runs(tmp_path: Path) -> AsyncIterator[Runs]:
    async with virtual_dev_server(tmp_path / "dev.db") as clocked, raw_app(_handler) as app:
        await register(
            clocked.server,
            app,
            function_config(app, "ok", event="app/ok"),
            function_config(app, "bad", event="app/bad", retries=0),
            function_config(app, "nap", event="app/nap"),
        )
        events: dict[str, str] = {}
        for kind, name in [
            ("completed", "app/ok"),
            ("failed", "app/bad"),
            ("running", "app/nap"),
            ("cancelled", "app/nap"),
        ]:
            sent = await send(clocked.server, {"name": name, "data": {"kind": kind}})
            events[kind] = sent["ids"][0]
        await clocked.settle()
        run_ids = {
            kind: clocked.store.runs_for_event(event)[0].run_id for kind, event in events.items()
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{clocked.url}/v1/runs/{run_ids['cancelled']}/cancel") as response,
        ):
            assert response.status == 200
        await clocked.settle()
        yield Runs(clocked, events, run_ids)


EVENT_RUNS = """
query GetRunFromEventID($event_id: ID!) {
  event(query: {eventId: $event_id}) { name totalRuns functionRuns { id status output } }
}
"""
RUN = """
query GetRun($run_id: String!) {
  run(runID: $run_id) {
    id status output eventName functionID
    trace { name status outputID childrenSpans { name status stepOp outputID } }
  }
  runTrigger(runID: $run_id) { eventName IDs payloads isBatch }
}
"""
OUTPUT = """
query GetOutput($output_id: String!) {
  runTraceSpanOutputByID(outputID: $output_id) { data error { message name stack } }
}
"""


async def test_event_lists_its_runs_with_status_and_output(runs: Runs) -> None:
    url = runs.server.url
    answers = {}
    for kind, event_id in runs.events.items():
        data = await data_of(url, EVENT_RUNS, event_id=event_id)
        [run] = data["event"]["functionRuns"]
        assert run["id"] == runs.runs[kind]
        assert data["event"]["totalRuns"] == 1
        answers[kind] = (run["status"], run["output"])
    assert answers == {
        "completed": ("COMPLETED", '{"said":"hi"}'),
        "failed": ("FAILED", answers["failed"][1]),
        "running": ("RUNNING", None),
        "cancelled": ("CANCELLED", None),
    }
    assert json.loads(answers["failed"][1])["message"] == "the step failed"


async def test_run_status_output_trace_and_trigger(runs: Runs) -> None:
    url = runs.server.url
    answers = {kind: await data_of(url, RUN, run_id=run_id) for kind, run_id in runs.runs.items()}

    done = answers["completed"]
    assert done["run"]["status"] == "COMPLETED"
    assert json.loads(done["run"]["output"]) == {"said": "hi"}
    assert done["run"]["functionID"]
    trace = done["run"]["trace"]
    assert (trace["name"], trace["status"]) == ("ok", "COMPLETED")
    [greet] = trace["childrenSpans"]
    assert (greet["name"], greet["status"], greet["stepOp"]) == ("greet", "COMPLETED", "RUN")
    step = await data_of(url, OUTPUT, output_id=greet["outputID"])
    assert step["runTraceSpanOutputByID"] == {"data": '"hi"', "error": None}
    whole = await data_of(url, OUTPUT, output_id=trace["outputID"])
    assert json.loads(whole["runTraceSpanOutputByID"]["data"]) == {"said": "hi"}
    trigger = done["runTrigger"]
    assert trigger["eventName"] == "app/ok"
    assert trigger["IDs"] == [runs.events["completed"]]
    assert trigger["isBatch"] is False
    [payload] = trigger["payloads"]
    assert json.loads(payload)["data"] == {"kind": "completed"}

    failed = answers["failed"]
    assert failed["run"]["status"] == "FAILED"
    assert json.loads(failed["run"]["output"])["message"] == "the step failed"
    trace = failed["run"]["trace"]
    assert trace["status"] == "FAILED"
    [boom] = trace["childrenSpans"]
    assert (boom["name"], boom["status"]) == ("boom", "FAILED")
    step = await data_of(url, OUTPUT, output_id=boom["outputID"])
    assert step["runTraceSpanOutputByID"] == {
        "data": None,
        "error": {"message": "bad input", "name": "ValueError", "stack": STACK},
    }
    whole = await data_of(url, OUTPUT, output_id=trace["outputID"])
    assert whole["runTraceSpanOutputByID"]["error"]["message"] == "the step failed"

    running = answers["running"]
    assert (running["run"]["status"], running["run"]["output"]) == ("RUNNING", None)
    trace = running["run"]["trace"]
    assert (trace["status"], trace["outputID"]) == ("RUNNING", None)
    assert trace["childrenSpans"] == [
        {"name": "nap", "status": "WAITING", "stepOp": "SLEEP", "outputID": None}
    ]

    cancelled = answers["cancelled"]
    assert (cancelled["run"]["status"], cancelled["run"]["output"]) == ("CANCELLED", None)
    trace = cancelled["run"]["trace"]
    assert (trace["status"], trace["outputID"]) == ("CANCELLED", None)
    assert [(s["name"], s["status"]) for s in trace["childrenSpans"]] == [("nap", "CANCELLED")]
    assert json.loads(cancelled["runTrigger"]["payloads"][0])["data"] == {"kind": "cancelled"}


async def test_the_running_run_completes_after_its_sleep(runs: Runs) -> None:
    await runs.server.advance("1h")
    data = await data_of(runs.server.url, RUN, run_id=runs.runs["running"])
    assert (data["run"]["status"], data["run"]["output"]) == ("COMPLETED", '"rested"')
    [nap] = data["run"]["trace"]["childrenSpans"]
    assert (nap["name"], nap["status"], nap["stepOp"]) == ("nap", "COMPLETED", "SLEEP")
    output = await data_of(runs.server.url, OUTPUT, output_id=nap["outputID"])
    assert output["runTraceSpanOutputByID"] == {"data": None, "error": None}
    listed = await data_of(runs.server.url, EVENT_RUNS, event_id=runs.events["running"])
    [run] = listed["event"]["functionRuns"]
    assert run["status"] == "COMPLETED"


async def test_rest_reads_in_the_go_servers_shapes(runs: Runs) -> None:
    url = runs.server.url
    shapes = {}
    for kind, event_id in runs.events.items():
        status, body = await call_json("GET", f"{url}/v1/events/{event_id}/runs")
        assert status == 200
        [run] = body["data"]
        assert (run["run_id"], run["event_id"]) == (runs.runs[kind], event_id)
        assert run["run_started_at"].endswith("Z")
        shapes[kind] = (run["status"], run.get("output", "absent"))
    assert shapes["completed"] == ("Completed", {"said": "hi"})
    assert shapes["failed"][0] == "Failed"
    assert shapes["failed"][1]["message"] == "the step failed"
    assert shapes["running"] == ("Running", "absent")
    assert shapes["cancelled"] == ("Cancelled", "absent")

    status, body = await call_json("GET", f"{url}/v1/runs/{runs.runs['failed']}")
    assert status == 200
    run = body["data"]
    assert run["event_id"] == runs.events["failed"]
    assert run["run_started_at"].endswith("Z")
    # Our own fields stay as they were: `output` is the result, `error` the failure.
    assert (run["status"], run["output"]) == ("Failed", None)
    assert run["error"]["message"] == "the step failed"
    status, body = await call_json("GET", f"{url}/v1/events/nope/runs")
    assert (status, body["error"]) == (404, "event not found")


async def test_bad_queries_get_graphql_errors(runs: Runs) -> None:
    url = runs.server.url
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/v0/gql", data=b"{not json") as response:
            assert response.status == 400
            assert (await response.json())["errors"][0]["message"] == "the body is not valid JSON"
        for body, problem in [
            ([1], "the body must be a JSON object"),
            ({"variables": {}}, "query: must be a string"),
            ({"query": "{ run }", "variables": [1]}, "variables: must be an object"),
            ({"query": "{ run }", "operationName": 5}, "operationName: must be a string"),
        ]:
            async with session.post(f"{url}/v0/gql", json=body) as response:
                assert response.status == 400
                assert (await response.json())["errors"] == [{"message": problem}]

    status, body = await gql(url, "{ run(runID: ")
    assert status == 200
    assert "data" not in body
    assert "Syntax Error" in body["errors"][0]["message"]
    status, body = await gql(url, '{ run(runID: "x") { nope } }')
    assert (status, "data" in body) == (200, False)
    assert "Cannot query field 'nope'" in body["errors"][0]["message"]
    status, body = await gql(url, 'mutation { cancelRun(runID: "x") }')
    assert (status, "data" in body) == (200, False)
    status, body = await gql(url, RUN, {})
    assert (status, "data" in body) == (200, False)
    assert "$run_id" in body["errors"][0]["message"]

    status, body = await gql(url, '{ run(runID: "nope") { status } }')
    assert status == 200
    assert body["data"] == {"run": None}
    assert body["errors"][0]["message"] == "run not found: nope"
    assert body["errors"][0]["path"] == ["run"]
    status, body = await gql(url, '{ event(query: {eventId: "nope"}) { id } }')
    assert body["errors"][0]["message"] == "event not found: nope"
    for output_id in ("%%%", "bm9wZQ"):  # not base64; base64 of no run and step
        status, body = await gql(url, OUTPUT, {"output_id": output_id})
        assert status == 200
        assert body["data"] is None  # a non-null root field failed
        assert body["errors"][0]["message"].startswith("invalid output ID")


async def test_signing_key_guards_the_endpoint(tmp_path: Path) -> None:
    key = "signkey-prod-12345678"
    async with virtual_dev_server(tmp_path / "db", signing_key=key) as server:
        status, body = await gql(server.url, "{ __typename }")
        assert status == 401
        assert "signing key" in body["errors"][0]["message"]
        status, body = await gql(server.url, "{ __typename }", Authorization=f"Bearer {key}")
        assert (status, body) == (200, {"data": {"__typename": "Query"}})
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{server.url}/v0/gql", params={"query": "{ __typename }"}) as response,
        ):
            assert response.status == 401


async def test_function_run_answers_the_older_helpers_query(runs: Runs) -> None:
    query = """
    query GetRun($run_id: ID!) {
      functionRun(query: { functionRunId: $run_id }) {
        event { id raw } id output status eventID
      }
    }
    """
    answers = {}
    for kind, run_id in runs.runs.items():
        run = (await data_of(runs.server.url, query, run_id=run_id))["functionRun"]
        assert (run["id"], run["eventID"], run["event"]["id"]) == (
            run_id,
            runs.events[kind],
            runs.events[kind],
        )
        assert json.loads(run["event"]["raw"])["data"] == {"kind": kind}
        answers[kind] = run["status"]
    assert answers == {
        "completed": "COMPLETED",
        "failed": "FAILED",
        "running": "RUNNING",
        "cancelled": "CANCELLED",
    }


async def test_a_fault_of_ours_is_an_error_entry_not_a_traceback(
    runs: Runs, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(run_id: str) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(runs.server.store, "list_steps", broken)
    status, body = await gql(runs.server.url, RUN, {"run_id": runs.runs["completed"]})
    assert status == 200
    assert body["data"]["run"]["trace"] is None
    assert body["data"]["run"]["status"] == "COMPLETED"
    [error] = body["errors"]
    assert error["message"] == "internal error: RuntimeError"
    assert error["path"] == ["run", "trace"]
    assert "disk on fire" not in json.dumps(body)
    assert "disk on fire" in caplog.text


RUNS = """
query Runs($from: Time!, $status: [FunctionRunStatus!], $after: String, $first: Int!) {
  runs(
    first: $first
    after: $after
    orderBy: [{ field: QUEUED_AT, direction: ASC }]
    filter: { from: $from, status: $status }
  ) {
    edges { cursor node { id status function { name slug } } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}
"""


async def test_runs_lists_a_filtered_page(runs: Runs) -> None:
    url = runs.server.url
    since = "2025-12-31T00:00:00Z"
    data = await data_of(url, RUNS, **{"from": since, "first": 100})
    listing = data["runs"]
    assert listing["totalCount"] == 4
    # All four were queued at the same virtual instant: ties are ordered by run id.
    nodes = {e["node"]["id"]: e["node"] for e in listing["edges"]}
    assert list(nodes) == sorted(runs.runs.values())
    assert nodes[runs.runs["completed"]]["function"] == {"name": "ok", "slug": "raw-ok"}

    data = await data_of(url, RUNS, **{"from": since, "first": 1, "status": ["RUNNING"]})
    assert [e["node"]["id"] for e in data["runs"]["edges"]] == [runs.runs["running"]]
    assert data["runs"]["pageInfo"]["hasNextPage"] is False

    first = await data_of(url, RUNS, **{"from": since, "first": 3})
    assert first["runs"]["pageInfo"] == {"hasNextPage": True, "endCursor": "2"}
    rest = await data_of(url, RUNS, **{"from": since, "first": 3, "after": "2"})
    pages = [e["node"]["id"] for page in (first, rest) for e in page["runs"]["edges"]]
    assert pages == sorted(runs.runs.values())

    later = await data_of(url, RUNS, **{"from": "2027-01-01T00:00:00Z", "first": 5})
    assert later["runs"]["totalCount"] == 0
    status, body = await gql(url, RUNS, {"from": "yesterday", "first": 5})
    assert status == 200
    assert "filter.from: not an RFC 3339 time" in body["errors"][0]["message"]


async def test_get_with_the_query_in_the_url(runs: Runs) -> None:
    run_id = runs.runs["completed"]
    params = {
        "query": "query R($id: String!) { run(runID: $id) { status } }",
        "variables": json.dumps({"id": run_id}),
    }
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{runs.server.url}/v0/gql", params=params) as response:
            assert response.status == 200
            assert await response.json() == {"data": {"run": {"status": "COMPLETED"}}}
        params["variables"] = "{oops"
        async with session.get(f"{runs.server.url}/v0/gql", params=params) as response:
            assert response.status == 400
            assert (await response.json())["errors"] == [{"message": "variables: not valid JSON"}]
        async with session.get(f"{runs.server.url}/v0/gql") as response:
            assert response.status == 400
            assert (await response.json())["errors"] == [{"message": "query: must be a string"}]
