"""Options and blocks of the class DSL combined, end to end on the dev server's engine.

Where two features meet: parallel steps under a concurrency limit, invoking a function that
flow control skips or would hold back, a waiting run and a concurrency slot, failure handlers
next to cancellation, a send whose response is lost. Functions run in a `TestEnvironment` (the
dev server's engine in memory, on virtual time, called in-process); slow work is `busy(...)`,
and every time measured is virtual.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from inngest_dsl import (
    Batch,
    Concurrency,
    Context,
    Debounce,
    Failure,
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
from inngest_dsl.serve._call import Answer, encode_body
from inngest_dsl.testing import TestEnvironment
from inngest_dsl.testing._in_process import CallHooks
from inngest_dsl.wire._calls import CallRequest

from .conftest import InFlight
from .dsl_env import START, all_ended, busy, ended, environment, instant, run_of, step_status


async def _busy(counter: InFlight, value: Any) -> Any:
    with counter:
        await busy("50ms")
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


async def test_a_parallel_group_under_a_limit_of_one_takes_turns_and_completes() -> None:
    group_in_flight.reset()
    async with environment([GroupUnderLimit]) as env:
        ids = await env.send([{"name": "mix/group", "data": {}} for _ in range(2)])

        runs = [await ended(env, event_id) for event_id in ids]

    assert [run.output for run in runs] == [{"a": 1, "b": 2, "c": 3}] * 2
    assert group_in_flight.most == 1


fan_in_flight = InFlight()


class FanOutUnderLimit(InngestFunction, id="fan-out-under-limit", event="mix/fan", concurrency=2):
    @run("fan out")
    async def fan_out(self, ctx: Context) -> dict[str, Any]:
        branches = [(f"branch {i}", _busy, fan_in_flight, i) for i in range(6)]
        return {"results": await ctx.step.parallel(*branches)}


async def test_a_runtime_fan_out_stays_within_its_functions_limit() -> None:
    fan_in_flight.reset()
    async with environment([FanOutUnderLimit]) as env:
        [event_id] = await env.send({"name": "mix/fan"})

        run_ = await ended(env, event_id)

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


async def test_an_env_scoped_limit_is_shared_by_every_function_using_its_key() -> None:
    shared_in_flight.reset()
    async with environment([Importer, Exporter]) as env:
        await env.send([{"name": name} for name in ("mix/import", "mix/export") * 3])

        await all_ended(env, 3, Importer)
        await all_ended(env, 3, Exporter)

    assert shared_in_flight.most == 1


finished: list[str] = []


class Sequential(InngestFunction, id="sequential", event="mix/seq", concurrency=1):
    @run("work")
    async def work(self, ctx: Context) -> None:
        if ctx.event.data.get("wait"):
            await ctx.step.wait_for_event("go", event="mix/go", timeout="10s")
        await ctx.step.run("finish", finished.append, ctx.event.data["name"])


async def test_a_waiting_run_holds_no_concurrency_slot() -> None:
    finished.clear()
    async with environment([Sequential]) as env:
        [waiter] = await env.send({"name": "mix/seq", "data": {"name": "waiter", "wait": True}})
        assert await step_status(env, waiter, "go") == "Waiting"

        [other] = await env.send({"name": "mix/seq", "data": {"name": "other"}})
        assert (await run_of(env, other)).status == "Completed"  # no time had to pass
        await env.send({"name": "mix/go"})
        await ended(env, waiter)

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
            await busy("1.5s")
        return "done"


async def test_a_start_timeout_cancels_a_run_left_queued_behind_a_limit() -> None:
    backlog_started.clear()
    async with environment([Backlogged]) as env:
        [slow] = await env.send({"name": "mix/backlog", "data": {"slow": True}})
        assert backlog_started == ["slow"]  # it holds the only slot
        [queued] = await env.send({"name": "mix/backlog"})

        cancelled = await ended(env, queued, "Cancelled")

        done = await ended(env, slow)
        assert done.output == {"work": "done"}
        assert cancelled.steps == ()  # it never started
        # It was cancelled while the slow step still held the slot.
        assert instant(cancelled.raw["ended_at"]) < instant(done.step("work")["ended_at"])


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


async def test_invoking_a_rate_limited_function_over_its_limit_fails_the_caller() -> None:
    async with environment([CallsLimited, OncePerMinute]) as env:
        [first] = await env.send({"name": "mix/call-limited"})
        assert (await ended(env, first, function=CallsLimited)).output == {
            "work": "worked",
            "call it": {"work": "worked"},
        }

        [second] = await env.send({"name": "mix/call-limited"})

        failed = await ended(env, second, "Failed", function=CallsLimited, within="30s")
        assert "skipped" in failed.error["message"]
        assert [run.status for run in await env.runs(OncePerMinute)] == ["Completed", "Skipped"]


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


async def test_invoked_runs_are_never_debounced_or_batched() -> None:
    async with environment([CallsHeldBack, Debounced, Batched]) as env:
        [event_id] = await env.send({"name": "mix/call-held"})

        # Done without the clock moving at all, let alone the minute either hold would take.
        run_ = await run_of(env, event_id, CallsHeldBack)

    assert run_.status == "Completed"
    assert run_.output == {
        "debounced": 1,
        "call debounced": {"debounced": 1},
        "batch": [2],
        "call batched": {"batch": [2]},
    }


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


async def test_a_failed_callee_raises_in_the_caller_which_can_handle_it() -> None:
    async with environment([CatchesCallee, Doomed]) as env:
        [event_id] = await env.send({"name": "mix/catch"})

        run_ = await ended(env, event_id, function=CatchesCallee)

        assert "doomed to fail" in run_.output["caught"]
        assert [run.status for run in await env.runs(Doomed)] == ["Failed"]


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


async def test_a_failing_failure_handler_runs_once_and_is_not_handled_again() -> None:
    handled.clear()
    async with environment([BrokenHandler]) as env:
        [event_id] = await env.send({"name": "mix/broken"})
        failed = await ended(env, event_id, "Failed")

        [handler] = await all_ended(env, 1, "broken-handler-failure", status="Failed")
        await env.advance("1d")  # room for a (wrong) retry or second handler run to show up

        assert handled == [failed.run_id]
        assert "the handler fails too" in handler.error["message"]
        assert len(await env.runs("broken-handler-failure")) == 1


not_handled: list[str] = []


class TimesOut(
    InngestFunction, id="times-out", event="mix/times-out", timeouts=Timeouts(finish="1s")
):
    sleep("30s")

    @on_failure
    def report(self, ctx: Context, failure: Failure) -> None:
        not_handled.append(failure.run_id)


async def test_a_cancelled_run_does_not_call_its_failure_handler() -> None:
    not_handled.clear()
    async with environment([TimesOut]) as env:
        [event_id] = await env.send({"name": "mix/times-out"})

        await ended(env, event_id, "Cancelled")
        await env.advance("1d")  # room for a (wrong) handler run to show up

        assert not_handled == []
        assert await env.runs("times-out-failure") == []


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


class LoseTheFirstAnswer:
    """Call hooks that replace the first answer of one function with a server error, as if
    the response to a call that did its work never came back."""

    def __init__(self, function_id: str) -> None:
        self.function_id = function_id
        self.lost: list[str] = []

    def observer(self, call: CallRequest, function_id: str) -> None:
        return None

    def answered(self, call: CallRequest, function_id: str, answer: Answer) -> Answer:
        if function_id == self.function_id and not self.lost:
            self.lost.append(encode_body(answer.status, answer.body)[1].decode())
            return Answer(500, {"name": "Error", "message": "connection reset"})
        return answer


class LossyEnvironment(TestEnvironment):
    """A test environment whose calls go through `LoseTheFirstAnswer`."""

    lossy = LoseTheFirstAnswer("mix-announcer")

    def _make_hooks(self, steps: Mapping[Any, Any]) -> CallHooks:
        return self.lossy


async def test_a_send_whose_response_was_lost_is_retried_without_a_second_run() -> None:
    """The call that sent the event fails on its way back; the retry sends it again."""
    heard.clear()
    hooks = LossyEnvironment.lossy = LoseTheFirstAnswer("mix-announcer")
    async with LossyEnvironment([Announcer, Audience], app_id="mix", now=START) as env:
        [event_id] = await env.send({"name": "mix/announce", "data": {"what": "launch"}})
        await ended(env, event_id, function=Announcer)
        await all_ended(env, 1, Audience)
        await env.advance("1d")  # room for a (wrong) second run to show up

        audience_runs = Counter(run.status for run in await env.runs(Audience))
    assert '"announce"' in hooks.lost[0]  # the lost response was the send step's
    assert len(env.sent_events) == 2  # the retry sent it again, under the same id
    assert len({event.id for event in env.sent_events}) == 1
    assert audience_runs == {"Completed": 1}
    assert heard == {"launch": 1}
