"""`ctx.run_id`, `ctx.attempt`, `ctx.request_id` and `ctx.job_id`: from the call's `ctx`, else
from its headers, as Inngest sends both (PROTOCOL §2, §6.1)."""

from __future__ import annotations

from typing import Any

from inngest_dsl import Context, InngestFunction, step
from inngest_dsl.testing import TestEnvironment
from inngest_dsl.wire._signing import canonical_json

from .conftest import APP_ID, PATH, AiohttpClient, call_body, make_client


class Ids(InngestFunction, id="ids", event="shop/ids", retries=1):
    @step("read")
    async def read(self, ctx: Context) -> dict[str, Any]:
        if ctx.event.data.get("fail") and ctx.attempt == 0:
            raise RuntimeError("first attempt fails")
        return {
            "run_id": ctx.run_id,
            "attempt": ctx.attempt,
            "request_id": ctx.request_id,
            "job_id": ctx.job_id,
        }


async def _read(
    aiohttp_client: AiohttpClient, body: dict[str, Any], headers: dict[str, str]
) -> Any:
    client = await make_client(aiohttp_client, [Ids])
    response = await client.post(
        PATH,
        params={"fnId": f"{APP_ID}-ids", "stepId": "step"},
        data=canonical_json(body),
        headers={"Content-Type": "application/json", **headers},
    )
    assert response.status == 206, await response.text()
    [op] = await response.json()
    return op["data"]


async def test_ids_come_from_the_call_ctx(aiohttp_client: AiohttpClient) -> None:
    body = call_body(attempt=2)
    body["ctx"].update(request_id="01REQ", job_id="job-7")
    headers = {"X-Request-ID": "other", "X-Inngest-Job-Id": "other"}
    assert await _read(aiohttp_client, body, headers) == {
        "run_id": "01RUN",
        "attempt": 2,
        "request_id": "01REQ",
        "job_id": "job-7",
    }


async def test_ids_fall_back_to_the_headers(aiohttp_client: AiohttpClient) -> None:
    body = call_body()
    del body["ctx"]["run_id"]
    headers = {"x-request-id": "01REQ", "x-inngest-job-id": "13cc7rbn8trb0", "X-Run-ID": "01R"}
    assert await _read(aiohttp_client, body, headers) == {
        "run_id": "01R",
        "attempt": 0,
        "request_id": "01REQ",
        "job_id": "13cc7rbn8trb0",
    }


async def test_the_dev_server_engine_sends_ids_for_every_request() -> None:
    async with TestEnvironment([Ids], now="2026-01-01T00:00:00Z", retry_interval=1) as env:
        await env.send({"name": "shop/ids", "data": {"fail": True}})
        await env.advance("1m")
        [run] = await env.runs(Ids)
    output = run.output
    assert output["run_id"] == run.run_id
    assert output["attempt"] == 1
    assert output["request_id"]
    assert output["job_id"]
