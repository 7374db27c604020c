"""Typed events and typed step results as users write them: must pass `mypy --strict`."""

from __future__ import annotations

import datetime as dt

import attrs

from inngest_dsl import (
    Cancel,
    Context,
    Event,
    Inngest,
    InngestFunction,
    event_type,
    invoke,
    send_event,
    step,
    wait_for_event,
)
from inngest_dsl.middleware import CallInput, CallOutput, Middleware
from inngest_dsl.testing import CapturingClient, TestEnvironment, TraceOp, run_function


@event_type("auth/signup")
@attrs.frozen
class SignedUp:
    user_id: int
    email: str


@event_type("auth/confirmed")
@attrs.frozen
class Confirmed:
    user_id: int


@attrs.frozen
class Receipt:
    amount: int
    at: dt.datetime


class Audit(Middleware):
    async def transform_input(self, call: CallInput) -> None:
        call.steps.clear()
        call.state["cleared"] = True

    async def transform_output(self, call: CallInput, output: CallOutput) -> None:
        output.data = {"wrapped": output.data}


class Welcome(
    InngestFunction,
    event=SignedUp,
    cancel_on=[Cancel(event=Confirmed, match="data.user_id"), "auth/deleted"],
    middleware=[Audit()],
):
    confirmed = wait_for_event(Confirmed, timeout="1d", match="data.user_id")
    untyped = wait_for_event("auth/other", timeout="1d")

    @step("charge")
    async def charge(self, ctx: Context[SignedUp]) -> Receipt:
        user_id: int = ctx.event.data.user_id
        return Receipt(amount=user_id, at=dt.datetime.now(dt.timezone.utc))

    @step("count")
    def count(self, ctx: Context[SignedUp]) -> list[int]:
        return [1, 2]

    @step("report")
    async def report(self, ctx: Context[SignedUp]) -> dict[str, int]:
        receipt: Receipt = ctx[self.charge]
        counts: list[int] = ctx[self.count]
        # Through the class, as a block reads a handle in tests and in the guides.
        same_receipt: Receipt = ctx[Welcome.charge]
        same_counts: list[int] = ctx[Welcome.count]
        copied: dict[str, object] = ctx.data.copy()
        copied["mine"] = same_receipt.amount + len(same_counts)
        confirmation: Event[Confirmed] | None = ctx[self.confirmed]
        other: Event | None = ctx[self.untyped]
        waited = await ctx.step.wait_for_event("again", event=Confirmed, timeout="1h")
        await ctx.step.send_event("tell", [Confirmed(user_id=1), {"name": "a/b"}])
        confirmed_id = 0 if waited is None else waited.data.user_id
        first: SignedUp = ctx.events[0].data
        return {
            "amount": receipt.amount,
            "counts": sum(counts),
            "confirmed": 0 if confirmation is None else confirmation.data.user_id,
            "other": 0 if other is None else len(other.data),
            "again": confirmed_id,
            "first": first.user_id,
        }


class Charge(InngestFunction, event=SignedUp):
    invoke("welcome", function=Welcome, data=SignedUp(user_id=1, email="a@b.c"))
    send_event("confirm", events=Confirmed(user_id=1))

    @step("plain")
    def plain(self, ctx: Context) -> str:
        return str(ctx.event.data["user_id"])


async def send(client: Inngest) -> list[str]:
    return await client.send([SignedUp(user_id=1, email="a@b.c"), Confirmed(user_id=1)])


client = Inngest(app_id="typed", middleware=[Audit()])


async def test_welcome() -> None:
    # The testing kit takes typed events, mocks keyed by method and handles, middleware.
    result = await run_function(
        Welcome,
        SignedUp(user_id=1, email="a@b.c"),
        steps={Welcome.charge: {"amount": 1, "at": "2026-01-01T00:00:00Z"}},
        waits={Welcome.confirmed: Confirmed(user_id=1), "auth/other": None},
        client=CapturingClient(middleware=[Audit()]),
    )
    charged: TraceOp = result.step(Welcome.charge)
    assert charged.mocked
    async with TestEnvironment([Welcome], middleware=[Audit()]) as env:
        await env.send(SignedUp(user_id=2, email="b@c.d"))
