"""The workbench's actions on the engine: cancel, rerun, rerun from a step, invoke, bulk cancel.

Each runs in a `TestEnvironment` (the dev server's engine in memory, on virtual time); the step
bodies count how often they ran, so "memoised" means "did not run again".
"""

from __future__ import annotations

from collections import Counter

import pytest

from inngest_dsl import Context, InngestFunction, Singleton, sleep, step
from inngest_dsl.devserver.core import actions

from .dsl_env import ended, environment

ran: Counter[str] = Counter()
fail_charge: list[bool] = []


class Checkout(InngestFunction, id="checkout", event="shop/ordered", retries=0):
    @step("reserve")
    def reserve(self, ctx: Context) -> str:
        ran["reserve"] += 1
        return f"r-{ctx.event.data['order']}"

    @step("charge")
    def charge(self, ctx: Context) -> int:
        ran["charge"] += 1
        if fail_charge:
            raise RuntimeError("card declined")
        return 42

    @step("ship")
    def ship(self, ctx: Context) -> str:
        ran["ship"] += 1
        return f"{ctx.data['reserve']}:{ctx.data['charge']}"


class Slow(InngestFunction, id="slow", event="shop/slow"):
    @step("begin")
    def begin(self, ctx: Context) -> None:
        ran["begin"] += 1

    sleep("1h")

    @step("end")
    def end(self, ctx: Context) -> None:
        ran["end"] += 1


@pytest.fixture(autouse=True)
def _reset() -> None:
    ran.clear()
    fail_charge.clear()


async def test_cancel_stops_a_sleeping_run_and_leaves_an_ended_one_as_it_is() -> None:
    async with environment([Slow, Checkout]) as env:
        [slow] = await env.send({"name": "shop/slow"})
        [done] = await env.send({"name": "shop/ordered", "data": {"order": 1}})
        slow_run = (await env.runs_of_event(slow))[0]
        done_run = await ended(env, done)

        cancelled = actions.cancel_run(env.engine, slow_run.run_id)
        again = actions.cancel_run(env.engine, done_run.run_id)
        await env.advance("2h")

    assert cancelled.status == "Cancelled"
    assert again.status == "Completed"
    assert ran["end"] == 0


async def test_cancel_of_an_unknown_run_is_not_found() -> None:
    async with environment([Slow]) as env:
        with pytest.raises(actions.NotFound, match="run 'nope' not found"):
            actions.cancel_run(env.engine, "nope")


async def test_rerun_runs_every_step_again_with_the_same_event() -> None:
    async with environment([Checkout]) as env:
        [event_id] = await env.send({"name": "shop/ordered", "data": {"order": 7}})
        first = await ended(env, event_id)

        new = actions.rerun(env.engine, first.run_id)
        await env.settle()
        runs = await env.runs_of_event(event_id)

    assert new.run_id != first.run_id
    assert {r.run_id for r in runs} == {first.run_id, new.run_id}
    second = next(r for r in runs if r.run_id == new.run_id)
    assert second.status == "Completed"
    assert second.output["ship"] == "r-7:42"
    assert ran == Counter(reserve=2, charge=2, ship=2)


async def test_rerun_from_a_step_memoises_the_steps_before_it() -> None:
    fail_charge.append(True)
    async with environment([Checkout]) as env:
        [event_id] = await env.send({"name": "shop/ordered", "data": {"order": 3}})
        failed = await ended(env, event_id, "Failed")
        fail_charge.clear()

        new = actions.rerun(env.engine, failed.run_id, from_step="charge")
        await env.settle()
        second = await env.run(new.run_id)

    assert second.status == "Completed"
    assert second.output["ship"] == "r-3:42"
    # `reserve` ran once, in the first run: the rerun started with its result.
    assert ran == Counter(reserve=1, charge=2, ship=1)
    assert [s["name"] for s in second.steps] == ["reserve", "charge", "ship"]


async def test_rerun_from_the_first_step_runs_everything_again() -> None:
    async with environment([Checkout]) as env:
        [event_id] = await env.send({"name": "shop/ordered", "data": {"order": 1}})
        first = await ended(env, event_id)
        new = actions.rerun(env.engine, first.run_id, from_step="reserve")
        await env.settle()
        second = await env.run(new.run_id)
    assert second.status == "Completed"
    assert ran == Counter(reserve=2, charge=2, ship=2)


async def test_rerun_from_an_unknown_step_names_the_steps_there_are() -> None:
    async with environment([Checkout]) as env:
        [event_id] = await env.send({"name": "shop/ordered", "data": {"order": 1}})
        first = await ended(env, event_id)
        with pytest.raises(actions.Conflict, match=r"no step 'pay'.*'reserve', 'charge', 'ship'"):
            actions.rerun(env.engine, first.run_id, from_step="pay")


