"""Several triggers and cron jitter in the testing kit: `TestEnvironment` and `run_function`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from inngest_dsl import (
    Context,
    CronTrigger,
    EventTrigger,
    InngestFunction,
    parallel,
    sleep,
    step,
)
from inngest_dsl.testing import (
    RunFunctionError,
    TestEnvironment,
    run_function,
    run_function_sync,
)

START = "2026-01-01T00:00:00Z"


class Watch(
    InngestFunction,
    id="watch",
    triggers=[
        EventTrigger("shop/order.paid", expression="event.data.total > 100"),
        EventTrigger("shop/refund.*"),
        EventTrigger("shop/any"),
        CronTrigger("0 9 * * *"),
    ],
):
    @step("look")
    async def look(self, ctx: Context) -> dict[str, Any]:
        return {"name": ctx.event.name}


class Jittery(InngestFunction, id="jittery", cron="0 9 * * *", jitter="5m"):
    @step("tick")
    async def tick(self, ctx: Context) -> dict[str, Any]:
        return {"scheduled": ctx.event.data["scheduledAt"], "fired": ctx.event.data["fireAt"]}


async def test_each_matching_trigger_starts_one_run_per_event() -> None:
    async with TestEnvironment([Watch], now=START) as env:
        await env.send({"name": "shop/order.paid", "data": {"total": 50}})  # filtered out
        await env.send({"name": "shop/order.paid", "data": {"total": 500}})
        await env.send({"name": "shop/refund.asked"})
        await env.send({"name": "shop/other"})
        await env.advance("10h")  # the 9 o'clock schedule
        runs = await env.runs(Watch)
    names = sorted(run.output["name"] for run in runs)
    assert names == ["inngest/scheduled.timer", "shop/order.paid", "shop/refund.asked"]


async def test_an_event_matching_two_triggers_starts_one_run() -> None:
    class Twice(
        InngestFunction,
        id="twice",
        triggers=[EventTrigger("shop/*"), EventTrigger("shop/a", expression="true")],
    ):
        @step("s")
        async def s(self, ctx: Context) -> int:
            return 1

    async with TestEnvironment([Twice], now=START) as env:
        await env.send({"name": "shop/a"})
        assert len(await env.runs(Twice)) == 1


def _delays(runs: list[Any]) -> list[float]:
    def at(text: str) -> dt.datetime:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))

    return [
        (at(r.output["fired"]) - at(r.output["scheduled"])).total_seconds()
        for r in sorted(runs, key=lambda r: str(r.output["scheduled"]))
    ]


async def test_jitter_delays_each_cron_run_by_up_to_the_jitter_reproducibly() -> None:
    async def delays(seed: int) -> list[float]:
        async with TestEnvironment([Jittery], now=START, seed=seed) as env:
            await env.advance("3d")
            runs = await env.runs(Jittery)
        scheduled = sorted(str(r.output["scheduled"]) for r in runs)
        assert scheduled == [f"2026-01-0{day}T09:00:00.000Z" for day in (1, 2, 3)]
        return _delays(runs)

    first = await delays(7)
    assert all(0 <= d <= 300 for d in first)
    assert len(set(first)) == 3  # a fresh delay for each fire time
    assert await delays(7) == first
    assert await delays(8) != first


async def test_run_function_gives_a_cron_function_a_timer_event() -> None:
    result = await run_function(Jittery)
    assert result.output is not None
    assert set(result.output) == {"scheduled", "fired"}


async def test_run_function_gives_a_multi_trigger_function_its_first_event() -> None:
    result = await run_function(Watch)
    assert result.output == {"name": "shop/order.paid"}


class Quick(InngestFunction, id="quick", event="shop/quick"):
    with parallel("answer", mode="race"):

        @step("cache")
        async def cache(self, ctx: Context) -> dict[str, str]:
            return {"answer": "cached"}

        sleep("1h")

    @step("reply")
    async def reply(self, ctx: Context) -> dict[str, Any]:
        return {"replied": ctx.data.get("answer")}


async def test_run_function_runs_a_race_group() -> None:
    result = await run_function(Quick)
    assert result.output == {"answer": "cached", "replied": "cached"}


def test_run_function_refuses_an_event_the_trigger_expression_rejects() -> None:
    small = {"name": "shop/order.paid", "data": {"total": 5}}
    with pytest.raises(RunFunctionError) as caught:
        run_function_sync(Watch, small)

    assert str(caught.value) == (
        "function 'watch' would not be triggered by this 'shop/order.paid' event: its trigger's "
        "expression 'event.data.total > 100' is not true for it (data: {\"total\":5}); give an "
        "event the function would run for"
    )
    with pytest.raises(RunFunctionError, match="would not be triggered"):
        run_function_sync(Watch, events=[{"name": "shop/any"}, small])


def test_run_function_runs_an_event_the_trigger_expression_accepts() -> None:
    result = run_function_sync(Watch, {"name": "shop/order.paid", "data": {"total": 500}})

    assert result.output == {"name": "shop/order.paid"}
