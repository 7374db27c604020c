"""Flow control options of the class DSL, served by `inngest_dsl.aiohttp.serve`, on the dev server.

Each test declares functions with class keywords as a user would, runs them end to end on the
embedded dev server (through `inngest_dev_server`) and checks the option's effect from inside
the step bodies. Timing checks are orderings, counts or lower bounds, never exact times.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from inngest_dsl import (
    Batch,
    Concurrency,
    Context,
    Debounce,
    InngestFunction,
    Priority,
    RateLimit,
    Throttle,
    step,
)
from inngest_dsl.pytest_plugin import StartDevServer

from .conftest import InFlight, wait_until

# -- concurrency ----------------------------------------------------------------------------

limited_in_flight = InFlight()


class Limited(InngestFunction, id="limited", event="flow/limited", concurrency=2):
    @step("work")
    async def work(self, ctx: Context) -> dict[str, int]:
        with limited_in_flight:
            await asyncio.sleep(0.1)
        return {"n": ctx.event.data["n"]}


async def test_ten_runs_with_concurrency_two_never_run_more_than_two_steps_at_once(
    inngest_dev_server: StartDevServer,
) -> None:
    limited_in_flight.reset()
    server = await inngest_dev_server([Limited])
    await server.send([{"name": "flow/limited", "data": {"n": n}} for n in range(10)])

    runs = await server.wait_for_runs(10, Limited, timeout=20)

    assert sorted(run.output["n"] for run in runs) == list(range(10))
    assert limited_in_flight.most == 2  # never more, and the limit was reached


per_user: dict[str, InFlight] = {}
everyone = InFlight()


class PerUser(
    InngestFunction,
    id="per-user",
    event="flow/per-user",
    concurrency=Concurrency(limit=1, key="event.data.user"),
):
    @step("work")
    async def work(self, ctx: Context) -> str:
        user = ctx.event.data["user"]
        with per_user.setdefault(user, InFlight()), everyone:
            await asyncio.sleep(0.15)
        return str(user)


async def test_a_keyed_limit_serialises_one_key_and_lets_other_keys_run_alongside(
    inngest_dev_server: StartDevServer,
) -> None:
    per_user.clear()
    everyone.reset()
    server = await inngest_dev_server([PerUser])
    users = ["a", "b", "a", "b", "a", "b"]
    await server.send([{"name": "flow/per-user", "data": {"user": u}} for u in users])

    runs = await server.wait_for_runs(6, PerUser, timeout=20)

    assert sorted(run.output["work"] for run in runs) == sorted(users)
    assert per_user["a"].most == 1
    assert per_user["b"].most == 1
    assert everyone.most == 2  # a's and b's runs did overlap


# -- priority -------------------------------------------------------------------------------

priority_started: list[str] = []
release_blocker = asyncio.Event()


class Prioritised(
    InngestFunction,
    id="prioritised",
    event="flow/prioritised",
    concurrency=1,
    priority=Priority(run="event.data.prio"),
):
    @step("work")
    async def work(self, ctx: Context) -> str:
        name = str(ctx.event.data["name"])
        priority_started.append(name)
        if name == "blocker":
            await release_blocker.wait()
        return name


async def test_priority_orders_runs_queued_behind_a_concurrency_limit(
    inngest_dev_server: StartDevServer,
) -> None:
    global release_blocker
    release_blocker = asyncio.Event()  # bound to this test's loop
    priority_started.clear()
    server = await inngest_dev_server([Prioritised])
    await server.send("flow/prioritised", {"name": "blocker", "prio": 0})
    await wait_until(lambda: priority_started == ["blocker"])
    for name, prio in (("low", -100), ("plain", 0), ("high", 300)):
        await server.send("flow/prioritised", {"name": name, "prio": prio})
    deadline = time.monotonic() + 10
    while len(await server.runs(Prioritised, status="Queued")) < 3:
        assert time.monotonic() < deadline, "the three runs were never queued"
        await asyncio.sleep(0.02)

    release_blocker.set()
    await server.wait_for_runs(4, Prioritised, timeout=10)

    assert priority_started == ["blocker", "high", "plain", "low"]


# -- debounce and batches -------------------------------------------------------------------

debounced_calls: Counter[int] = Counter()


class Debounced(
    InngestFunction, id="debounced", event="flow/debounced", debounce=Debounce(period="1s")
):
    @step("work")
    async def work(self, ctx: Context) -> dict[str, int]:
        debounced_calls[ctx.event.data["n"]] += 1
        return {"n": ctx.event.data["n"]}


async def test_a_burst_of_events_runs_once_with_the_last_one_after_the_quiet_period(
    inngest_dev_server: StartDevServer,
) -> None:
    debounced_calls.clear()
    server = await inngest_dev_server([Debounced])
    ids = []
    for n in range(5):
        ids += await server.send("flow/debounced", {"n": n})
        await asyncio.sleep(0.05)  # a burst: each event well within the period of the last

    run = await server.wait_for_run(ids[-1], timeout=10)

    assert run.output == {"n": 4}
    assert [event["data"] for event in run.events] == [{"n": 4}]
    assert debounced_calls == {4: 1}
    assert [r.run_id for r in await server.runs(Debounced)] == [run.run_id]


batched_sizes: list[int] = []


class Batched(
    InngestFunction,
    id="batched",
    event="flow/batched",
    batch_events=Batch(max_size=3, timeout="1s"),
):
    @step("sum")
    async def total(self, ctx: Context) -> dict[str, Any]:
        batched_sizes.append(len(ctx.events))
        return {"ns": [event.data["n"] for event in ctx.events], "first": ctx.event.data["n"]}


async def test_a_full_batch_runs_at_once_and_a_partial_one_after_its_timeout(
    inngest_dev_server: StartDevServer,
) -> None:
    batched_sizes.clear()
    server = await inngest_dev_server([Batched])
    full = await server.send([{"name": "flow/batched", "data": {"n": n}} for n in range(3)])
    run = await server.wait_for_run(full[0], timeout=10)
    assert run.output == {"ns": [0, 1, 2], "first": 0}
    assert [event["id"] for event in run.events] == full
    for event_id in full[1:]:
        assert (await server.wait_for_run(event_id)).run_id == run.run_id

    sent_at = time.monotonic()
    partial = await server.send([{"name": "flow/batched", "data": {"n": n}} for n in (3, 4)])
    flushed = await server.wait_for_run(partial[0], timeout=10)

    assert time.monotonic() - sent_at >= 0.9  # held until the batch timed out
    assert flushed.output == {"ns": [3, 4], "first": 3}
    assert batched_sizes == [3, 2]
    assert len(await server.runs(Batched)) == 2


# -- rate limit, idempotency, throttle --------------------------------------------------------


class RateLimited(
    InngestFunction,
    id="rate-limited",
    event="flow/rate-limited",
    rate_limit=RateLimit(limit=1, period="1m"),
):
    @step("work")
    def work(self, ctx: Context) -> int:
        return int(ctx.event.data["n"])


async def test_a_rate_limit_skips_the_excess(inngest_dev_server: StartDevServer) -> None:
    server = await inngest_dev_server([RateLimited])
    ids = await server.send([{"name": "flow/rate-limited", "data": {"n": n}} for n in range(3)])

    first = await server.wait_for_run(ids[0])
    skipped = [await server.wait_for_run(event_id, "Skipped") for event_id in ids[1:]]

    assert first.output == {"work": 0}
    assert all("rate" in (run.reason or "").lower() for run in skipped), skipped
    assert all(run.steps == () for run in skipped)


idempotent_calls: Counter[int] = Counter()


class Idempotent(
    InngestFunction, id="idempotent", event="flow/order", idempotency="event.data.order"
):
    @step("charge")
    def charge(self, ctx: Context) -> int:
        idempotent_calls[ctx.event.data["order"]] += 1
        return int(ctx.event.data["order"])


async def test_idempotency_runs_once_per_key(inngest_dev_server: StartDevServer) -> None:
    idempotent_calls.clear()
    server = await inngest_dev_server([Idempotent])
    orders = [1, 1, 2, 1, 2]
    ids = await server.send([{"name": "flow/order", "data": {"order": o}} for o in orders])

    runs = [await server.wait_for_run(event_id, None) for event_id in ids]

    assert [run.status for run in runs] == [
        "Completed",
        "Skipped",
        "Completed",
        "Skipped",
        "Skipped",
    ]
    assert idempotent_calls == {1: 1, 2: 1}


throttled_started: dict[int, float] = {}


class Throttled(
    InngestFunction,
    id="throttled",
    event="flow/throttled",
    throttle=Throttle(limit=1, period="1s", burst=1),
):
    @step("work")
    async def work(self, ctx: Context) -> int:
        throttled_started[ctx.event.data["n"]] = time.monotonic()
        return int(ctx.event.data["n"])


async def test_a_throttle_delays_starts_but_runs_every_event(
    inngest_dev_server: StartDevServer,
) -> None:
    throttled_started.clear()
    server = await inngest_dev_server([Throttled])
    sent_at = time.monotonic()
    ids = await server.send([{"name": "flow/throttled", "data": {"n": n}} for n in range(3)])

    runs = [await server.wait_for_run(event_id, timeout=10) for event_id in ids]

    assert [run.output for run in runs] == [{"work": 0}, {"work": 1}, {"work": 2}]
    # limit 1 + burst 1 start at once; the third waits one period for its turn.
    assert max(throttled_started[0], throttled_started[1]) < throttled_started[2]
    assert throttled_started[2] - sent_at >= 0.9
