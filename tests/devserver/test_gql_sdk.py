"""An official-SDK (`inngest` 0.5.19) app whose test helper reads runs only through `/v0/gql`.

The SDK's package ships no such helper: its repository's test suite has one (`test_core`'s
`helper.client`), which posts the queries below to the dev server. `GqlHelper` asks the same
queries with the same variables and reads the answers the same way, polling on virtual time
instead of sleeping.
"""

from __future__ import annotations

import datetime
import enum
import json
from typing import Any

import httpx

from .clocked import ClockedServer, virtual_dev_server
from .sdk_app import inngest, sdk_client, serve_sdk_app


class RunStatus(enum.Enum):
    CANCELLED = "CANCELLED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    RUNNING = "RUNNING"


ENDED = {RunStatus.CANCELLED, RunStatus.COMPLETED, RunStatus.FAILED}

GET_RUN_FROM_EVENT_ID = """
query GetRunFromEventID($event_id: ID!) {
    event(query: {eventId: $event_id}) {
        functionRuns {
            id
        }
    }
}
"""
GET_RUN = """
query GetRun($run_id: String!) {
    run(runID: $run_id) {
        output
        status
    }
    runTrigger(runID: $run_id) {
        payloads
    }
}
"""
GET_HISTORY = """
query GetHistory($run_id: String!) {
    run(runID: $run_id) {
        trace {
            childrenSpans {
                name
                outputID
            }
        }
    }
}
"""
GET_SPAN_OUTPUT = """
query GetHistory($output_id: String!) {
    runTraceSpanOutputByID(outputID: $output_id) {
        data
        error {
            message
            name
            stack
        }
    }
}
"""


class GqlHelper:
    """Reads runs from the dev server the way the official SDK's test helper does."""

    def __init__(self, clocked: ClockedServer) -> None:
        self._clocked = clocked
        self._endpoint = f"{clocked.url}/v0/gql"

    async def _query(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        async with httpx.AsyncClient() as client:
            response = await client.post(
                self._endpoint, json={"query": query, "variables": variables}, timeout=30
            )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body.get("errors") is None, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def get_run_ids_from_event_id(self, event_id: str, *, run_count: int) -> list[str]:
        found: list[str] = []

        async def listed() -> bool:
            data = await self._query(GET_RUN_FROM_EVENT_ID, {"event_id": event_id})
            runs = data["event"]["functionRuns"] or []
            found[:] = [run["id"] for run in runs]
            return len(runs) == run_count

        await self._clocked.run_until(listed, within="1m")
        return found

    async def wait_for_run_status(self, run_id: str, expected: RunStatus) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        async def reached() -> bool:
            data = await self._query(GET_RUN, {"run_id": run_id})
            seen.update(data)
            status = RunStatus(data["run"]["status"])
            assert status == expected or status not in ENDED, f"run ended {status}"
            return status == expected

        await self._clocked.run_until(reached, within="1d")
        event = inngest.Event.model_validate_json(seen["runTrigger"]["payloads"][0])
        return {"event": event, "output": seen["run"]["output"], "status": seen["run"]["status"]}

    async def get_step_output(self, *, run_id: str, step_id: str) -> str:
        data = await self._query(GET_HISTORY, {"run_id": run_id})
        spans = data["run"]["trace"]["childrenSpans"]
        output_id = next(span["outputID"] for span in spans if span["name"] == step_id)
        assert output_id, f"step {step_id!r} has no output"
        data = await self._query(GET_SPAN_OUTPUT, {"output_id": output_id})
        run = data["runTraceSpanOutputByID"]
        if run["error"] is None:
            del run["error"]
        if run["data"] is not None:
            run["data"] = json.loads(run["data"])
        return json.dumps(run)


async def _close_async_http_client(client: inngest.Inngest) -> None:
    """`client.send` keeps an httpx async client (to the dev server) open; close it."""
    http = getattr(client, "_http_client", None)
    for value in vars(http).values() if http is not None else ():
        if isinstance(value, httpx.AsyncClient):
            await value.aclose()


async def test_official_sdk_runs_read_through_graphql_only() -> None:
    # The SDK's `step.sleep` sleeps until a wall-clock instant: virtual time starts now.
    async with virtual_dev_server(start=None) as clocked:
        client = sdk_client(clocked.url)

        @client.create_function(fn_id="steps", trigger=inngest.TriggerEvent(event="sdk/steps"))
        async def steps(ctx: inngest.Context) -> dict[str, Any]:
            async def double() -> int:
                return int(ctx.event.data["n"]) * 2

            doubled = await ctx.step.run("double", double)
            await ctx.step.sleep("nap", datetime.timedelta(seconds=10))
            return {"doubled": doubled}

        @client.create_function(
            fn_id="fails", trigger=inngest.TriggerEvent(event="sdk/fails"), retries=0
        )
        async def fails(ctx: inngest.Context) -> None:
            async def explode() -> None:
                raise ValueError("bad input")

            await ctx.step.run("explode", explode)

        helper = GqlHelper(clocked)
        with serve_sdk_app(client, [steps, fails]) as url:
            await clocked.server.syncer.sync(url)
            [ok_event] = await client.send(inngest.Event(name="sdk/steps", data={"n": 21}))
            [bad_event] = await client.send(inngest.Event(name="sdk/fails", data={}))

            [ok_run] = await helper.get_run_ids_from_event_id(ok_event, run_count=1)
            [bad_run] = await helper.get_run_ids_from_event_id(bad_event, run_count=1)
            await clocked.settle()
            running = await helper._query(GET_RUN, {"run_id": ok_run})
            assert running["run"] == {"output": None, "status": "RUNNING"}  # asleep

            done = await helper.wait_for_run_status(ok_run, RunStatus.COMPLETED)
            assert json.loads(done["output"]) == {"doubled": 42}
            assert (done["event"].name, done["event"].data) == ("sdk/steps", {"n": 21})
            assert json.loads(await helper.get_step_output(run_id=ok_run, step_id="double")) == {
                "data": 42
            }

            failed = await helper.wait_for_run_status(bad_run, RunStatus.FAILED)
            assert json.loads(failed["output"])["message"] == "bad input"
            output = json.loads(await helper.get_step_output(run_id=bad_run, step_id="explode"))
        await _close_async_http_client(client)
        assert set(output) == {"data", "error"}
        assert output["data"] is None
        assert (output["error"]["name"], output["error"]["message"]) == ("ValueError", "bad input")
        assert "explode" in output["error"]["stack"]
