"""Flow control options of the class DSL, on the dev server's engine, on virtual time.

Each test declares functions with class keywords as a user would, runs them end to end in a
`TestEnvironment` (the dev server's engine in memory, calling the functions in-process) and
checks the option's effect from inside the step bodies. Slow work is `busy(...)`, which takes
virtual time, and every time measured is virtual: a one-second period takes no real time.
"""

from __future__ import annotations

import datetime as dt
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

from .conftest import InFlight
from .dsl_env import all_ended, busy, ended, environment, instant, run_of, virtual_now

SECOND = dt.timedelta(seconds=1)

# -- concurrency ----------------------------------------------------------------------------

limited_in_flight = InFlight()


class Limited(InngestFunction, id="limited", event="flow/limited", concurrency=2):
    @step("work")
    async def work(self, ctx: Context) -> dict[str, int]:
        with limited_in_flight:
            await busy("100ms")
        return {"n": ctx.event.data["n"]}


async def test_ten_runs_with_concurrency_two_never_run_more_than_two_steps_at_once() -> None:
    limited_in_flight.reset()
    async with environment([Limited]) as env:
        await env.send([{"name": "flow/limited", "data": {"n": n}} for n in range(10)])

        runs = await all_ended(env, 10, Limited)

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
            await busy("150ms")
        return str(user)


async def test_a_keyed_limit_serialises_one_key_and_lets_other_keys_run_alongside() -> None:
    per_user.clear()
    everyone.reset()
    async with environment([PerUser]) as env:
        users = ["a", "b", "a", "b", "a", "b"]
        await env.send([{"name": "flow/per-user", "data": {"user": u}} for u in users])

        runs = await all_ended(env, 6, PerUser)

    assert sorted(run.output["work"] for run in runs) == sorted(users)
    assert per_user["a"].most == 1
    assert per_user["b"].most == 1
    assert everyone.most == 2  # a's and b's runs did overlap


# -- priority -------------------------------------------------------------------------------

priority_started: list[str] = []


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
            await busy("1m")  # holds the only slot while the others arrive
        return name


async def test_priority_orders_runs_queued_behind_a_concurrency_limit() -> None:
    priority_started.clear()
    async with environment([Prioritised]) as env:
        await env.send({"name": "flow/prioritised", "data": {"name": "blocker", "prio": 0}})
        assert priority_started == ["blocker"]
        for name, prio in (("low", -100), ("plain", 0), ("high", 300)):
            await env.send({"name": "flow/prioritised", "data": {"name": name, "prio": prio}})
        assert len(await env.runs(Prioritised, status="Queued")) == 3

        await all_ended(env, 4, Prioritised)

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


async def test_a_burst_of_events_runs_once_with_the_last_one_after_the_quiet_period() -> None:
    debounced_calls.clear()
    async with environment([Debounced]) as env:
        ids = []
        for n in range(5):
            ids += await env.send({"name": "flow/debounced", "data": {"n": n}})
            await env.advance("50ms")  # a burst: each event well within the period of the last
        last_sent = env.now - dt.timedelta(milliseconds=50)

        run = await ended(env, ids[-1])

        assert run.output == {"n": 4}
        assert [event["data"] for event in run.events] == [{"n": 4}]
        assert debounced_calls == {4: 1}
        assert [r.run_id for r in await env.runs(Debounced)] == [run.run_id]
        assert instant(run.raw["started_at"]) - last_sent >= SECOND  # after the quiet period


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


async def test_a_full_batch_runs_at_once_and_a_partial_one_after_its_timeout() -> None:
    batched_sizes.clear()
    async with environment([Batched]) as env:
        full = await env.send([{"name": "flow/batched", "data": {"n": n}} for n in range(3)])
        run = await run_of(env, full[0])  # no time has passed
        assert run.status == "Completed"
        assert run.output == {"ns": [0, 1, 2], "first": 0}
        assert [event["id"] for event in run.events] == full
        for event_id in full[1:]:
            assert (await run_of(env, event_id)).run_id == run.run_id

        sent_at = env.now
        partial = await env.send([{"name": "flow/batched", "data": {"n": n}} for n in (3, 4)])
        flushed = await ended(env, partial[0])

        assert instant(flushed.raw["started_at"]) - sent_at >= SECOND  # held until it timed out
        assert flushed.output == {"ns": [3, 4], "first": 3}
        assert batched_sizes == [3, 2]
        assert len(await env.runs(Batched)) == 2


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


async def test_a_rate_limit_skips_the_excess() -> None:
    async with environment([RateLimited]) as env:
        ids = await env.send([{"name": "flow/rate-limited", "data": {"n": n}} for n in range(3)])

        first = await ended(env, ids[0])
        skipped = [await ended(env, event_id, "Skipped") for event_id in ids[1:]]

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


async def test_idempotency_runs_once_per_key() -> None:
    idempotent_calls.clear()
    async with environment([Idempotent]) as env:
        orders = [1, 1, 2, 1, 2]
        ids = await env.send([{"name": "flow/order", "data": {"order": o}} for o in orders])

        runs = [await ended(env, event_id, None) for event_id in ids]

    assert [run.status for run in runs] == [
        "Completed",
        "Skipped",
        "Completed",
        "Skipped",
        "Skipped",
    ]
    assert idempotent_calls == {1: 1, 2: 1}


throttled_started: dict[int, dt.datetime] = {}


class Throttled(
    InngestFunction,
    id="throttled",
    event="flow/throttled",
    throttle=Throttle(limit=1, period="1s", burst=1),
):
    @step("work")
    async def work(self, ctx: Context) -> int:
        throttled_started[ctx.event.data["n"]] = virtual_now()
        return int(ctx.event.data["n"])


async def test_a_throttle_delays_starts_but_runs_every_event() -> None:
    throttled_started.clear()
    async with environment([Throttled]) as env:
        sent_at = env.now
        ids = await env.send([{"name": "flow/throttled", "data": {"n": n}} for n in range(3)])

        runs = [await ended(env, event_id) for event_id in ids]

    assert [run.output for run in runs] == [{"work": 0}, {"work": 1}, {"work": 2}]
    # limit 1 + burst 1 start at once; the third waits one period for its turn.
    assert max(throttled_started[0], throttled_started[1]) < throttled_started[2]
    assert throttled_started[2] - sent_at >= SECOND
