"""Typed payloads misused: each marked line must be reported by `mypy --strict`."""

from __future__ import annotations

import attrs

from inngest_dsl import Context, Event, InngestFunction, event_type, step, wait_for_event


@event_type("auth/signup")
@attrs.frozen
class SignedUp:
    user_id: int


@attrs.frozen
class Receipt:
    amount: int


class Welcome(InngestFunction, event=SignedUp):
    confirmed = wait_for_event(SignedUp, timeout="1d")

    @step("charge")
    async def charge(self, ctx: Context[SignedUp]) -> Receipt:
        return Receipt(amount=ctx.event.data.user_id)

    @step("report")
    async def report(self, ctx: Context[SignedUp]) -> str:
        wrong: str = ctx[self.charge]  # error: a Receipt, not a str
        also_wrong: str = ctx[Welcome.charge]  # error: through the class, a Receipt too
        ctx.data["total"] = 1  # error: ctx.data is read-only
        missing = ctx.event.data.email  # error: SignedUp has no email
        event: Event[Receipt] | None = ctx[self.confirmed]  # error: Event[SignedUp]
        return f"{wrong}{also_wrong}{missing}{event}"
