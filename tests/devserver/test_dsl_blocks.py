"""Parallel groups, invoke and send_event of the class DSL, run by the embedded dev server."""

from __future__ import annotations

from typing import Any

from inngest_dsl import Context, InngestFunction, invoke, parallel, send_event, sleep, step
from inngest_dsl.pytest_plugin import StartDevServer


class Quote(InngestFunction, id="quote", event="blocks/quote"):
    @step("price")
    def price(self, ctx: Context) -> dict[str, Any]:
        return {"price": 10 * ctx.event.data["qty"]}


class Checkout(InngestFunction, id="checkout", event="blocks/checkout"):
    with parallel("prepare"):

        @step("reserve")
        def reserve(self, ctx: Context) -> dict[str, bool]:
            return {"reserved": True}

        @step("score")
        async def score(self, ctx: Context) -> dict[str, int]:
            return {"score": 7}

        sleep("100ms")

    @invoke("get quote", function=Quote, timeout="30s")
    def quote(self, ctx: Context) -> dict[str, Any]:
        return {"qty": ctx.event.data["qty"]}

    @send_event("announce")
    def announce(self, ctx: Context) -> dict[str, Any]:
        return {"name": "blocks/checked-out", "data": {"price": ctx.data["price"]}}


class Listener(InngestFunction, id="listener", event="blocks/checked-out"):
    @step("note")
    def note(self, ctx: Context) -> dict[str, Any]:
        return {"heard": ctx.event.data["price"]}


async def test_parallel_invoke_and_send_event_run_on_the_dev_server(
    inngest_dev_server: StartDevServer,
) -> None:
    server = await inngest_dev_server([Checkout, Quote, Listener])
    [event_id] = await server.send("blocks/checkout", {"qty": 3})

    run = await server.wait_for_run(event_id, "Completed", function=Checkout)

    assert run.output["reserved"] is True
    assert run.output["score"] == 7
    assert run.output["price"] == 30
    [sent_id] = run.output["announce"]
    assert run.step("get quote")["kind"] == "InvokeFunction"
    assert {run.step(name)["status"] for name in ("reserve", "score", "sleep 100ms")} == {
        "Completed"
    }
    heard = await server.wait_for_run(sent_id, "Completed", function=Listener)
    assert heard.output == {"heard": 30}
