"""`TestEnvironment.sleep`: a step body that takes virtual time, as slow work takes real time."""

from __future__ import annotations

import datetime as dt

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
