"""`ctx.logger` emits each record once per run, however many requests the run takes."""

from __future__ import annotations

import logging
from collections import Counter

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from inngest_dsl import Context, InngestFunction, parallel, run, sleep, step, wait_for_event
from inngest_dsl.aiohttp import serve
from inngest_dsl.testing import CapturingClient, run_function_sync
from tests.serve.conftest import Executor, event
from tests.serve.test_blocks import MultiOpExecutor

attempts: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def reset() -> None:
    attempts.clear()


def records(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "inngest_dsl.function"]


class SignUp(InngestFunction, id="sign-up", event="auth/signup"):
    @run("log start")
    def log_start(self, ctx: Context) -> None:
        ctx.logger.info("sign-up of user %s", ctx.event.data["user_id"])

    @step("send welcome")
    async def send_welcome(self, ctx: Context) -> dict[str, str]:
        ctx.logger.info("welcome")
        return {"welcome_id": "m1"}

    confirmed = wait_for_event("auth/signup.confirmed", timeout="1d", match="data.user_id")

    @run("between")
    def between(self, ctx: Context) -> None:
        ctx.logger.info("between")

    @step("nudge")
    def nudge(self, ctx: Context) -> dict[str, bool]:
        ctx.logger.info("nudge")
        return {"nudged": ctx[self.confirmed] is None}


def test_run_blocks_log_once_per_run_not_once_per_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    result = run_function_sync(
        SignUp,
        {"name": "auth/signup", "data": {"user_id": "u-42"}},
        waits={"auth/signup.confirmed": None},
    )

    assert result.status == "completed"
    assert result.calls >= 4  # the run block ran on each of them
    assert records(caplog) == ["sign-up of user u-42", "welcome", "between", "nudge"]


class Dynamic(InngestFunction, id="dynamic", event="app/go"):
    @run("loop")
    async def loop(self, ctx: Context) -> None:
        ctx.logger.info("before a")
        await ctx.step.run("a", lambda: 1)
        ctx.logger.info("after a")
        await ctx.step.sleep("nap", "1m")
        ctx.logger.info("after nap")
        await ctx.step.run("b", lambda: 2)
        ctx.logger.info("after b")

    @run("every request", log_every_request=True)
    def every(self, ctx: Context) -> None:
        ctx.logger.info("every")

    @step("last")
    async def last(self, ctx: Context) -> int:
        ctx.logger.info("last")
        return 3


def test_code_before_a_memoised_dynamic_step_does_not_log_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    result = run_function_sync(Dynamic)

    assert result.status == "completed"
    seen = records(caplog)
    assert [m for m in seen if m != "every"] == [
        "before a", "after a", "after nap", "after b", "last",
    ]  # fmt: skip
    # log_every_request=True: the block logs on each request reaching it (two here).
    assert seen.count("every") == 2


class Flaky(InngestFunction, id="flaky", event="app/go", retries=2):
    @run("start")
    def start(self, ctx: Context) -> None:
        ctx.logger.info("start")

    @step("call api")
    def call_api(self, ctx: Context) -> str:
        attempts["call api"] += 1
        ctx.logger.info("attempt %d", ctx.attempt)
        if attempts["call api"] < 3:
            raise RuntimeError("api down")
        return "ok"


def test_a_retry_logs_the_retried_step_again_but_not_the_run_blocks_before_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    result = run_function_sync(Flaky)

    assert result.status == "completed"
    assert records(caplog) == ["start", "attempt 0", "attempt 1", "attempt 2"]


class Grouped(InngestFunction, id="grouped", event="app/go"):
    @run("start")
    def start(self, ctx: Context) -> None:
        ctx.logger.info("start")

    with parallel("both"):

        @step("left")
        def left(self, ctx: Context) -> int:
            ctx.logger.info("left")
            return 1

        @step("right")
        def right(self, ctx: Context) -> int:
            ctx.logger.info("right")
            return 2

    sleep("1m")

    @run("end")
    def end(self, ctx: Context) -> None:
        ctx.logger.info("end")


async def test_targeted_and_planned_requests_do_not_log_the_run_blocks_again(
    aiohttp_client: AiohttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    app = web.Application()
    serve(app, CapturingClient("shop"), [Grouped, Flaky])
    client = await aiohttp_client(app)
    grouped = MultiOpExecutor(client)

    final = await grouped.run("grouped", event("app/go"))

    assert final.status == 200
    assert len(grouped.calls) >= 4  # a discovery, a targeted call per member, the sleep
    assert sorted(records(caplog)) == ["end", "left", "right", "start"]

    caplog.clear()
    attempts["call api"] = 2  # succeeds at once
    planned = Executor(client, "flaky", always_plan=True, trigger=event("app/go"))
    assert (await planned.run()).status == 200
    assert planned.calls == 3  # planned, run (targeted), done
    assert records(caplog) == ["start", "attempt 0"]


def test_ctx_logger_respects_the_level_of_the_logger_it_wraps(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    run_function_sync(SignUp, {"name": "auth/signup", "data": {"user_id": "u"}},
                      waits={"auth/signup.confirmed": None})  # fmt: skip
    assert records(caplog) == []




class Extra(InngestFunction, id="extra", event="app/go"):
    @step("note")
    def note(self, ctx: Context) -> None:
        ctx.logger.warning("noted", extra={"order": 7})


def test_a_records_extra_fields_are_kept(caplog: pytest.LogCaptureFixture) -> None:
    run_function_sync(Extra)
    [record] = [r for r in caplog.records if r.name == "inngest_dsl.function"]
    assert record.order == 7  # type: ignore[attr-defined]
