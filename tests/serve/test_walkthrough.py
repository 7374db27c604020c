"""The seed's walk-through, driven call by call as the executor would drive it."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest

from inngest_dsl import Context, InngestFunction, run, sleep, sleep_until, step

from .conftest import AiohttpClient, Executor, event, make_client

calls: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def reset_counts() -> None:
    calls.clear()


class Fulfil(InngestFunction, id="fulfil", event="shop/order"):
    @run("log start")
    def log_start(self, ctx: Context) -> None:
        calls["log start"] += 1

    @step("reserve stock")
    async def reserve(self, ctx: Context) -> dict[str, str]:
        calls["reserve stock"] += 1
        return {"reservation": "R1"}

    sleep("1h")

    @step("charge card")
    def charge(self, ctx: Context) -> dict[str, str]:
        calls["charge card"] += 1
        # Later keys win: this replaces the reservation folded in from "reserve stock".
        return {"charge": "C1", "reservation": f"{ctx['reservation']}-confirmed"}

    sleep("30m")

    @run("load settings")
    async def settings(self, ctx: Context) -> dict[str, Any]:
        calls["load settings"] += 1
        return {"settings": {"carrier": "post"}}

    @sleep_until("ship at")
    def ship_at(self, ctx: Context) -> dt.datetime:
        calls["ship at"] += 1
        return dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)

    @step("ship")
    async def ship(self, ctx: Context) -> dict[str, str]:
        calls["ship"] += 1
        return {"tracking": f"T-{ctx['settings']['carrier']}"}

    @step("count items")
    def count(self, ctx: Context) -> int:
        calls["count items"] += 1
        return len(ctx.event.data["items"])

    @step("notify")
    async def notify(self, ctx: Context) -> None:
        calls["notify"] += 1

    @run("summarise")
    def summarise(self, ctx: Context) -> dict[str, str]:
        calls["summarise"] += 1
        return {"summary": f"{ctx['reservation']} {ctx['tracking']} x{ctx['count items']}"}


async def test_walk_through_to_completion(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Fulfil])
    executor = Executor(client, "fulfil", trigger=event(items=["a", "b", "c"]))
    final = await executor.run()

    assert final.status == 200
    assert final.body == {
        "reservation": "R1-confirmed",
        "charge": "C1",
        "settings": {"carrier": "post"},
        "tracking": "T-post",
        "count items": 3,
        "notify": None,  # a step that returned None is stored as null
        "summary": "R1-confirmed T-post x3",
    }
    ops = [reply.body[0]["op"] for reply in executor.replies[:-1]]
    assert ops == ["StepRun", "Sleep", "StepRun", "Sleep", "Sleep", "StepRun", "StepRun", "StepRun"]
    sleeps = [r.body[0] for r in executor.replies if r.status == 206 and r.body[0]["op"] == "Sleep"]
    assert [s["name"] for s in sleeps] == ["1h", "30m", "2030-01-02T03:04:05.000Z"]
    assert [s["opts"]["duration"] for s in sleeps] == ["1h", "30m", "2030-01-02T03:04:05.000Z"]
    # "notify" returned None: reported with a null result, stored as null in the data.
    notify = executor.replies[-2].body[0]
    assert (notify["displayName"], "data" in notify, notify["data"]) == ("notify", True, None)

    # Memoised steps never re-run; run blocks re-run on every call that reaches them.
    assert executor.calls == 9
    assert calls == {
        "log start": 9,
        "reserve stock": 1,
        "charge card": 1,
        "load settings": 5,  # the calls after the second sleep finished
        "ship at": 1,  # its body runs only while it is the first unfinished op
        "ship": 1,
        "count items": 1,
        "notify": 1,
        "summarise": 1,
    }


async def test_walk_through_with_planned_steps(aiohttp_client: AiohttpClient) -> None:
    """With immediate execution disabled every step is planned, then run by a targeted call."""
    client = await make_client(aiohttp_client, [Fulfil])
    executor = Executor(client, "fulfil", trigger=event(items=["a"]), always_plan=True)
    final = await executor.run()

    assert final.status == 200
    assert final.body["summary"] == "R1-confirmed T-post x1"
    ops = [reply.body[0]["op"] for reply in executor.replies[:-1]]
    assert ops.count("StepPlanned") == 5
    assert ops.count("StepRun") == 5
    assert calls["reserve stock"] == calls["ship"] == calls["notify"] == 1
    # Each planned step was run by the call that targeted its hash.
    for planned, ran in zip(executor.replies, executor.replies[1:], strict=False):
        if planned.status == 206 and planned.body[0]["op"] == "StepPlanned":
            assert ran.body[0]["op"] == "StepRun"
            assert ran.body[0]["id"] == planned.body[0]["id"]
