"""run_function: the real engine driven in-process, virtual time, mocks, scripted waits."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from typing import Any

import pytest

from inngest_dsl import (
    Context,
    Event,
    InngestFunction,
    NonRetriableError,
    run,
    sleep,
    sleep_until,
    spec_of,
    step,
    wait_for_event,
)
from inngest_dsl.testing import RunFunctionError, run_function, run_function_sync

UTC = dt.timezone.utc
calls: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def reset_calls() -> None:
    calls.clear()


class SignUp(InngestFunction, id="sign-up", event="auth/signup", retries=2):
    @run("log start")
    def log_start(self, ctx: Context) -> None:
        calls["log start"] += 1

    @step("send welcome")
    async def send_welcome(self, ctx: Context) -> dict[str, str]:
        calls["send welcome"] += 1
        return {"message_id": f"m-{ctx.event.data['user_id']}"}

    sleep("7d")

    confirmed = wait_for_event("auth/signup.confirmed", timeout="1d", match="data.user_id")

    @step("nudge")
    def nudge(self, ctx: Context) -> str:
        calls["nudge"] += 1
        return "skipped" if ctx[SignUp.confirmed] is not None else f"nudged {ctx['message_id']}"


SIGNUP = {"name": "auth/signup", "data": {"user_id": "u1"}}
START = dt.datetime(2026, 1, 1, tzinfo=UTC)


# -- virtual time ---------------------------------------------------------------------------


async def test_a_seven_day_sleep_takes_virtual_time_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_sleep = asyncio.sleep
    slept: list[float] = []

    async def recording_sleep(delay: float, result: Any = None) -> Any:
        slept.append(delay)
        return await real_sleep(delay, result)

    monkeypatch.setattr(asyncio, "sleep", recording_sleep)
    result = await run_function(SignUp, SIGNUP, waits={"auth/signup.confirmed": None}, now=START)

    assert slept  # the recorder saw the environment's own turns of the loop (sleep(0))...
    assert [delay for delay in slept if delay > 0] == []  # ...and nothing waited for real
    assert result.status == "completed"
    assert result.sleeps == (dt.timedelta(days=7),)
    sleep_op = result.step("sleep 7d")
    assert sleep_op.kind == "sleep"
    assert sleep_op.data == dt.timedelta(days=7)
    assert sleep_op.at == START + dt.timedelta(days=7)
    # The wait timed out a day later.
    assert result.finished_at == START + dt.timedelta(days=8)
    assert result.elapsed == dt.timedelta(days=8)


class Launch(InngestFunction, id="launch", event="app/launch"):
    sleep_until("go live", at="2026-03-01T09:00:00Z")

    @sleep_until("follow up")
    def follow_up(self, ctx: Context) -> dt.datetime:
        return dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    sleep_until("already past", at="2020-01-01T00:00:00Z")

    @step("announce")
    def announce(self, ctx: Context) -> str:
        return "live"


def test_sleep_until_moves_the_virtual_clock_to_its_instant() -> None:
    result = run_function_sync(Launch, now="2026-02-28T09:00:00Z")

    assert result.status == "completed"
    assert result.step("go live").data == dt.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert result.step("go live").at == dt.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert result.step("follow up").at == dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    # An instant in the past does not sleep, and the clock never goes back.
    assert result.sleeps == (dt.timedelta(days=1), dt.timedelta(days=1), dt.timedelta(0))
    assert result.step("already past").at == dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert result.output == {"announce": "live"}


def test_now_must_be_an_instant() -> None:
    with pytest.raises(RunFunctionError, match="now="):
        run_function_sync(Launch, now="next tuesday")


# -- waits ----------------------------------------------------------------------------------


def test_a_wait_resolved_by_the_scripted_event() -> None:
    result = run_function_sync(
        SignUp, SIGNUP, waits={"auth/signup.confirmed": {"data": {"user_id": "u1"}}}, now=START
    )

    assert result.status == "completed"
    wait = result.step("auth/signup.confirmed")
    assert wait.kind == "wait_for_event"
    assert wait.data == Event("auth/signup.confirmed", {"user_id": "u1"})
    assert not wait.timed_out
    assert wait.at == START + dt.timedelta(days=7)  # arrives as soon as the wait is armed
    assert result.output["nudge"] == "skipped"
    assert result.data["auth/signup.confirmed"] == Event("auth/signup.confirmed", {"user_id": "u1"})
    # The output is what the executor records: JSON, the event as its wire object.
    assert result.output["auth/signup.confirmed"]["data"] == {"user_id": "u1"}


def test_a_wait_that_times_out() -> None:
    result = run_function_sync(SignUp, SIGNUP, waits={SignUp.confirmed: None})

    assert result.status == "completed"
    assert result.step("auth/signup.confirmed").timed_out
    assert result.output["nudge"] == "nudged m-u1"
    assert result.output["auth/signup.confirmed"] is None


def test_a_wait_missing_from_waits_is_a_clear_error() -> None:
    with pytest.raises(RunFunctionError) as info:
        run_function_sync(SignUp, SIGNUP)
    message = str(info.value)
    assert "wait_for_event 'auth/signup.confirmed'" in message
    assert "waits={'auth/signup.confirmed': None}" in message


def test_a_scripted_event_must_satisfy_the_wait_condition() -> None:
    with pytest.raises(RunFunctionError, match="does not satisfy the wait's condition"):
        run_function_sync(
            SignUp, SIGNUP, waits={"auth/signup.confirmed": {"data": {"user_id": "u2"}}}
        )


def test_a_scripted_event_must_have_the_awaited_name() -> None:
    with pytest.raises(RunFunctionError, match="named 'other/event'"):
        run_function_sync(SignUp, SIGNUP, waits={"auth/signup.confirmed": Event("other/event")})


def test_waits_for_unknown_ids_are_refused() -> None:
    with pytest.raises(RunFunctionError, match="'auth/confirmed', which is not a wait_for_event"):
        run_function_sync(Launch, waits={"auth/confirmed": None})
    # A function that may add waits at run time: an id close to a declared wait's is taken
    # for a misspelling before anything runs...
    with pytest.raises(RunFunctionError) as info:
        run_function_sync(SignUp, SIGNUP, waits={"auth/confirmed": None})
    assert "did you mean 'auth/signup.confirmed'?" in str(info.value)
    assert not calls  # nothing ran
    # ... any other is checked when the run ends, and named when the run needs a wait that
    # was not scripted.
    with pytest.raises(RunFunctionError) as info:
        run_function_sync(SignUp, SIGNUP, waits={"billing/paid": None})
    assert "(waits= also scripts 'billing/paid')" in str(info.value)
    with pytest.raises(RunFunctionError) as info:
        run_function_sync(SignUp, SIGNUP, waits={"billing/paid": None, SignUp.confirmed: None})
    message = str(info.value)
    assert "waits= scripts 'billing/paid', which is not a wait_for_event" in message
    assert "its waits: 'auth/signup.confirmed'" in message
    assert "run of 'sign-up' completed" in message  # with the trace of what happened


# -- mocked steps ---------------------------------------------------------------------------


def test_a_mocked_step_is_not_called_and_its_value_is_used() -> None:
    result = run_function_sync(
        SignUp,
        SIGNUP,
        steps={"send welcome": {"message_id": "mocked"}},
        waits={"auth/signup.confirmed": None},
    )

    assert result.status == "completed"
    assert calls["send welcome"] == 0
    welcome = result.step("send welcome")
    assert welcome.mocked
    assert welcome.data == {"message_id": "mocked"}
    assert result.output["nudge"] == "nudged mocked"
    assert not result.step("nudge").mocked


def test_a_mocked_exception_is_raised_by_the_step() -> None:
    result = run_function_sync(SignUp, SIGNUP, steps={"send welcome": RuntimeError("smtp down")})

    assert result.status == "failed"
    assert calls["send welcome"] == 0
    assert result.step("send welcome").attempts == 3
    assert str(result.error) == "RuntimeError: smtp down"


def test_mocks_for_unknown_blocks_are_refused() -> None:
    with pytest.raises(RunFunctionError, match=r"'tw'.*did you mean 'two'\?.*'one', 'two'"):
        run_function_sync(Long, steps={"tw": 2})  # no async body: refused before running
    with pytest.raises(RunFunctionError, match=r"is a wait_for_event of .*: script it with waits="):
        run_function_sync(SignUp, SIGNUP, steps={"auth/signup.confirmed": None})
    # An async body could add a step of that id at run time, but one this close to a block's
    # id is a misspelling: refused before anything runs, so the real body never does.
    with pytest.raises(RunFunctionError, match=r"'send welcom'.*did you mean 'send welcome'\?"):
        run_function_sync(
            SignUp, SIGNUP, steps={"send welcom": {}}, waits={SignUp.confirmed: None}
        )
    assert not calls
    # Any other id may be a ctx.step step: checked when the run ends.
    with pytest.raises(RunFunctionError, match=r"'billing'.*no ctx.step step.*'send welcome'"):
        run_function_sync(SignUp, SIGNUP, steps={"billing": {}}, waits={SignUp.confirmed: None})


# -- retries and failures -------------------------------------------------------------------


class Flaky(InngestFunction, id="flaky", event="app/flaky", retries=4):
    @run("count requests")
    def count(self, ctx: Context) -> None:
        calls["requests"] += 1

    @step("call api")
    async def call_api(self, ctx: Context) -> dict[str, int]:
        calls["call api"] += 1
        if calls["call api"] <= ctx.event.data["failures"]:
            raise ConnectionError(f"attempt {ctx.attempt} refused")
        return {"answer": 42, "attempt": ctx.attempt}


def test_a_step_failing_twice_then_succeeding_takes_three_attempts() -> None:
    result = run_function_sync(Flaky, {"name": "app/flaky", "data": {"failures": 2}})

    assert result.status == "completed"
    api = result.step("call api")
    assert api.attempts == 3
    assert api.error is None
    assert [str(e) for e in api.errors] == [
        "ConnectionError: attempt 0 refused",
        "ConnectionError: attempt 1 refused",
    ]
    assert result.output == {"answer": 42, "attempt": 2}
    # Each retry is a new request, which re-runs the run block before the step.
    assert result.step("count requests").attempts == calls["requests"] == 4


def test_a_step_exhausting_its_attempts_fails_the_run() -> None:
    result = run_function_sync(Flaky, {"name": "app/flaky", "data": {"failures": 99}})

    assert result.status == "failed"
    assert result.output is None
    api = result.step("call api")
    assert api.attempts == 5  # retries=4
    assert api.error is not None
    assert api.error.name == "ConnectionError"
    assert api.error.message == "attempt 4 refused"
    assert result.error is not None
    assert str(result.error) == "ConnectionError: attempt 4 refused"


def test_max_attempts_overrides_the_function_retries() -> None:
    result = run_function_sync(
        Flaky, {"name": "app/flaky", "data": {"failures": 99}}, max_attempts=2
    )
    assert result.status == "failed"
    assert result.step("call api").attempts == 2
    with pytest.raises(RunFunctionError, match="max_attempts"):
        run_function_sync(Flaky, {"name": "app/flaky", "data": {"failures": 0}}, max_attempts=0)


class Picky(InngestFunction, id="picky", event="app/picky"):
    @step("validate")
    def validate(self, ctx: Context) -> dict[str, bool]:
        calls["validate"] += 1
        raise NonRetriableError("bad input")

    @step("never")
    def never(self, ctx: Context) -> None:
        calls["never"] += 1


def test_a_non_retriable_error_fails_at_once() -> None:
    result = run_function_sync(Picky)

    assert result.status == "failed"
    assert result.step("validate").attempts == 1
    assert calls == {"validate": 1}
    assert result.error is not None
    assert result.error.name == "NonRetriableError"
    assert result.step("validate").error == result.error
    assert [op.id for op in result.trace] == ["validate"]


class BrokenRun(InngestFunction, id="broken-run", event="app/broken", retries=1):
    @step("first")
    def first(self, ctx: Context) -> dict[str, int]:
        return {"first": 1}

    @run("load config")
    def load(self, ctx: Context) -> None:
        calls["load config"] += 1
        raise KeyError("CONFIG")


def test_a_failing_run_block_is_retried_as_a_request_then_fails() -> None:
    result = run_function_sync(BrokenRun)

    assert result.status == "failed"
    assert calls["load config"] == 2
    assert result.step("load config").error is not None
    assert result.error is not None
    assert result.error.name == "KeyError"
    # `data` is what had accumulated when the run stopped.
    assert result.data == {"first": 1}


# -- inputs and outputs ---------------------------------------------------------------------


class Echo(InngestFunction, id="echo", event="app/echo"):
    @step("echo")
    def echo(self, ctx: Context) -> dict[str, Any]:
        return {"names": tuple(e.name for e in ctx.events), "first": ctx.event.data}


def test_the_event_defaults_to_an_empty_event_of_the_trigger() -> None:
    result = run_function_sync(Echo)
    assert result.output == {"names": ["app/echo"], "first": {}}


def test_events_are_the_batch_and_results_pass_through_json() -> None:
    batch = [Event("app/echo", {"n": 1}), {"name": "app/echo", "data": {"n": 2}}]
    result = run_function_sync(Echo, events=batch)
    # The step returned a tuple; the memo holds what JSON makes of it.
    assert result.output == {"names": ["app/echo", "app/echo"], "first": {"n": 1}}
    assert result.step("echo").data["names"] == ["app/echo", "app/echo"]


def test_bad_events_are_refused_with_where_they_are() -> None:
    with pytest.raises(RunFunctionError, match=r"event: unknown event field\(s\) nmae"):
        run_function_sync(Echo, {"nmae": "app/echo"})
    with pytest.raises(RunFunctionError, match=r"events\[0\] is not JSON-serialisable"):
        run_function_sync(Echo, events=[{"name": "app/echo", "data": {"at": START}}])


class Nightly(InngestFunction, id="nightly", cron="0 3 * * *"):
    @step("report")
    def report(self, ctx: Context) -> dict[str, Any]:
        return {"trigger": ctx.event.name, "cron": ctx.event.data["cron"]}


def test_a_cron_function_gets_a_scheduled_timer_event() -> None:
    result = run_function_sync(Nightly, now=START)
    assert result.output == {"trigger": "inngest/scheduled.timer", "cron": "0 3 * * *"}


def test_a_spec_can_be_run_too() -> None:
    assert run_function_sync(spec_of(Echo)).status == "completed"


# -- loop guard, event loops ----------------------------------------------------------------


class Long(InngestFunction, id="long", event="app/long"):
    @step("one")
    def one(self, ctx: Context) -> int:
        return 1

    @step("two")
    def two(self, ctx: Context) -> int:
        return 2

    @step("three")
    def three(self, ctx: Context) -> int:
        return 3


def test_a_run_needing_more_calls_than_allowed_stops_with_a_clear_error() -> None:
    with pytest.raises(RunFunctionError, match="did not finish within 2 calls") as info:
        run_function_sync(Long, max_calls=2)
    assert "'two'" in str(info.value)
    assert run_function_sync(Long, max_calls=4).output == {"one": 1, "two": 2, "three": 3}


async def test_run_function_sync_refuses_a_running_loop() -> None:
    with pytest.raises(RuntimeError, match=r"await run_function\(\.\.\.\)"):
        run_function_sync(Echo)


async def test_concurrent_runs_keep_their_own_mocks_and_traces() -> None:
    first, second = await asyncio.gather(
        run_function(SignUp, SIGNUP, steps={"send welcome": {"message_id": "a"}},
                     waits={SignUp.confirmed: None}),
        run_function(SignUp, SIGNUP, steps={"send welcome": {"message_id": "b"}},
                     waits={SignUp.confirmed: None}),
    )
    assert first.output["nudge"] == "nudged a"
    assert second.output["nudge"] == "nudged b"
    assert first.run_id != second.run_id
    assert calls["log start"] == first.step("log start").attempts * 2


def test_the_function_still_runs_normally_outside_the_kit() -> None:
    # The kit instruments a copy of the spec; the class's own spec is untouched.
    original = spec_of(SignUp).ops[1]
    assert original.body is SignUp.send_welcome  # type: ignore[union-attr]


async def test_a_result_that_is_not_json_fails_the_block_that_returned_it() -> None:
    class Sets(InngestFunction, event="app/sets", retries=0):
        @step("fine")
        def fine(self, ctx: Context) -> dict[str, int]:
            return {"n": 1}

        @step("bad")
        def bad(self, ctx: Context) -> object:
            return object()  # a set would do: cattrs stores it as a list

    result = await run_function(Sets, {"name": "app/sets"})
    assert result.status == "failed"
    assert result.step("bad").error is not None
    assert "not JSON-serialisable" in result.step("bad").error.message
    assert result.step("fine").error is None
    assert "step 'bad'" in result.format_trace()


hourly_calls: list[int] = []


class HourlyReport(InngestFunction, id="hourly-report", cron="0 * * * *"):
    @step("work")
    def work(self, ctx: Context) -> int:
        hourly_calls.append(1)
        return 1

    sleep("3h")


async def test_a_cron_function_runs_once_however_long_it_sleeps() -> None:
    hourly_calls.clear()
    result = await run_function(HourlyReport, now=START, steps={"work": 99})
    assert result.status == "completed"
    assert result.output == {"work": 99}
    assert hourly_calls == []  # no other run of the schedule ran the real body
