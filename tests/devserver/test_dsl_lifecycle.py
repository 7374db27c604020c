"""Cancellation, timeouts, singletons, failure handlers and the newer blocks, end to end.

Functions written with the class DSL run on the dev server's engine in a `TestEnvironment`
(in memory, on virtual time, called in-process). Each test checks an effect from inside the
step bodies; slow work is `busy(...)`, and every time measured is virtual.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from inngest_dsl import (
    Cancel,
    Context,
    Failure,
    InngestFunction,
    Singleton,
    Timeouts,
    invoke,
    on_failure,
    parallel,
    run,
    send_event,
    sleep,
    step,
)

from .dsl_env import (
    all_ended,
    busy,
    ended,
    environment,
    instant,
    run_of,
    step_status,
    virtual_now,
)

# -- cancellation and timeouts ----------------------------------------------------------------

after_sleep: list[int] = []


class Cancellable(
    InngestFunction,
    id="cancellable",
    event="life/started",
    cancel_on=Cancel(event="life/stopped", match="data.id"),
):
    @step("first")
    def first(self, ctx: Context) -> int:
        return int(ctx.event.data["id"])

    sleep("2s")

    @step("after the sleep")
    def after(self, ctx: Context) -> None:
        after_sleep.append(ctx.event.data["id"])


async def test_a_matching_cancel_event_stops_a_sleeping_run_and_another_id_does_not() -> None:
    after_sleep.clear()
    async with environment([Cancellable]) as env:
        [one] = await env.send({"name": "life/started", "data": {"id": 1}})
        [two] = await env.send({"name": "life/started", "data": {"id": 2}})
        assert await step_status(env, one, "sleep 2s") == "Sleeping"
        assert await step_status(env, two, "sleep 2s") == "Sleeping"

        await env.send({"name": "life/stopped", "data": {"id": 1}})

        cancelled = await ended(env, one, "Cancelled")
        completed = await ended(env, two, "Completed")
        await env.advance("1d")  # long past the end of run 1's sleep
    assert after_sleep == [2]  # run 1 never woke, though its sleep is long over
    assert cancelled.step("first")["status"] == "Completed"
    assert "after the sleep" not in [s["name"] for s in cancelled.steps]
    assert completed.step("after the sleep")["status"] == "Completed"


finished_late: list[str] = []


class Deadline(
    InngestFunction, id="deadline", event="life/deadline", timeouts=Timeouts(finish="1s")
):
    @step("start")
    def start(self, ctx: Context) -> str:
        return "started"

    sleep("30s")

    @step("too late")
    def too_late(self, ctx: Context) -> None:
        finished_late.append("ran")


async def test_a_finish_timeout_cancels_a_long_sleeping_run() -> None:
    finished_late.clear()
    async with environment([Deadline]) as env:
        [event_id] = await env.send({"name": "life/deadline"})

        run = await ended(env, event_id, "Cancelled")
        await env.advance("1m")  # past the end of the sleep: it never wakes

    # Cancelled when the timeout came, long before the sleep would have ended.
    lasted = instant(run.raw["ended_at"]) - instant(run.raw["started_at"])
    assert dt.timedelta(seconds=1) <= lasted < dt.timedelta(seconds=30)

    assert run.step("start")["status"] == "Completed"
    sleep = run.step("sleep 30s")  # cut short, never woke: it ends with the run
    assert sleep["status"] == "Cancelled"
    assert sleep["ended_at"] == run.raw["ended_at"]
    assert finished_late == []
    assert "timeout" in (run.reason or "").lower(), run


# -- singletons -------------------------------------------------------------------------------

skip_entered: list[int] = []


class SkipSingleton(
    InngestFunction, id="skip-singleton", event="life/skip", singleton=Singleton(mode="skip")
):
    @step("work")
    async def work(self, ctx: Context) -> int:
        skip_entered.append(ctx.event.data["n"])
        await busy("1m")  # in progress for a while
        return int(ctx.event.data["n"])


async def test_a_skip_singleton_drops_runs_while_one_is_in_progress() -> None:
    skip_entered.clear()
    async with environment([SkipSingleton]) as env:
        [first] = await env.send({"name": "life/skip", "data": {"n": 1}})
        assert skip_entered == [1]

        [second] = await env.send({"name": "life/skip", "data": {"n": 2}})
        skipped = await run_of(env, second)
        assert skipped.status == "Skipped"
        done = await ended(env, first)
        [after] = await env.send({"name": "life/skip", "data": {"n": 3}})  # the slot is free
        assert skip_entered == [1, 3]
        third = await ended(env, after)

    assert done.output == {"work": 1}
    assert third.output == {"work": 3}
    assert "singleton" in (skipped.reason or "")
    assert skip_entered == [1, 3]


cancel_mode_done: list[int] = []


class CancelSingleton(
    InngestFunction, id="cancel-singleton", event="life/replace", singleton=Singleton(mode="cancel")
):
    @run("work")
    async def work(self, ctx: Context) -> dict[str, int]:
        n = int(ctx.event.data["n"])
        if ctx.event.data.get("nap"):
            await ctx.step.sleep("nap", "30s")
        await ctx.step.run("finish", cancel_mode_done.append, n)
        return {"n": n}


async def test_a_cancel_singleton_replaces_the_run_in_progress() -> None:
    cancel_mode_done.clear()
    async with environment([CancelSingleton]) as env:
        [old] = await env.send({"name": "life/replace", "data": {"n": 1, "nap": True}})
        assert await step_status(env, old, "nap") == "Sleeping"

        [new] = await env.send({"name": "life/replace", "data": {"n": 2}})

        replaced = await ended(env, old, "Cancelled")
        replacement = await ended(env, new)
        await env.advance("1m")  # past the end of the replaced run's nap
    assert replacement.output == {"n": 2}
    assert cancel_mode_done == [2]
    assert "singleton" in (replaced.reason or "")


# -- failure handlers -------------------------------------------------------------------------

failures_seen: list[dict[str, Any]] = []
charge_attempts: list[int] = []


class Charge(InngestFunction, id="charge", event="life/charge", retries=0):
    @step("charge card")
    def charge(self, ctx: Context) -> None:
        charge_attempts.append(ctx.attempt)
        raise ValueError(f"card {ctx.event.data['card']} declined")

    @on_failure
    async def report(self, ctx: Context, failure: Failure) -> str:
        failures_seen.append(
            {
                "event": failure.event.name,
                "data": failure.event.data,
                "error": (failure.error.name, str(failure.error)),
                "run_id": failure.run_id,
                "function_id": failure.function_id,
            }
        )
        return "reported"


async def test_a_failed_run_makes_its_failure_handler_run_with_the_event_and_error() -> None:
    failures_seen.clear()
    charge_attempts.clear()
    async with environment([Charge]) as env:
        [event_id] = await env.send({"name": "life/charge", "data": {"card": "4242"}})

        failed = await ended(env, event_id, "Failed")
        [handler] = await all_ended(env, 1, "charge-failure")

    assert charge_attempts == [0]  # retries=0: one attempt
    assert handler.output == {"report": "reported"}
    [seen] = failures_seen
    assert seen["event"] == "life/charge"
    assert seen["data"] == {"card": "4242"}
    assert seen["error"][0] == "ValueError"
    assert "card 4242 declined" in seen["error"][1]
    assert seen["run_id"] == failed.run_id
    assert seen["function_id"] == "test-app-charge"


# -- invoke, send_event, parallel groups, steps added at run time ---------------------------------

listener_calls: Counter[str] = Counter()
spans: dict[str, tuple[dt.datetime, dt.datetime]] = {}


class Price(InngestFunction, id="price", event="life/price"):
    @step("price")
    def price(self, ctx: Context) -> dict[str, int]:
        return {"price": 10 * int(ctx.event.data["qty"])}


class Listener(InngestFunction, id="listener", event="life/ordered"):
    @step("hear")
    def hear(self, ctx: Context) -> dict[str, Any]:
        listener_calls[ctx.event.data["order"]] += 1
        return {"heard": ctx.event.data["order"]}


async def _timed(name: str) -> dict[str, str]:
    started = virtual_now()
    await busy("300ms")
    spans[name] = (started, virtual_now())
    return {name: "done"}


class Order(InngestFunction, id="order", event="life/order"):
    with parallel("prepare"):

        @step("pack")
        async def pack(self, ctx: Context) -> dict[str, str]:
            return await _timed("pack")

        @step("label")
        async def label(self, ctx: Context) -> dict[str, str]:
            return await _timed("label")

    @step("fan in")
    def fan_in(self, ctx: Context) -> dict[str, bool]:
        return {"both": ctx.data["pack"] == "done" and ctx.data["label"] == "done"}

    @invoke("get price", function=Price, timeout="30s")
    def get_price(self, ctx: Context) -> dict[str, Any]:
        return {"qty": ctx.event.data["qty"]}

    @send_event("announce")
    def announce(self, ctx: Context) -> dict[str, Any]:
        return {"name": "life/ordered", "data": {"order": ctx.event.data["order"]}}


async def test_invoke_send_event_and_a_parallel_group_work_together() -> None:
    listener_calls.clear()
    spans.clear()
    async with environment([Order, Price, Listener]) as env:
        [event_id] = await env.send({"name": "life/order", "data": {"order": "o-1", "qty": 4}})

        order = await ended(env, event_id, function=Order)
        [sent_id] = order.output["announce"]
        heard = await ended(env, sent_id, function=Listener)
        await env.advance("1d")  # room for a (wrong) second send or run to show up

        assert order.output["price"] == 40  # the callee's output, folded into ctx.data
        assert order.output["both"] is True
        assert heard.output == {"heard": "o-1"}
        [price_run] = await env.runs(Price)
        assert price_run.status == "Completed"
        listener_runs = await env.runs(Listener)
    # The two steps of the group ran side by side: each started before the other ended.
    assert spans["pack"][0] < spans["label"][1]
    assert spans["label"][0] < spans["pack"][1]
    # The send happened exactly once, and so did the run it triggered.
    assert listener_calls == {"o-1": 1}
    assert len(listener_runs) == 1


processed: Counter[int] = Counter()


def _process(item: int) -> int:
    processed[item] += 1
    return item * item


class Loop(InngestFunction, id="loop", event="life/items"):
    @run("process every item")
    async def process(self, ctx: Context) -> dict[str, Any]:
        squares = [await ctx.step.run(f"item {i}", _process, i) for i in ctx.event.data["items"]]
        return {"squares": squares}

    @step("total")
    def total(self, ctx: Context) -> int:
        return sum(ctx.data["squares"])


async def test_a_runtime_sized_loop_of_steps_processes_every_item_once() -> None:
    processed.clear()
    async with environment([Loop]) as env:
        items = list(range(25))
        [event_id] = await env.send({"name": "life/items", "data": {"items": items}})

        run = await ended(env, event_id)

    assert run.output["squares"] == [i * i for i in items]
    assert run.output["total"] == sum(i * i for i in items)
    assert processed == dict.fromkeys(items, 1)
    assert [s["name"] for s in run.steps if s["name"].startswith("item ")] == [
        f"item {i}" for i in items
    ]
