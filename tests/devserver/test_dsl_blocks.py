"""Parallel groups, invoke and send_event of the class DSL, run by the dev server's engine.

The functions run in a `TestEnvironment`: the dev server's engine in memory, on virtual time,
calling them in-process.
"""

from __future__ import annotations

from typing import Any

from inngest_dsl import (
    Context,
    InngestFunction,
    invoke,
    parallel,
    run,
    send_event,
    sleep,
    step,
)

from .dsl_env import ended, environment


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


async def test_parallel_invoke_and_send_event_run_on_the_dev_server() -> None:
    async with environment([Checkout, Quote, Listener]) as env:
        [event_id] = await env.send({"name": "blocks/checkout", "data": {"qty": 3}})

        run = await ended(env, event_id, "Completed", function=Checkout)

        assert run.output["reserved"] is True
        assert run.output["score"] == 7
        assert run.output["price"] == 30
        [sent_id] = run.output["announce"]
        assert run.step("get quote")["kind"] == "InvokeFunction"
        assert {run.step(name)["status"] for name in ("reserve", "score", "sleep 100ms")} == {
            "Completed"
        }
        heard = await ended(env, sent_id, "Completed", function=Listener)
        assert heard.output == {"heard": 30}


processed: list[str] = []


def handle(item: str) -> str:
    processed.append(item)
    return item.upper()


class Items(InngestFunction, id="items", event="blocks/items"):
    """A runtime-sized loop of steps, a runtime fan-out, an invoke and a send."""

    @run("process")
    async def process(self, ctx: Context) -> dict[str, Any]:
        done = [
            await ctx.step.run(f"process {item}", handle, item) for item in ctx.event.data["items"]
        ]
        pair = await ctx.step.parallel(("left", handle, "l"), ("right", handle, "r"))
        quote = await ctx.step.invoke("quote", function=Quote, data={"qty": len(done)})
        await ctx.step.sleep("breathe", "50ms")
        sent = await ctx.step.send_event(
            "report", {"name": "blocks/checked-out", "data": {"price": 1}}
        )
        return {"done": done, "pair": pair, "quote": quote, "sent": sent}

    @step("after")
    async def after(self, ctx: Context) -> dict[str, Any]:
        return {"count": await ctx.step.run("count", lambda: len(ctx.data["done"]))}


async def test_steps_added_at_run_time_run_on_the_dev_server() -> None:
    processed.clear()
    async with environment([Items, Quote, Listener]) as env:
        [event_id] = await env.send(
            {"name": "blocks/items", "data": {"items": ["a", "b", "c", "b"]}}
        )

        run = await ended(env, event_id, "Completed", function=Items)

        assert run.output["done"] == ["A", "B", "C", "B"]
        assert run.output["pair"] == ["L", "R"]
        assert run.output["quote"] == {"price": 40}
        assert run.output["count"] == 4
        assert sorted(processed) == ["a", "b", "b", "c", "l", "r"]  # each step ran once
        names = [s["name"] for s in run.steps]
        assert names.count("process b") == 2
        assert {"left", "right", "quote", "breathe", "report", "after", "count"} <= set(names)
        [sent_id] = run.output["sent"]
        await ended(env, sent_id, "Completed", function=Listener)
