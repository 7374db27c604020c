"""The shop's durable functions."""

from __future__ import annotations

from examples.shop import mailer
from inngest_dsl import Context, InngestFunction, run, step, wait_for_event


class SignUpFlow(InngestFunction, name="Sign-up flow", event="auth/signup", retries=3):
    """Welcome a new user; nudge them if they have not confirmed within a day."""

    @run("log start")
    def log_start(self, ctx: Context) -> None:
        ctx.logger.info("sign-up of user %s", ctx.event.data["user_id"])

    @step("send welcome")
    async def send_welcome(self, ctx: Context) -> dict[str, str]:
        return {"welcome_id": await mailer.send(ctx.event.data["email"], "Welcome!")}

    confirmed = wait_for_event("auth/signup.confirmed", timeout="1d", match="data.user_id")

    @step("nudge if unconfirmed")
    async def nudge(self, ctx: Context) -> dict[str, bool]:
        if ctx[self.confirmed] is not None:
            return {"nudged": False}
        await mailer.send(ctx.event.data["email"], "Please confirm your address")
        return {"nudged": True}


class DailyDigest(InngestFunction, name="Daily digest", cron="TZ=Europe/Paris 0 9 * * *"):
    """Every morning, mail the team a summary of yesterday's sign-ups."""

    @step("count sign-ups")
    async def count(self, ctx: Context) -> dict[str, int]:
        return {"sign_ups": mailer.sent_count("Welcome!")}

    @step("send digest")
    async def send_digest(self, ctx: Context) -> dict[str, str]:
        body = f"{ctx.data['sign_ups']} new sign-ups"
        return {"digest_id": await mailer.send("team@example.com", body)}