async def test_invoke_starts_a_run_whatever_the_triggers_with_the_data_given() -> None:
    async with environment([Checkout]) as env:
        invocation = actions.invoke(env.engine, "checkout", {"order": 9})
        await env.settle()
        run = await env.run(invocation.run.run_id)
        event = env.store.get_event(invocation.event_id)
    assert run.status == "Completed"
    assert run.output["ship"] == "r-9:42"
    assert event is not None
    assert event.name == "inngest/function.invoked"
    assert event.body["data"]["_inngest"]["fn_id"] == env.function_id(Checkout)


async def test_invoke_refuses_an_unknown_function_and_data_that_is_not_an_object() -> None:
    async with environment([Checkout]) as env:
        with pytest.raises(actions.NotFound, match="function 'nope' not found"):
            actions.invoke(env.engine, "nope", {})
        with pytest.raises(actions.ActionError, match="data: must be a JSON object"):
            actions.invoke(env.engine, "checkout", [1, 2])  # type: ignore[arg-type]


async def test_bulk_cancel_takes_live_runs_in_the_time_range_that_match_the_expression() -> None:
    async with environment([Slow]) as env:
        start = env.clock.now()
        ids = [
            (await env.send({"name": "shop/slow", "data": {"user": user}}))[0]
            for user in ("a", "b", "a")
        ]
        await env.advance("10m")
        [late] = await env.send({"name": "shop/slow", "data": {"user": "a"}})
        cancellation = actions.cancel_runs(
            env.engine,
            "slow",
            started_after=start,
            started_before=start + 60,
            expression="event.data.user == 'a'",
        )
        statuses = [(await env.runs_of_event(i))[0].status for i in [*ids, late]]
    assert statuses == ["Cancelled", "Running", "Cancelled", "Running"]
    assert len(cancellation.run_ids) == 2
    assert cancellation.function_id == env.function_id(Slow)


async def test_bulk_cancel_refuses_a_bad_expression_and_an_empty_range() -> None:
    async with environment([Slow]) as env:
        with pytest.raises(actions.ActionError, match="if: invalid expression"):
            actions.cancel_runs(
                env.engine, "slow", started_after=0, started_before=1, expression="event.=="
            )
        with pytest.raises(actions.ActionError, match="started_before: must be later"):
            actions.cancel_runs(env.engine, "slow", started_after=5, started_before=5)


class Single(
    InngestFunction, id="single", event="shop/single", singleton=Singleton(key="1", mode="skip")
):
    @step("begin")
    def begin(self, ctx: Context) -> None:
        ran["single"] += 1

    sleep("1h")


async def test_a_rerun_its_singleton_skips_is_returned_as_skipped() -> None:
    async with environment([Single]) as env:
        [event_id] = await env.send({"name": "shop/single"})
        [first] = await env.runs_of_event(event_id)
        new = actions.rerun(env.engine, first.run_id)
    assert new.run_id != first.run_id
    assert new.status == "Skipped"
    assert new.reason is not None
    assert "singleton" in new.reason


def _app_body(app: str, *functions: str) -> dict[str, object]:
    url = f"http://127.0.0.1:1/{app}"
    return {
        "url": url,
        "appName": app,
        "sdk": "raw:v1",
        "functions": [
            {
                "id": f"{app}-{fn}",
                "name": fn,
                "triggers": [{"event": f"{app}/{fn}"}],
                "steps": {"step": {"id": "step", "name": "step", "runtime": {"url": url}}},
            }
            for fn in functions
        ],
    }


async def test_a_function_is_found_by_its_id_within_its_app_when_that_is_unambiguous() -> None:
    async with environment([]) as env:
        assert env.register_app(_app_body("a", "fn", "my-fn"))
        assert env.register_app(_app_body("b", "fn", "other"))
        engine = env.engine
        assert actions.find_function(engine, "a-fn").id == "a-fn"
        assert actions.find_function(engine, "fn", "b").id == "b-fn"
        assert actions.find_function(engine, "my-fn").id == "a-my-fn"
        assert actions.find_function(engine, "other").id == "b-other"
        with pytest.raises(actions.ActionError, match="'fn' is ambiguous: one of a-fn, b-fn"):
            actions.find_function(engine, "fn")
        with pytest.raises(actions.NotFound, match="function 'fn' not found in app 'c'"):
            actions.find_function(engine, "fn", "c")
        with pytest.raises(actions.NotFound, match="function 'y-fn' not found"):
            actions.find_function(engine, "y-fn")
