"""Invoke, send_event, parallel and ctx.step as users write them: must pass `mypy --strict`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from inngest_dsl import (
    Context,
    Event,
    InngestFunction,
    invoke,
    parallel,
    run,
    send_event,
    sleep,
    step,
    wait_for_event,
)


class ChargeCard(InngestFunction, event="shop/charge"):
    @step("charge")
    def charge(self, ctx: Context) -> dict[str, int]:
        return {"charged": 1}


async def fetch_price(sku: str) -> float:
    return 9.5


def count(items: list[str]) -> int:
    return len(items)


class Checkout(InngestFunction, event="shop/checkout"):
    with parallel("reserve and price"):

        @step("reserve")
        async def reserve(self, ctx: Context) -> dict[str, bool]:
            return {"reserved": True}

        sleep("1s")
        wait_for_event("shop/approved", timeout="1h")

    invoke("charge", function=ChargeCard, data={"amount": 3}, timeout=dt.timedelta(hours=1))

    @invoke("charge again", function="shop-charge-card")
    def charge_again(self, ctx: Context) -> dict[str, Any]:
        return {"amount": 3}

    send_event("announce", events={"name": "shop/announced"})

    @send_event("receipts")
    def receipts(self, ctx: Context) -> list[Event]:
        return [Event("shop/receipt", {"n": 1})]

    @run("dynamic")
    async def dynamic(self, ctx: Context) -> dict[str, Any]:
        prices: list[float] = [
            await ctx.step.run(f"price {sku}", fetch_price, sku) for sku in ["a", "b"]
        ]
        n: int = await ctx.step.run("count", count, ["x"])
        await ctx.step.sleep("nap", "1s")
        await ctx.step.sleep_until("later", "2031-01-01T00:00:00Z")
        reply: Event | None = await ctx.step.wait_for_event(
            "reply", event="shop/reply", timeout="1h", match="data.id"
        )
        result: Any = await ctx.step.invoke("call", function=ChargeCard, data={"a": 1})
        ids: list[str] = await ctx.step.send_event("tell", {"name": "shop/told"})
        both: list[Any] = await ctx.step.parallel(("x", count, ["a"]), ("y", fetch_price, "z"))
        return {"prices": prices, "n": n, "reply": reply, "r": result, "ids": ids, "b": both}
