"""Cancellation, timeouts, singletons, failure handlers and the newer blocks, end to end.

Functions written with the class DSL, served by `inngest_dsl.aiohttp.serve` and run by the
embedded dev server (the `inngest_dev_server` fixture). Each test checks an effect from inside
the step bodies; timing checks are orderings and counts, never exact times.
"""

from __future__ import annotations

import asyncio
import time
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
from inngest_dsl.pytest_plugin import StartDevServer

from .conftest import wait_until

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


async def test_a_matching_cancel_event_stops_a_sleeping_run_and_another_id_does_not(
    inngest_dev_server: StartDevServer,
) -> None:
    after_sleep.clear()
    server = await inngest_dev_server([Cancellable])
    [one] = await server.send("life/started", {"id": 1})
    [two] = await server.send("life/started", {"id": 2})
    await server.wait_for_step(one, "sleep 2s", "Sleeping")
    await server.wait_for_step(two, "sleep 2s", "Sleeping")

    await server.send("life/stopped", {"id": 1})

    cancelled = await server.wait_for_run(one, "Cancelled")
    completed = await server.wait_for_run(two, "Completed", timeout=10)
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


async def test_a_finish_timeout_cancels_a_long_sleeping_run(
    inngest_dev_server: StartDevServer,
) -> None:
    finished_late.clear()
    server = await inngest_dev_server([Deadline])
    [event_id] = await server.send("life/deadline", {})

    run = await server.wait_for_run(event_id, "Cancelled", timeout=10)

    assert run.step("start")["status"] == "Completed"
    assert run.step("sleep 30s")["status"] == "Sleeping"  # cut short, never woke
    assert finished_late == []
    assert "timeout" in (run.reason or "").lower(), run


# -- singletons -------------------------------------------------------------------------------

skip_release = asyncio.Event()
skip_entered: list[int] = []


class SkipSingleton(
    InngestFunction, id="skip-singleton", event="life/skip", singleton=Singleton(mode="skip")
):
    @step("work")
    async def work(self, ctx: Context) -> int:
        skip_entered.append(ctx.event.data["n"])
        await skip_release.wait()
        return int(ctx.event.data["n"])


async def test_a_skip_singleton_drops_runs_while_one_is_in_progress(
    inngest_dev_server: StartDevServer,
) -> None:
    global skip_release
    skip_release = asyncio.Event()
    skip_entered.clear()
    server = await inngest_dev_server([SkipSingleton])
    [first] = await server.send("life/skip", {"n": 1})
    await wait_until(lambda: skip_entered == [1])

    [second] = await server.send("life/skip", {"n": 2})
    skipped = await server.wait_for_run(second, "Skipped")
    skip_release.set()
    done = await server.wait_for_run(first)
    [after] = await server.send("life/skip", {"n": 3})  # the slot is free again
    await wait_until(lambda: skip_entered == [1, 3])
    third = await server.wait_for_run(after)

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


async def test_a_cancel_singleton_replaces_the_run_in_progress(
    inngest_dev_server: StartDevServer,
) -> None:
    cancel_mode_done.clear()
    server = await inngest_dev_server([CancelSingleton])
    [old] = await server.send("life/replace", {"n": 1, "nap": True})
    await server.wait_for_step(old, "nap", "Sleeping")

    [new] = await server.send("life/replace", {"n": 2})

    replaced = await server.wait_for_run(old, "Cancelled")
    replacement = await server.wait_for_run(new)
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


async def test_a_failed_run_makes_its_failure_handler_run_with_the_event_and_error(
    inngest_dev_server: StartDevServer,
) -> None:
    failures_seen.clear()
    charge_attempts.clear()
    server = await inngest_dev_server([Charge])
    [event_id] = await server.send("life/charge", {"card": "4242"})

    failed = await server.wait_for_run(event_id, "Failed")
    [handler] = await server.wait_for_runs(1, "charge-failure")

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
spans: dict[str, tuple[float, float]] = {}


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
    started = time.monotonic()
    await asyncio.sleep(0.3)
    spans[name] = (started, time.monotonic())
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


async def test_invoke_send_event_and_a_parallel_group_work_together(
    inngest_dev_server: StartDevServer,
) -> None:
    listener_calls.clear()
    spans.clear()
    server = await inngest_dev_server([Order, Price, Listener])
    [event_id] = await server.send("life/order", {"order": "o-1", "qty": 4})

    order = await server.wait_for_run(event_id, function=Order, timeout=15)
    [sent_id] = order.output["announce"]
    heard = await server.wait_for_run(sent_id, function=Listener)

    assert order.output["price"] == 40  # the callee's output, folded into ctx.data
    assert order.output["both"] is True
    assert heard.output == {"heard": "o-1"}
    [price_run] = await server.runs(Price)
    assert price_run.status == "Completed"
    # The two steps of the group ran side by side: each started before the other ended.
    assert spans["pack"][0] < spans["label"][1]
    assert spans["label"][0] < spans["pack"][1]
    # The send happened exactly once, and so did the run it triggered.
    assert listener_calls == {"o-1": 1}
    assert len(await server.runs(Listener)) == 1


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


async def test_a_runtime_sized_loop_of_steps_processes_every_item_once(
    inngest_dev_server: StartDevServer,
) -> None:
    processed.clear()
    server = await inngest_dev_server([Loop])
    items = list(range(25))
    [event_id] = await server.send("life/items", {"items": items})

    run = await server.wait_for_run(event_id, timeout=20)

    assert run.output["squares"] == [i * i for i in items]
    assert run.output["total"] == sum(i * i for i in items)
    assert processed == dict.fromkeys(items, 1)
    assert [s["name"] for s in run.steps if s["name"].startswith("item ")] == [
        f"item {i}" for i in items
    ]
