"""TestEnvironment: the dev server's engine in memory, on virtual time, calling in-process."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from inngest_dsl import (
    Context,
    Debounce,
    InngestFunction,
    NonRetriableError,
    send_event,
    sleep,
    step,
    wait_for_event,
)
from inngest_dsl.testing import SyncTestEnvironment, TestEnvironment, TestEnvironmentError

START = "2026-01-01T00:00:00Z"
UTC = dt.timezone.utc


class Greet(InngestFunction, id="greet", event="app/hello", retries=1):
    @step("greet")
    async def greet(self, ctx: Context) -> dict[str, str]:
        if ctx.event.data.get("fail"):
            raise RuntimeError("no greeting today")
        return {"greeting": f"hello {ctx.event.data['name']}"}

    sleep("1h")

    @step("follow up")
    async def follow_up(self, ctx: Context) -> dict[str, bool]:
        return {"followed_up": True}


class Announce(InngestFunction, id="announce", event="app/announce"):
    send_event("tell", events={"name": "app/hello", "data": {"name": "announced"}})


class Confirm(InngestFunction, id="confirm", event="app/order"):
    confirmed = wait_for_event("app/confirmed", timeout="1d", match="data.order")

    @step("decide")
    async def decide(self, ctx: Context) -> dict[str, bool]:
        return {"confirmed": ctx[self.confirmed] is not None}


class Nightly(InngestFunction, id="nightly", cron="0 3 * * *"):
    @step("tick")
    async def tick(self, ctx: Context) -> dict[str, str]:
        return {"at": ctx.event.data["scheduledAt"]}


class Quiet(InngestFunction, id="quiet", event="app/typed", debounce=Debounce(period="5m")):
    @step("save")
    async def save(self, ctx: Context) -> dict[str, Any]:
        return {"text": ctx.event.data["text"]}


async def test_sleeps_take_virtual_time_and_runs_read_as_on_the_dev_server() -> None:
    async with TestEnvironment([Greet], now=START) as env:
        [event_id] = await env.send({"name": "app/hello", "data": {"name": "Ada"}})
        [run] = await env.runs_of_event(event_id)
        assert run.status == "Running"
        assert run.step("sleep 1h")["status"] == "Sleeping"

        await env.advance("59m")
        assert (await env.run(run.run_id)).status == "Running"
        await env.advance(dt.timedelta(minutes=1))

        done = await env.run(run.run_id)
        assert done.status == "Completed"
        assert done.output == {"greeting": "hello Ada", "followed_up": True}
        assert done.raw["ended_at"] == "2026-01-01T01:00:00.000Z"
        assert env.now == dt.datetime(2026, 1, 1, 1, tzinfo=UTC)


async def test_retries_wait_their_backoff_and_then_fail() -> None:
    async with TestEnvironment([Greet], now=START) as env:
        await env.send({"name": "app/hello", "data": {"name": "x", "fail": True}})
        [run] = await env.runs(Greet)
        assert run.status == "Running"  # waiting for the retry's backoff
        await env.advance("15s")
        [run] = await env.runs(Greet)
        assert run.status == "Failed"
        assert run.error["message"] == "no greeting today"
        assert run.step("greet")["attempts"] == 2


async def test_events_the_functions_send_reach_the_environment() -> None:
    async with TestEnvironment([Announce, Greet], now=START) as env:
        await env.send({"name": "app/announce"})
        assert [event.name for event in env.sent_events] == ["app/hello"]
        [greeting] = await env.runs(Greet)
        assert greeting.events[0]["data"] == {"name": "announced"}


async def test_a_wait_resumes_with_a_matching_event_and_not_with_another() -> None:
    async with TestEnvironment([Confirm], now=START) as env:
        await env.send({"name": "app/order", "data": {"order": 1}})
        await env.send({"name": "app/confirmed", "data": {"order": 2}})
        [run] = await env.runs(Confirm)
        assert run.status == "Running"
        await env.send({"name": "app/confirmed", "data": {"order": 1}})
        [run] = await env.runs(Confirm)
        assert run.output["confirmed"] is True


class Tagged(InngestFunction, id="tagged", event="app/tag.requested", retries=0):
    wait = wait_for_event("app/tagged", timeout="1h", match="data.item")

    @step("read tag")
    async def read_tag(self, ctx: Context) -> dict[str, Any]:
        event = ctx[self.wait]
        assert event is not None
        # Read as JSON, like every other value in ctx.data, or by attribute: both work.
        return {
            "tag": event["data"]["tag"],
            "same": event.data["tag"] == ctx.data["app/tagged"]["data"]["tag"],
            "name": event["name"],
            "keys": sorted(event),
            "version": event.get("v", "none"),
            "copy": dict(event)["data"],
            "event": event,
        }


async def test_a_wait_value_reads_as_json_like_the_rest_of_ctx_data() -> None:
    async with TestEnvironment([Tagged], now=START) as env:
        await env.send({"name": "app/tag.requested", "data": {"item": 7}})
        await env.send({"name": "app/tagged", "data": {"item": 7, "tag": "t1"}, "id": "ev-1"})
        [run] = await env.runs(Tagged)
        assert run.status == "Completed", run.raw
        output = run.output
        assert {k: output[k] for k in ("tag", "same", "name", "version")} == {
            "tag": "t1",
            "same": True,
            "name": "app/tagged",
            "version": "none",
        }
        assert output["keys"] == ["data", "id", "name", "ts", "user"]
        assert output["copy"] == {"item": 7, "tag": "t1"}
        # The event in the output is its wire form.
        assert output["event"]["data"] == {"item": 7, "tag": "t1"}
        assert output["event"]["id"] == "ev-1"
        assert set(output["event"]) == {"name", "data", "user", "id", "ts"}


async def test_cron_fires_as_virtual_time_passes() -> None:
    async with TestEnvironment([Nightly], now=START) as env:
        await env.advance("7d")
        runs = await env.runs(Nightly)
        assert [run.output["at"] for run in runs] == [
            f"2026-01-0{day}T03:00:00.000Z" for day in range(1, 8)
        ]


async def test_run_until_moves_time_until_the_condition_holds() -> None:
    async with TestEnvironment([Quiet], now=START) as env:
        await env.send({"name": "app/typed", "data": {"text": "a"}})
        await env.send({"name": "app/typed", "data": {"text": "ab"}})

        async def saved() -> bool:
            return bool(await env.runs(Quiet, status="Completed"))

        await env.run_until(saved, within="1h")
        [run] = await env.runs(Quiet)
        assert run.output == {"text": "ab"}
        assert env.now == dt.datetime(2026, 1, 1, 0, 5, tzinfo=UTC)

        with pytest.raises(TestEnvironmentError, match="did not hold within '1h'"):
            await env.run_until(lambda: False, within="1h")


async def test_cancel_ends_a_sleeping_run() -> None:
    async with TestEnvironment([Greet], now=START) as env:
        await env.send({"name": "app/hello", "data": {"name": "Ada"}})
        [run] = await env.runs(Greet)
        cancelled = await env.cancel(run.run_id)
        assert cancelled.status == "Cancelled"
        await env.advance("2h")
        assert (await env.run(run.run_id)).status == "Cancelled"


async def test_mocked_steps_replace_their_bodies() -> None:
    mocks = {"greet": {"greeting": "mocked"}, "follow up": NonRetriableError("off")}
    async with TestEnvironment([Greet], now=START, steps=mocks) as env:
        await env.send({"name": "app/hello", "data": {"name": "Ada"}})
        await env.advance("1h")
        [run] = await env.runs(Greet)
        assert run.step("greet")["output"] == {"greeting": "mocked"}
        assert run.status == "Failed"
        assert run.error["message"] == "off"


class Plain(InngestFunction, id="plain", event="app/plain"):
    @step("only")
    def only(self, ctx: Context) -> int:  # sync bodies cannot add ctx.step steps
        return 1


async def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(TestEnvironmentError, match=r"'no such block'.*can be mocked: 'only'"):
        TestEnvironment([Plain], steps={"no such block": 1})
    with pytest.raises(TestEnvironmentError, match="now="):
        TestEnvironment([Nightly], now="yesterday-ish")
    async with TestEnvironment([Greet], now=START) as env:
        with pytest.raises(TestEnvironmentError, match="reserved"):
            await env.send({"name": "inngest/function.finished"})
        with pytest.raises(TestEnvironmentError, match="forward"):
            await env.advance(-5)
        with pytest.raises(TestEnvironmentError, match="advance"):
            await env.advance("soon")
        with pytest.raises(TestEnvironmentError, match="no run"):
            await env.run("nope")


async def test_a_week_with_a_hundred_runs() -> None:
    async with TestEnvironment([Greet, Nightly, Quiet], now=START) as env:
        for n in range(100):
            await env.send({"name": "app/hello", "data": {"name": str(n)}})
        await env.advance("7d")
        greeted = await env.runs(Greet, status="Completed")
        assert sorted(int(run.events[0]["data"]["name"]) for run in greeted) == list(range(100))
        assert len(await env.runs(Nightly, status="Completed")) == 7


def test_the_sync_variant_runs_without_an_event_loop() -> None:
    with SyncTestEnvironment([Nightly], now=START) as env:
        env.advance("1d")
        [run] = env.runs(Nightly)
        assert run.status == "Completed"
        assert env.now == dt.datetime(2026, 1, 2, tzinfo=UTC)


async def test_the_sync_variant_refuses_a_running_loop() -> None:
    with pytest.raises(RuntimeError, match="async with TestEnvironment"):  # noqa: SIM117
        with SyncTestEnvironment([Nightly]):
            pass


class Stuck(InngestFunction, id="stuck", event="app/stuck", retries=0):
    @step("stuck")
    async def stuck(self, ctx: Context) -> None:
        await asyncio.Event().wait()


@pytest.mark.realtime  # the guard against a body that never returns is a real-time limit
async def test_a_body_that_never_returns_fails_its_call_instead_of_hanging() -> None:
    async with TestEnvironment([Stuck], now=START, call_timeout=0.05) as env:
        await env.send({"name": "app/stuck"})
        [run] = await env.runs(Stuck)
        assert run.status == "Failed"
        assert "still running after 0.05 s of real time" in run.error["message"]


# -- review fixes -----------------------------------------------------------------------------


async def test_sends_at_once_settle_one_after_the_other() -> None:
    async with TestEnvironment([Greet], now=START, call_timeout=5) as env:
        await asyncio.gather(
            env.send({"name": "app/hello", "data": {"name": "a"}}),
            env.send({"name": "app/hello", "data": {"name": "b"}}),
        )
        runs = await env.runs(Greet)
        assert [run.step("sleep 1h")["status"] for run in runs] == ["Sleeping", "Sleeping"]
        assert all(run.step("greet")["attempts"] == 1 for run in runs)  # no timed-out call


class Meddler(InngestFunction, id="meddler", event="app/meddle", retries=0):
    @step("advance from the body")
    async def meddle(self, ctx: Context) -> None:
        await CURRENT[0].advance("1m")


CURRENT: list[TestEnvironment] = []


async def test_moving_time_from_a_body_is_refused_not_a_hang() -> None:
    async with TestEnvironment([Meddler], now=START, call_timeout=5) as env:
        CURRENT[:] = [env]
        await env.send({"name": "app/meddle"})
        [run] = await env.runs(Meddler)
        assert run.status == "Failed"
        assert "called from a step body" in run.error["message"]


async def test_time_only_moves_forward_and_zero_is_allowed() -> None:
    async with TestEnvironment([Nightly], now=START) as env:
        await env.advance("0s")
        await env.advance(dt.timedelta(0))
        with pytest.raises(TestEnvironmentError, match="before now"):
            await env.advance_to("2025-12-31T00:00:00Z")
        with pytest.raises(TestEnvironmentError, match="forward"):
            await env.advance_to(float("inf"))
        assert env.now == dt.datetime(2026, 1, 1, tzinfo=UTC)


async def test_run_statuses_read_in_any_case() -> None:
    async with TestEnvironment([Nightly], now=START) as env:
        await env.advance("1d")
        assert len(await env.runs(Nightly, status="completed")) == 1
        assert len(await env.runs(Nightly, status="COMPLETED")) == 1
        with pytest.raises(TestEnvironmentError, match="'done'; one of Queued"):
            await env.runs(Nightly, status="done")


def test_the_sync_variant_delivers_what_the_test_sends_through_the_client() -> None:
    with SyncTestEnvironment([Greet], now=START) as env:
        [event_id] = env.client.send_sync({"name": "app/hello", "data": {"name": "sync"}})
        env.settle()
        [run] = env.runs_of_event(event_id)
        assert run.step("greet")["status"] == "Completed"
        assert env.function_id("greet") == "test-app-greet"
        assert not env.is_final(run.run_id)


async def test_a_failure_of_the_engine_itself_is_raised_not_left_as_a_stuck_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with TestEnvironment([Greet], now=START) as env:
        await env.send({"name": "app/hello", "data": {"name": "Ada"}})

        def broken(item: object) -> None:
            raise RuntimeError("wake-up lost")

        monkeypatch.setattr(env.engine.runs, "wake", broken)
        with pytest.raises(TestEnvironmentError, match="RuntimeError: wake-up lost"):
            await env.advance("1h")
