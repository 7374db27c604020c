"""`TestEnvironment.sleep`: a step body that takes virtual time, as slow work takes real time."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from inngest_dsl import Context, InngestFunction, step
from inngest_dsl.testing import TestEnvironmentError

from .dsl_env import busy, environment, instant, run_of


class Slow(InngestFunction, id="slow", event="env/slow", concurrency=1):
    @step("work")
    async def work(self, ctx: Context) -> str:
        await busy("10s")
        return "done"


async def test_a_sleeping_body_keeps_its_call_in_flight_until_its_time_comes() -> None:
    async with environment([Slow]) as env:
        [first] = await env.send({"name": "env/slow"})
        [second] = await env.send({"name": "env/slow"})

        # send() settled although a call is in flight: it waits for the clock.
        assert (await run_of(env, first)).status == "Running"
        assert (await run_of(env, second)).status == "Queued"  # the slot is taken
        await env.advance("9s")
        assert (await run_of(env, first)).status == "Running"
        await env.advance("1s")
        work = (await run_of(env, first)).step("work")
        assert work["status"] == "Completed"
        taken = instant(work["ended_at"]) - instant(work["started_at"])
        assert taken == dt.timedelta(seconds=10)
        assert (await run_of(env, second)).status == "Running"  # the slot was freed


async def test_sleep_is_for_step_bodies() -> None:
    async with environment([Slow]) as env:
        with pytest.raises(TestEnvironmentError, match="step bodies"):
            await env.sleep("1s")


class Unlimited(InngestFunction, id="unlimited", event="env/unlimited"):
    @step("work")
    async def work(self, ctx: Context) -> str:
        await busy("1s")
        return "done"


async def test_calls_beyond_the_servers_slots_wait_for_a_sleeping_call_to_end() -> None:
    """The dev server makes at most 64 calls at once; the 65th waits for a slot, not forever."""
    async with environment([Unlimited]) as env:
        await env.send([{"name": "env/unlimited"} for _ in range(65)])
        await env.run_until(lambda: env.store.count_runs().get("Completed", 0) == 65)

        runs = await env.runs(Unlimited)
    starts = Counter(
        instant(run.step("work")["started_at"]) - instant(runs[0].raw["queued_at"]) for run in runs
    )
    assert starts == {dt.timedelta(0): 64, dt.timedelta(seconds=1): 1}
