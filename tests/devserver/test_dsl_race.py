"""Race mode (`parallel(..., mode="race")`, `ctx.step.parallel(..., race=True)`) on the dev
server's engine, on virtual time: the first member to finish wins and the run goes on at once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from inngest_dsl import (
    Context,
    DefinitionError,
    InngestFunction,
    parallel,
    sleep,
    spec_of,
    step,
    wait_for_event,
)
from inngest_dsl.spec._function import ParallelOp

from .dsl_env import busy, environment, instant, run_of

executed: Counter[str] = Counter()


class Fetch(InngestFunction, id="fetch", event="race/fetch"):
    with parallel("fetch", mode="race"):

        @step("mirror a")
        async def mirror_a(self, ctx: Context) -> dict[str, str]:
            await busy(ctx.event.data["a"])
            executed["a"] += 1
            return {"from": "a"}

        @step("mirror b")
        async def mirror_b(self, ctx: Context) -> dict[str, str]:
            await busy(ctx.event.data["b"])
            executed["b"] += 1
            return {"from": "b"}

    @step("use")
    async def use(self, ctx: Context) -> dict[str, Any]:
        executed["use"] += 1
        return {"used": ctx.data["from"]}


class Approval(InngestFunction, id="approval", event="race/doc"):
    with parallel("decide", mode="race"):
        approved = wait_for_event("race/approved", timeout="7d", match="data.doc")
        sleep("1h")

    @step("outcome")
    async def outcome(self, ctx: Context) -> dict[str, Any]:
        return {"approved": ctx[self.approved] is not None}


class Dynamic(InngestFunction, id="dynamic", event="race/dynamic"):
    @step("pick")
    async def pick(self, ctx: Context) -> dict[str, Any]:
        async def slow() -> str:
            await busy("5s")
            return "slow"

        async def quick() -> str:
            await busy("1s")
            return "quick"

        winner = await ctx.step.parallel(("slow", slow), ("quick", quick), race=True)
        after = await ctx.step.run("after", lambda: f"after {winner}")
        return {"winner": winner, "after": after}


def test_the_mode_is_in_the_spec_and_checked() -> None:
    assert spec_of(Fetch).ops[0] == ParallelOp(id="fetch", size=2, race=True)
    with pytest.raises(DefinitionError, match="mode= must be 'wait' or 'race'"):

        class Bad(InngestFunction, event="a/b"):
            with parallel("x", mode="first"):  # type: ignore[arg-type]
                sleep("1s")


@pytest.mark.parametrize(("a", "b", "winner"), [("1s", "10s", "a"), ("10s", "2s", "b")])
async def test_the_first_member_to_finish_wins_and_the_run_goes_on_at_once(
    a: str, b: str, winner: str
) -> None:
    executed.clear()
    async with environment([Fetch]) as env:
        [event] = await env.send({"name": "race/fetch", "data": {"a": a, "b": b}})
        await env.run_until(lambda: executed["use"] == 1, within="1m")
        run = await run_of(env, event)
        assert run.status == "Completed"
        assert run.output == {"from": winner, "used": winner}
        # The run ended with the winner: 1-2 s in, while the loser was still at work.
        assert (env.now - instant("2026-01-01T00:00:00Z")).total_seconds() < 3
        assert executed[{"a": "b", "b": "a"}[winner]] == 0
        await env.advance("1m")  # the loser finishes; its result is not used
        assert executed == {"a": 1, "b": 1, "use": 1}
        assert (await run_of(env, event)).output == {"from": winner, "used": winner}


async def test_a_wait_races_a_sleep() -> None:
    async with environment([Approval]) as env:
        [late] = await env.send({"name": "race/doc", "data": {"doc": 1}})
        [early] = await env.send({"name": "race/doc", "data": {"doc": 2}})
        await env.advance("10m")
        await env.send({"name": "race/approved", "data": {"doc": 2}})
        won = (await run_of(env, early)).output
        assert won["approved"] is True
        assert won["race/approved"]["data"] == {"doc": 2}  # the winner's result, folded
        assert (await run_of(env, late)).status == "Running"
        await env.advance("1h")
        assert (await run_of(env, late)).output == {"approved": False}  # the sleep won


async def test_ctx_step_parallel_race_returns_the_winner() -> None:
    async with environment([Dynamic]) as env:
        [event] = await env.send({"name": "race/dynamic"})
        await env.advance("1m")
        run = await run_of(env, event)
        assert run.status == "Completed"
        assert run.output == {"winner": "quick", "after": "after quick"}
