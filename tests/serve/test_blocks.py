"""Parallel groups, invoke and send_event through the serve handler, run by a small executor.

The executor follows PROTOCOL §8.4: every op of a 206 is handled, planned steps become
targeted calls with `disable_immediate_execution` set until the fan-in, sleeps finish at once,
and an invoke runs the callee's own run (through the same handler) and resumes with
`{"data": output}`.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

import attrs
from aiohttp import web
from aiohttp.test_utils import TestClient

from inngest_dsl import (
    Context,
    InngestFunction,
    NonRetriableError,
    invoke,
    parallel,
    run,
    send_event,
    sleep,
    step,
)
from inngest_dsl.aiohttp import serve
from inngest_dsl.engine._outcomes import hash_step_id
from inngest_dsl.testing import CapturingClient

from .conftest import APP_ID, AiohttpClient, Reply, call_body, event, post_call

calls: Counter[str] = Counter()


@attrs.define
class MultiOpExecutor:
    """Drives one run to its end; `calls` records `(stepId, ops reported)` per call."""

    client: TestClient[Any, Any]
    calls: list[tuple[str, list[str]]] = attrs.field(factory=list)

    async def run(self, fn_id: str, trigger: dict[str, Any], limit: int = 40) -> Reply:
        memo: dict[str, Any] = {}
        targets: deque[str] = deque()
        step_id, attempt, force_plan = "step", 0, False
        for _ in range(limit):
            body = call_body(
                steps=dict(memo),
                trigger=trigger,
                attempt=attempt,
                disable_immediate_execution=force_plan,
            )
            reply = await post_call(self.client, fn_id, body, step_id=step_id)
            if reply.status != 206:
                return reply
            self.calls.append((step_id, [f"{op['op']} {op['displayName']}" for op in reply.body]))
            force_plan = force_plan or len(reply.body) > 1
            retry = False
            for op in reply.body:
                kind = op["op"]
                if kind == "StepRun":
                    memo[op["id"]] = {"data": op.get("data")}
                elif kind == "StepError":
                    retry = True
                elif kind == "StepFailed":
                    memo[op["id"]] = {"error": op["error"]}
                elif kind == "StepPlanned":
                    targets.append(op["id"])
                elif kind == "Sleep":
                    memo[op["id"]] = None
                elif kind == "InvokeFunction":
                    memo[op["id"]] = await self.invoke(op["opts"])
                else:  # pragma: no cover - a failing test names the op
                    raise AssertionError(f"unexpected op {op!r}")
            if retry:
                attempt += 1
                continue
            attempt = 0
            if targets:
                step_id = targets.popleft()
            else:
                step_id, force_plan = "step", False
        raise AssertionError(f"run did not finish within {limit} calls")

    async def invoke(self, opts: dict[str, Any]) -> dict[str, Any]:
        fn_id = opts["function_id"].removeprefix(f"{APP_ID}-")
        payload = {"name": "inngest/function.invoked", "data": opts["payload"]["data"]}
        reply = await MultiOpExecutor(self.client).run(fn_id, payload)
        if reply.status == 200:
            return {"data": reply.body}
        return {"error": reply.body}


class Reserve(InngestFunction, id="reserve", event="shop/reserve"):
    @step("reserve")
    def reserve(self, ctx: Context) -> dict[str, Any]:
        if ctx.event.data["sku"] == "gone":
            raise NonRetriableError("out of stock")
        return {"reserved": ctx.event.data["sku"]}


class Order(InngestFunction, id="order", event="shop/order"):
    with parallel("prepare"):

        @step("price")
        def price(self, ctx: Context) -> dict[str, int]:
            calls["price"] += 1
            return {"price": 30}

        @step("tax")
        async def tax(self, ctx: Context) -> dict[str, int]:
            calls["tax"] += 1
            return {"tax": 3}

        sleep("1m")

    @invoke("reserve stock", function=Reserve)
    def reserve(self, ctx: Context) -> dict[str, Any]:
        return {"sku": ctx.event.data["sku"]}

    @send_event("confirm")
    def confirm(self, ctx: Context) -> dict[str, Any]:
        calls["confirm"] += 1
        return {"name": "shop/confirmed", "data": {"total": ctx.data["price"] + ctx.data["tax"]}}


async def served(aiohttp_client: AiohttpClient) -> tuple[TestClient[Any, Any], CapturingClient]:
    capturing = CapturingClient(APP_ID)
    app = web.Application()
    serve(app, capturing, [Order, Reserve])
    return await aiohttp_client(app), capturing


async def test_a_run_fans_out_invokes_and_sends_once(aiohttp_client: AiohttpClient) -> None:
    calls.clear()
    client, capturing = await served(aiohttp_client)
    executor = MultiOpExecutor(client)

    reply = await executor.run("order", event("shop/order", sku="hat"))

    assert reply.status == 200
    assert reply.body == {
        "price": 30,
        "tax": 3,
        "reserved": "hat",
        "reserve stock": {"reserved": "hat"},
        "confirm": capturing.sent_ids,
    }
    assert executor.calls[0] == ("step", ["StepPlanned price", "StepPlanned tax", "Sleep sleep 1m"])
    assert executor.calls[1] == (hash_step_id("price"), ["StepRun price"])
    assert executor.calls[2] == (hash_step_id("tax"), ["StepRun tax"])
    assert calls == {"price": 1, "tax": 1, "confirm": 1}
    [sent] = capturing.sent
    assert (sent.name, dict(sent.data)) == ("shop/confirmed", {"total": 33})
    assert sent.id is not None


async def test_a_failing_callee_fails_the_caller(aiohttp_client: AiohttpClient) -> None:
    client, capturing = await served(aiohttp_client)
    reply = await MultiOpExecutor(client).run("order", event("shop/order", sku="gone"))
    assert reply.status == 500
    assert reply.headers["X-Inngest-No-Retry"] == "true"
    assert reply.body["message"] == "out of stock"
    assert capturing.sent == []


async def test_group_members_without_the_group_are_not_run(aiohttp_client: AiohttpClient) -> None:
    """Discovery never runs a member inline, even with immediate execution allowed."""
    calls.clear()
    client, _ = await served(aiohttp_client)
    reply = await post_call(client, "order", call_body(trigger=event("shop/order", sku="x")))
    assert [op["op"] for op in reply.body] == ["StepPlanned", "StepPlanned", "Sleep"]
    assert calls == {}


# -- steps added at run time -----------------------------------------------------------------


class Batch(InngestFunction, id="batch", event="shop/batch"):
    @run("process")
    async def process(self, ctx: Context) -> dict[str, Any]:
        totals = [
            await ctx.step.run(f"price {sku}", lambda sku=sku: len(sku))
            for sku in ctx.event.data["skus"]
        ]
        checks = await ctx.step.parallel(("check a", lambda: "ok a"), ("check b", lambda: "ok b"))
        stock = await ctx.step.invoke("stock", function=Reserve, data={"sku": "hat"})
        await ctx.step.sleep("cool down", "1s")
        ids = await ctx.step.send_event("done", {"name": "shop/batch.done"})
        return {"totals": totals, "checks": checks, "stock": stock, "ids": ids}


async def test_dynamic_steps_run_through_the_handler(aiohttp_client: AiohttpClient) -> None:
    capturing = CapturingClient(APP_ID)
    app = web.Application()
    serve(app, capturing, [Batch, Reserve])
    client = await aiohttp_client(app)
    executor = MultiOpExecutor(client)

    reply = await executor.run("batch", event("shop/batch", skus=["a", "bb", "ccc"]))

    assert reply.status == 200
    assert reply.body == {
        "totals": [1, 2, 3],
        "checks": ["ok a", "ok b"],
        "stock": {"reserved": "hat"},
        "ids": capturing.sent_ids,
    }
    reported = [ops for _, ops in executor.calls]
    assert reported[:3] == [["StepRun price a"], ["StepRun price bb"], ["StepRun price ccc"]]
    assert reported[3] == ["StepPlanned check a", "StepPlanned check b"]
    assert [ops[0].split()[0] for ops in reported[6:]] == ["InvokeFunction", "Sleep", "StepRun"]
    assert len(capturing.sent) == 1
