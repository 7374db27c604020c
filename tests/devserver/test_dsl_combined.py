"""Options and blocks of the class DSL combined, end to end on the embedded dev server.

Where two features meet: parallel steps under a concurrency limit, invoking a function that
flow control skips or would hold back, a waiting run and a concurrency slot, failure handlers
next to cancellation, a send whose response is lost. Functions are served by
`inngest_dsl.aiohttp.serve`; checks are orderings and counts, never exact times.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from inngest_dsl import (
    Batch,
    Concurrency,
    Context,
    Debounce,
    Failure,
    Inngest,
    InngestFunction,
    NonRetriableError,
    RateLimit,
    Timeouts,
    invoke,
    on_failure,
    parallel,
    run,
    send_event,
    sleep,
    step,
)
from inngest_dsl.aiohttp import serve
from inngest_dsl.pytest_plugin import StartDevServer

from .conftest import InFlight, running_dev_server, send, wait_until


async def _busy(counter: InFlight, value: Any) -> Any:
    with counter:
        await asyncio.sleep(0.05)
    return value


# -- parallel steps under concurrency limits --------------------------------------------------

group_in_flight = InFlight()


class GroupUnderLimit(InngestFunction, id="group-under-limit", event="mix/group", concurrency=1):
    with parallel("work"):

        @step("a")
        async def a(self, ctx: Context) -> dict[str, int]:
            return {"a": await _busy(group_in_flight, 1)}

        @step("b")
        async def b(self, ctx: Context) -> dict[str, int]:
            return {"b": await _busy(group_in_flight, 2)}

        @step("c")
        async def c(self, ctx: Context) -> dict[str, int]:
            return {"c": await _busy(group_in_flight, 3)}


async def test_a_parallel_group_under_a_limit_of_one_takes_turns_and_completes(
    inngest_dev_server: StartDevServer,
) -> None:
    group_in_flight.reset()
    server = await inngest_dev_server([GroupUnderLimit])
    ids = await server.send([{"name": "mix/group", "data": {}} for _ in range(2)])

    runs = [await server.wait_for_run(event_id, timeout=10) for event_id in ids]

    assert [run.output for run in runs] == [{"a": 1, "b": 2, "c": 3}] * 2
    assert group_in_flight.most == 1


fan_in_flight = InFlight()


class FanOutUnderLimit(InngestFunction, id="fan-out-under-limit", event="mix/fan", concurrency=2):
    @run("fan out")
    async def fan_out(self, ctx: Context) -> dict[str, Any]:
        branches = [(f"branch {i}", _busy, fan_in_flight, i) for i in range(6)]
        return {"results": await ctx.step.parallel(*branches)}


async def test_a_runtime_fan_out_stays_within_its_functions_limit(
    inngest_dev_server: StartDevServer,
) -> None:
    fan_in_flight.reset()
    server = await inngest_dev_server([FanOutUnderLimit])
    [event_id] = await server.send("mix/fan", {})

    run_ = await server.wait_for_run(event_id, timeout=10)

    assert run_.output == {"results": list(range(6))}
    assert fan_in_flight.most == 2


shared_in_flight = InFlight()
DATABASE = Concurrency(limit=1, key='"database"', scope="env")


class Importer(InngestFunction, id="importer", event="mix/import", concurrency=DATABASE):
    @step("write")
    async def write(self, ctx: Context) -> str:
        return str(await _busy(shared_in_flight, "imported"))


class Exporter(InngestFunction, id="exporter", event="mix/export", concurrency=DATABASE):
    @step("read")
    async def read(self, ctx: Context) -> str:
        return str(await _busy(shared_in_flight, "exported"))


async def test_an_env_scoped_limit_is_shared_by_every_function_using_its_key(
    inngest_dev_server: StartDevServer,
) -> None:
    shared_in_flight.reset()
    server = await inngest_dev_server([Importer, Exporter])
    await server.send([{"name": name} for name in ("mix/import", "mix/export") * 3])

    await server.wait_for_runs(3, Importer)
    await server.wait_for_runs(3, Exporter)

    assert shared_in_flight.most == 1


finished: list[str] = []


class Sequential(InngestFunction, id="sequential", event="mix/seq", concurrency=1):
    @run("work")
    async def work(self, ctx: Context) -> None:
        if ctx.event.data.get("wait"):
            await ctx.step.wait_for_event("go", event="mix/go", timeout="10s")
        await ctx.step.run("finish", finished.append, ctx.event.data["name"])


async def test_a_waiting_run_holds_no_concurrency_slot(
    inngest_dev_server: StartDevServer,
) -> None:
    finished.clear()
    server = await inngest_dev_server([Sequential])
    [waiter] = await server.send("mix/seq", {"name": "waiter", "wait": True})
    await server.wait_for_step(waiter, "go", "Waiting")

    [other] = await server.send("mix/seq", {"name": "other"})
    await server.wait_for_run(other)
    await server.send("mix/go", {})
    await server.wait_for_run(waiter)

    assert finished == ["other", "waiter"]


backlog_started: list[str] = []


class Backlogged(
    InngestFunction,
    id="backlogged",
    event="mix/backlog",
    concurrency=1,
    timeouts=Timeouts(start="1s"),
):
    @step("work")
    async def work(self, ctx: Context) -> str:
        if ctx.event.data.get("slow"):
            backlog_started.append("slow")
            await asyncio.sleep(1.5)
        return "done"


async def test_a_start_timeout_cancels_a_run_left_queued_behind_a_limit(
    inngest_dev_server: StartDevServer,
) -> None:
    backlog_started.clear()
    server = await inngest_dev_server([Backlogged])
    [slow] = await server.send("mix/backlog", {"slow": True})
    await wait_until(lambda: backlog_started == ["slow"])  # it holds the only slot
    [queued] = await server.send("mix/backlog", {})

    cancelled = await server.wait_for_run(queued, "Cancelled", timeout=10)

    assert (await server.wait_for_run(slow, timeout=10)).output == {"work": "done"}
    assert cancelled.steps == ()  # it never started


# -- invoking functions under flow control ------------------------------------------------------


class OncePerMinute(
    InngestFunction,
    id="once-per-minute",
    event="mix/limited",
    rate_limit=RateLimit(limit=1, period="1m"),
):
    @step("work")
    def work(self, ctx: Context) -> str:
        return "worked"


class CallsLimited(InngestFunction, id="calls-limited", event="mix/call-limited", retries=0):
    called = invoke("call it", function=OncePerMinute, timeout="10s")


async def test_invoking_a_rate_limited_function_over_its_limit_fails_the_caller(
    inngest_dev_server: StartDevServer,
) -> None:
    server = await inngest_dev_server([CallsLimited, OncePerMinute])
    [first] = await server.send("mix/call-limited", {})
    assert (await server.wait_for_run(first, function=CallsLimited)).output == {"work": "worked"}

    [second] = await server.send("mix/call-limited", {})

    failed = await server.wait_for_run(second, "Failed", function=CallsLimited)
    assert "skipped" in failed.error["message"]
    assert [run.status for run in await server.runs(OncePerMinute)] == ["Completed", "Skipped"]


class Debounced(
    InngestFunction, id="debounced", event="mix/debounced", debounce=Debounce(period="1m")
):
    @step("work")
    def work(self, ctx: Context) -> dict[str, Any]:
        return {"debounced": ctx.event.data["v"]}


class Batched(
    InngestFunction,
    id="batched",
    event="mix/batched",
    batch_events=Batch(max_size=10, timeout="1m"),
):
    @step("work")
    def work(self, ctx: Context) -> dict[str, Any]:
        return {"batch": [event.data["v"] for event in ctx.events]}


class CallsHeldBack(InngestFunction, id="calls-held-back", event="mix/call-held"):
    debounced = invoke("call debounced", function=Debounced, data={"v": 1})
    batched = invoke("call batched", function=Batched, data={"v": 2})


async def test_invoked_runs_are_never_debounced_or_batched(
    inngest_dev_server: StartDevServer,
) -> None:
    server = await inngest_dev_server([CallsHeldBack, Debounced, Batched])
    [event_id] = await server.send("mix/call-held", {})

    # Well under the minute either hold would take.
    run_ = await server.wait_for_run(event_id, function=CallsHeldBack, timeout=10)

    assert run_.output == {"debounced": 1, "batch": [2]}


class Doomed(InngestFunction, id="doomed", event="mix/doomed", retries=0):
    @step("break")
    def fail(self, ctx: Context) -> None:
        raise ValueError("doomed to fail")


class CatchesCallee(InngestFunction, id="catches-callee", event="mix/catch", retries=0):
    @run("call")
    async def call(self, ctx: Context) -> dict[str, Any]:
        try:
            await ctx.step.invoke("call doomed", function=Doomed, data={})
        except Exception as exc:
            return {"caught": f"{type(exc).__name__}: {exc}"}
        return {"caught": None}


async def test_a_failed_callee_raises_in_the_caller_which_can_handle_it(
    inngest_dev_server: StartDevServer,
) -> None:
    server = await inngest_dev_server([CatchesCallee, Doomed])
    [event_id] = await server.send("mix/catch", {})

    run_ = await server.wait_for_run(event_id, function=CatchesCallee)

    assert "doomed to fail" in run_.output["caught"]
    assert [run.status for run in await server.runs(Doomed)] == ["Failed"]


# -- failure handlers ---------------------------------------------------------------------------

handled: list[str] = []


class BrokenHandler(InngestFunction, id="broken-handler", event="mix/broken", retries=0):
    @step("fail")
    def fail(self, ctx: Context) -> None:
        raise NonRetriableError("first failure")

    @on_failure
    def report(self, ctx: Context, failure: Failure) -> None:
        handled.append(failure.run_id)
        raise RuntimeError("the handler fails too")


async def test_a_failing_failure_handler_runs_once_and_is_not_handled_again(
    inngest_dev_server: StartDevServer,
) -> None:
    handled.clear()
    server = await inngest_dev_server([BrokenHandler])
    [event_id] = await server.send("mix/broken", {})
    failed = await server.wait_for_run(event_id, "Failed")

    [handler] = await server.wait_for_runs(1, "broken-handler-failure", status="Failed")
    await asyncio.sleep(0.3)  # room for a (wrong) second handler run to show up

    assert handled == [failed.run_id]
    assert "the handler fails too" in handler.error["message"]
    assert len(await server.runs("broken-handler-failure")) == 1


not_handled: list[str] = []


class TimesOut(
    InngestFunction, id="times-out", event="mix/times-out", timeouts=Timeouts(finish="1s")
):
    sleep("30s")

    @on_failure
    def report(self, ctx: Context, failure: Failure) -> None:
        not_handled.append(failure.run_id)


async def test_a_cancelled_run_does_not_call_its_failure_handler(
    inngest_dev_server: StartDevServer,
) -> None:
    not_handled.clear()
    server = await inngest_dev_server([TimesOut])
    [event_id] = await server.send("mix/times-out", {})

    await server.wait_for_run(event_id, "Cancelled", timeout=10)
    await asyncio.sleep(0.3)

    assert not_handled == []
    assert await server.runs("times-out-failure") == []


# -- sending exactly once -------------------------------------------------------------------------

heard: Counter[str] = Counter()


class Announcer(InngestFunction, id="announcer", event="mix/announce", retries=2):
    @send_event("announce")
    def announce(self, ctx: Context) -> dict[str, Any]:
        return {"name": "mix/announced", "data": {"what": ctx.event.data["what"]}}


class Audience(InngestFunction, id="audience", event="mix/announced"):
    @step("hear")
    def hear(self, ctx: Context) -> None:
        heard[ctx.event.data["what"]] += 1


async def test_a_send_whose_response_was_lost_is_retried_without_a_second_run() -> None:
    """The call that sent the event fails on its way back; the retry sends it again."""
    heard.clear()
    lost: list[str] = []

    @web.middleware
    async def lose_first_send(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        response = await handler(request)
        if request.query.get("fnId") == "mix-announcer" and not lost:
            lost.append(getattr(response, "text", ""))
            return web.json_response({"name": "Error", "message": "connection reset"}, status=500)
        return response

    async with running_dev_server() as dev:
        client = Inngest("mix", is_dev=True, api_base_url=dev.url, event_api_base_url=dev.url)
        app = web.Application(middlewares=[lose_first_send])
        serve(app, client, [Announcer, Audience])
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        try:
            await dev.syncer.sync(f"http://127.0.0.1:{runner.addresses[0][1]}/api/inngest")
            await send(dev, {"name": "mix/announce", "data": {"what": "launch"}})
            await wait_until(lambda: dev.store.count_runs("mix-announcer").get("Completed", 0) == 1)
            await wait_until(lambda: dev.store.count_runs("mix-audience").get("Completed", 0) == 1)
            await asyncio.sleep(0.3)  # room for a (wrong) second run to show up
            audience_runs = dev.store.count_runs("mix-audience")
        finally:
            await runner.cleanup()
            await client.close()
    assert '"announce"' in lost[0]  # the lost response was the send step's
    assert audience_runs == {"Completed": 1}
    assert heard == {"launch": 1}
