"""The inngest_dev_server fixture: real DSL functions running to completion on the dev server."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from inngest_dsl import (
    Context,
    Event,
    InngestFunction,
    NonRetriableError,
    RateLimit,
    sleep,
    step,
    wait_for_event,
)
from inngest_dsl.middleware import CallInput, CallOutput, Middleware
from inngest_dsl.pytest_plugin import StartDevServer
from inngest_dsl.testing import DevServerHarness

pytestmark = pytest.mark.realtime  # the harness is a real dev server and app over HTTP


class Onboard(InngestFunction, id="onboard", event="test/user.created", retries=1):
    @step("create account")
    async def create(self, ctx: Context) -> dict[str, Any]:
        return {"account": f"acct-{ctx.event.data['user_id']}"}

    sleep("200ms")

    verified = wait_for_event("test/user.verified", timeout="5s", match="data.user_id")

    @step("greet")
    def greet(self, ctx: Context) -> str:
        return "verified" if ctx[Onboard.verified] is not None else "unverified"


class Refuse(InngestFunction, id="refuse", event="test/refuse"):
    @step("refuse")
    def refuse(self, ctx: Context) -> None:
        raise NonRetriableError("not today")


async def test_step_sleep_wait_and_step_complete_on_the_dev_server(
    inngest_dev_server: StartDevServer,
) -> None:
    server = await inngest_dev_server([Onboard, Refuse])
    [event_id] = await server.send("test/user.created", {"user_id": "u1"})
    # Events sent before the wait is armed never match it: wait for the pause first.
    await server.wait_for_step(event_id, "test/user.verified", "Waiting")
    await server.send("test/user.verified", {"user_id": "u1"})

    run = await server.wait_for_run(event_id, "Completed")

    assert run.function_id == "test-app-onboard"
    assert run.output["account"] == "acct-u1"
    assert run.output["greet"] == "verified"
    assert run.output["test/user.verified"]["data"] == {"user_id": "u1"}
    kinds = [(s["name"], s["kind"], s["status"]) for s in run.steps]
    assert kinds[0] == ("create account", "Run", "Completed")
    assert run.step("sleep 200ms")["kind"] == "Sleep"


async def test_wait_for_run_reports_an_unexpected_status_with_the_run(
    inngest_dev_server: StartDevServer,
) -> None:
    server = await inngest_dev_server([Refuse])
    [event_id] = await server.send("test/refuse", {})
    with pytest.raises(AssertionError, match=r"ended Failed, expected Completed") as info:
        await server.wait_for_run(event_id)
    assert "not today" in str(info.value)
    run = await server.wait_for_run(event_id, "failed")
    assert run.error["message"] == "not today"


async def test_an_event_no_function_listens_to_times_out_clearly(
    inngest_dev_server: StartDevServer,
) -> None:
    server = await inngest_dev_server([Refuse])
    [event_id] = await server.send("test/nobody.listens", {})
    with pytest.raises(AssertionError, match="has started no run"):
        await server.wait_for_run(event_id, timeout=0.2)


async def test_the_harness_works_as_an_async_context_manager() -> None:
    async with DevServerHarness([Refuse], app_id="ctx-app") as server:
        assert server.url.startswith("http://127.0.0.1:")
        [event_id] = await server.send({"name": "test/refuse", "data": {}})
        run = await server.wait_for_run(event_id, "Failed")
        assert run.function_id == "ctx-app-refuse"
    with pytest.raises(RuntimeError, match="not started"):
        server.client


class Tally(InngestFunction, id="tally", event="test/tally"):
    @step("count")
    def count(self, ctx: Context) -> int:
        if ctx.event.data.get("fail"):
            raise NonRetriableError("no tally")
        return int(ctx.event.data["n"])


async def test_runs_lists_a_functions_runs_oldest_first_with_their_steps(
    inngest_dev_server: StartDevServer,
) -> None:
    server = await inngest_dev_server([Tally, Refuse])
    ids = await server.send([{"name": "test/tally", "data": {"n": n}} for n in range(3)])
    await server.send("test/refuse", {})
    for event_id in ids:
        await server.wait_for_run(event_id)

    runs = await server.runs(Tally)

    assert [run.output for run in runs] == [{"count": 0}, {"count": 1}, {"count": 2}]
    assert all(run.step("count")["status"] == "Completed" for run in runs)
    assert [r.run_id for r in await server.runs("tally")] == [r.run_id for r in runs]
    assert len(await server.runs()) == 4  # every function's
    assert await server.runs(Tally, status="Failed") == []
    assert len(await server.runs(Tally, limit=2)) == 2
    with pytest.raises(ValueError, match="status: must be one of"):
        await server.runs(Tally, status="Asleep")


async def test_wait_for_runs_waits_for_a_count_and_checks_their_status(
    inngest_dev_server: StartDevServer,
) -> None:
    server = await inngest_dev_server([Tally])
    await server.send([{"name": "test/tally", "data": {"n": n}} for n in range(3)])

    runs = await server.wait_for_runs(3, Tally)

    assert sorted(run.output["count"] for run in runs) == [0, 1, 2]
    with pytest.raises(AssertionError, match=r"fewer than 4 runs of test-app-tally ended"):
        await server.wait_for_runs(4, Tally, timeout=0.2)
    await server.send("test/tally", {"fail": True})
    with pytest.raises(AssertionError, match=r"ended Failed, expected Completed") as info:
        await server.wait_for_runs(4, Tally)
    assert "no tally" in str(info.value)
    assert [run.status for run in await server.wait_for_runs(4, Tally, status=None)].count(
        "Failed"
    ) == 1
    with pytest.raises(ValueError, match="status must be one of"):
        await server.wait_for_runs(1, Tally, status="Sleeping")


stuck_entered: list[str] = []


class Stuck(InngestFunction, id="stuck", event="test/stuck"):
    @step("hang")
    async def hang(self, ctx: Context) -> None:
        stuck_entered.append(ctx.run_id)
        await asyncio.Event().wait()  # never set: the call is still in flight at close


async def test_a_step_still_running_does_not_hold_up_closing() -> None:
    stuck_entered.clear()
    server = await DevServerHarness([Stuck]).start()
    try:
        await server.send("test/stuck", {})
        deadline = time.monotonic() + 10
        while not stuck_entered:
            assert time.monotonic() < deadline, "the step never started"
            await asyncio.sleep(0.01)
    finally:
        started = time.monotonic()
        await server.close()
    assert time.monotonic() - started < 10  # not aiohttp's default grace of 2 x 60 s


class OncePerHour(
    InngestFunction,
    id="once-per-hour",
    event="test/once",
    rate_limit=RateLimit(limit=1, period="1h"),
):
    @step("count")
    def count(self, ctx: Context) -> int:
        return len(ctx.events)


async def test_a_run_shows_its_events_and_why_flow_control_skipped_it(
    inngest_dev_server: StartDevServer,
) -> None:
    server = await inngest_dev_server([OncePerHour])
    first, second = await server.send([{"name": "test/once", "data": {"n": n}} for n in (1, 2)])

    ran = await server.wait_for_run(first)
    skipped = await server.wait_for_run(second, "Skipped")

    assert [event["data"] for event in ran.events] == [{"n": 1}]
    assert ran.reason is None
    assert [event["data"] for event in skipped.events] == [{"n": 2}]
    assert skipped.reason == "rate limit: over 1 per 1h"
    with pytest.raises(AssertionError, match=r"Skipped \(rate limit: over 1 per 1h\)"):
        await server.wait_for_run(second)


class Doubled(Middleware):
    """Doubles every step's result and tags every event the client sends."""

    async def transform_output(self, call: CallInput, output: CallOutput) -> None:
        if output.step is not None and isinstance(output.data, int):
            output.data *= 2

    async def before_send_events(self, events: list[Event]) -> list[Event] | None:
        return [Event(e.name, {**e.data, "n": 21}) for e in events]


async def test_the_harness_takes_the_clients_middleware(
    inngest_dev_server: StartDevServer,
) -> None:
    server = await inngest_dev_server([Tally], middleware=[Doubled()])

    [event_id] = await server.send("test/tally", {"n": 1})  # the client's hook makes n 21
    run = await server.wait_for_run(event_id)

    assert run.output == {"count": 42}
