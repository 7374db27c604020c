"""Example user code that must type-check under `mypy --strict` (checked by CI and a test)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from inngest_dsl import (
    Context,
    CronTrigger,
    EventTrigger,
    InngestFunction,
    parallel,
    run,
    sleep,
    sleep_until,
    spec_of,
    step,
    wait_for_event,
)
from inngest_dsl.testing import ctx_step, run_function_sync


class SignUpFlow(InngestFunction, name="Sign-up flow", event="auth/signup", retries=3):
    """Welcome a new user; nudge them if they have not confirmed within a day."""

    @run("log start")
    def log_start(self, ctx: Context) -> None:
        ctx.logger.info("sign-up %s", ctx.event.data["user_id"])

    @step("send welcome")
    async def send_welcome(self, ctx: Context) -> dict[str, str]:
        return {"message_id": "m-1"}

    sleep(dt.timedelta(hours=1))

    confirmed = wait_for_event("auth/signup.confirmed", timeout="1d", match="data.user_id")

    @sleep_until("reminder time")
    def reminder_time(self, ctx: Context) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)

    @step("nudge if unconfirmed")
    async def nudge(self, ctx: Context) -> bool:
        event = ctx[self.confirmed]
        if event is None:
            return True
        # An event reads by attribute and, like the rest of ctx.data, as JSON.
        same: bool = event["data"]["ok"] == event.data.get("ok") == event.get("data", {})["ok"]
        return bool(event.data.get("ok")) and same


class DailyDigest(InngestFunction, cron="TZ=Europe/Paris 0 9 * * *", id="daily-digest"):
    @step("collect")
    def collect(self, ctx: Context) -> list[int]:
        return [1, 2, 3]


retries: int | None = spec_of(SignUpFlow).retries


class ShopWatch(
    InngestFunction,
    triggers=[
        EventTrigger("shop/order.paid", expression="event.data.total > 100"),
        EventTrigger("shop/refund.*"),
        CronTrigger("TZ=Europe/Paris 0 9 * * *", jitter="30s"),
    ],
):
    @step("look")
    def look(self, ctx: Context) -> dict[str, str]:
        return {"name": ctx.event.name, "run": ctx.run_id, "attempt": str(ctx.attempt)}


class TwoNames(InngestFunction, event=["shop/a", "shop/b"], cron="0 9 * * *", jitter="1m"):
    pass


class Racing(InngestFunction, event="shop/race"):
    with parallel("first wins", mode="race"):
        sleep("1h")
        reply = wait_for_event("shop/reply", timeout="1d")

    @step("pick")
    async def pick(self, ctx: Context) -> dict[str, str]:
        async def eu() -> str:
            return "eu"

        async def us() -> str:
            return "us"

        winner: str = await ctx.step.parallel(("eu", eu), ("us", us), race=True)
        both: list[str] = await ctx.step.parallel(("eu2", eu), ("us2", us))
        return {"winner": winner, "both": ",".join(both), "job": ctx.job_id, "req": ctx.request_id}


class Traced(InngestFunction, event="shop/traced"):
    @run("trace", log_every_request=True)
    def trace(self, ctx: Context) -> None:
        ctx.logger.info("request %s", ctx.request_id)

    @step("copy")
    def copy(self, ctx: Context) -> dict[str, Any]:
        data = ctx.data.copy()
        data["seen"] = True
        return data


def mocks_for_traced() -> None:
    run_function_sync(Traced, steps={ctx_step("added at run time"): 1, "copy": {}})
