"""Typed events: an `@event_type` attrs class is an event's data, wherever a name is taken.

Runs on `TestEnvironment` (the dev server's engine, virtual time, in-process calls).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import attrs
import pytest
from aiohttp import web

from inngest_dsl import (
    Cancel,
    Context,
    DefinitionError,
    Event,
    EventError,
    Inngest,
    InngestFunction,
    PayloadError,
    event_type,
    invoke,
    send_event,
    sleep,
    spec_of,
    step,
    wait_for_event,
)
from inngest_dsl.aiohttp import serve
from inngest_dsl.spec._event import to_events
from inngest_dsl.testing import TestEnvironment, run_function

START = "2026-01-01T00:00:00Z"


@event_type("auth/signup")
@attrs.frozen
class SignedUp:
    user_id: int
    email: str
    plan: str = "free"


@event_type("auth/confirmed")
@attrs.frozen
class Confirmed:
    user_id: int


@event_type("auth/deleted")
@dataclasses.dataclass(frozen=True)
class Deleted:
    user_id: int


class Welcome(InngestFunction, id="welcome", event=SignedUp, retries=3, cancel_on=Deleted):
    confirmed = wait_for_event(Confirmed, timeout="1d", match="data.user_id")

    @step("greet")
    async def greet(self, ctx: Context[SignedUp]) -> dict[str, Any]:
        signed_up = ctx.event.data
        confirmation = ctx[self.confirmed]
        return {
            "kind": type(signed_up).__name__,
            "user": signed_up.user_id,
            "plan": signed_up.plan,
            "confirmed_by": None if confirmation is None else confirmation.data.user_id,
            "confirmation_kind": None if confirmation is None else type(confirmation.data).__name__,
            "batch_kinds": [type(e.data).__name__ for e in ctx.events],
        }


async def test_a_typed_event_is_sent_and_read_as_its_class_and_a_wait_resumes_typed() -> None:
    async with TestEnvironment([Welcome], now=START) as env:
        await env.send(SignedUp(user_id=7, email="ada@example.com"))
        await env.send(Confirmed(user_id=7))
        [run] = await env.runs(Welcome)
        assert run.status == "Completed", run.raw
        # ctx.data also holds the wait's event, as JSON, under its name.
        assert run.output.pop("auth/confirmed")["data"] == {"user_id": 7}
        assert run.output == {
            "kind": "SignedUp",
            "user": 7,
            "plan": "free",
            "confirmed_by": 7,
            "confirmation_kind": "Confirmed",
            "batch_kinds": ["SignedUp"],
        }
        # On the wire the event is the class's JSON under the decorator's name.
        assert run.events[0]["name"] == "auth/signup"
        assert run.events[0]["data"] == {"user_id": 7, "email": "ada@example.com", "plan": "free"}


async def test_a_typed_wait_that_times_out_reads_none() -> None:
    async with TestEnvironment([Welcome], now=START) as env:
        await env.send(SignedUp(user_id=1, email="a@b.c"))
        await env.advance("1d")
        [run] = await env.runs(Welcome)
        assert run.status == "Completed", run.raw
        assert run.output["confirmed_by"] is None


async def test_a_payload_that_does_not_fit_fails_the_run_at_once_naming_the_field() -> None:
    async with TestEnvironment([Welcome], now=START) as env:
        await env.send({"name": "auth/signup", "data": {"user_id": "seven", "email": "a@b.c"}})
        await env.send(Confirmed(user_id=7))
        [run] = await env.runs(Welcome)
        assert run.status == "Failed", run.raw
        message = run.error["message"]
        assert "the data of event 'auth/signup' does not fit SignedUp" in message
        assert "$.user_id" in message
        # Failed at the first call, before the wait: retries=3, yet not retried.
        assert run.error["name"] == "PayloadError"
        assert [step["name"] for step in run.steps] == []


class Approval(InngestFunction, id="approval", event="app/request", retries=2):
    approved = wait_for_event(Confirmed, timeout="1h", if_="async.data.ok == true")

    @step("read")
    async def read(self, ctx: Context) -> dict[str, Any]:
        approval = ctx[self.approved]
        return {"user": None if approval is None else approval.data.user_id}


async def test_a_wait_payload_that_does_not_fit_fails_the_run_naming_the_field() -> None:
    async with TestEnvironment([Approval], now=START) as env:
        await env.send({"name": "app/request"})
        await env.send({"name": "auth/confirmed", "data": {"ok": True, "user_id": 3}})
        await env.send({"name": "app/request"})
        await env.send({"name": "auth/confirmed", "data": {"ok": True}})
        first, second = sorted(await env.runs(Approval), key=lambda r: r.run_id)
        assert first.status == "Completed"
        assert first.output["user"] == 3
        assert second.status == "Failed", second.raw
        message = second.error["message"]
        assert "the data of event 'auth/confirmed' does not fit Confirmed" in message
        assert "required field missing @ $.user_id" in second.error["message"]
        assert second.error["name"] == "PayloadError"  # non-retriable: retries=2 unused


async def test_cancel_on_takes_an_event_type() -> None:
    assert spec_of(Welcome).cancel_on[0].event == "auth/deleted"
    assert Cancel(event=Deleted, match="data.user_id").event == "auth/deleted"
    async with TestEnvironment([Welcome], now=START) as env:
        await env.send(SignedUp(user_id=3, email="a@b.c"))
        await env.send(Deleted(user_id=3))
        [run] = await env.runs(Welcome)
        assert run.status == "Cancelled"


class Charge(InngestFunction, id="charge", event=SignedUp):
    @step("charge")
    def charge(self, ctx: Context[SignedUp]) -> dict[str, Any]:
        return {"charged": ctx.event.data.user_id, "kind": type(ctx.event.data).__name__}


class Signups(InngestFunction, id="signups", event="app/start"):
    invoke("charge", function=Charge, data=SignedUp(user_id=5, email="x@y.z"))

    @send_event("tell")
    def tell(self, ctx: Context) -> list[SignedUp]:
        return [SignedUp(user_id=6, email="q@r.s")]

    @step("dynamic")
    async def dynamic(self, ctx: Context) -> dict[str, Any]:
        ids = await ctx.step.send_event("again", SignedUp(user_id=9, email="z@z.z"))
        confirmed = await ctx.step.wait_for_event("wait", event=Confirmed, timeout="1h")
        return {
            "sent": len(ids),
            "confirmed": None if confirmed is None else confirmed.data.user_id,
        }


async def test_invoke_and_sends_take_typed_events() -> None:
    async with TestEnvironment([Signups, Charge], now=START) as env:
        await env.send({"name": "app/start"})
        await env.advance("2m")
        await env.send(Confirmed(user_id=4))
        [run] = await env.runs(Signups)
        assert run.status == "Completed", run.raw
        # The invoked function's event data arrives typed as its trigger's class.
        assert run.output["charged"] == 5
        assert run.output["kind"] == "SignedUp"
        assert run.output["sent"] == 1
        assert run.output["confirmed"] == 4
        sent = [(e.name, dict(e.data)) for e in env.sent_events]
        assert ("auth/signup", {"user_id": 6, "email": "q@r.s", "plan": "free"}) in sent
        assert ("auth/signup", {"user_id": 9, "email": "z@z.z", "plan": "free"}) in sent


def test_send_turns_a_typed_instance_into_its_event() -> None:
    [event] = to_events(SignedUp(user_id=1, email="e"))
    assert event == Event("auth/signup", {"user_id": 1, "email": "e", "plan": "free"})
    events = to_events([Confirmed(user_id=2), {"name": "x/y"}])
    assert [e.name for e in events] == ["auth/confirmed", "x/y"]
    with pytest.raises(EventError, match="@event_type"):
        to_events(object())  # type: ignore[arg-type]


class NotAnEvent:
    pass


@attrs.frozen
class Undecorated:
    x: int


def test_a_class_that_is_not_an_event_type_is_a_definition_error() -> None:
    with pytest.raises(DefinitionError) as caught:

        class Bad(InngestFunction, event=Undecorated):
            wait = wait_for_event(NotAnEvent, timeout="1h")

    problems = "\n".join(caught.value.problems)
    assert "Undecorated is not an event type" in problems
    assert "NotAnEvent is not an event type" in problems


def test_event_type_takes_an_attrs_class_or_dataclass_and_a_good_name() -> None:
    with pytest.raises(DefinitionError, match="attrs class or a dataclass"):
        event_type("a/b")(NotAnEvent)
    with pytest.raises(DefinitionError, match="reserved"):
        event_type("inngest/x")
    with pytest.raises(DefinitionError, match="non-empty"):
        event_type("")


def test_payload_error_is_non_retriable_and_a_type_error() -> None:
    from inngest_dsl import NonRetriableError

    assert issubclass(PayloadError, NonRetriableError)
    assert issubclass(PayloadError, TypeError)


class Later(InngestFunction, id="later", event=SignedUp):
    sleep("1s")

    @step("read")
    def read(self, ctx: Context[SignedUp]) -> dict[str, str]:
        return {"email": ctx.event.data.email}


async def test_an_untyped_send_of_a_typed_name_is_structured_too() -> None:
    async with TestEnvironment([Later], now=START) as env:
        await env.send({"name": "auth/signup", "data": {"user_id": 1, "email": "m@n.o"}})
        await env.advance("1s")
        [run] = await env.runs(Later)
        assert run.output == {"email": "m@n.o"}


def test_listed_triggers_and_send_event_blocks_take_event_types() -> None:
    from inngest_dsl import EventTrigger
    from inngest_dsl.wire._registration import function_config

    class Listed(
        InngestFunction,
        triggers=[EventTrigger(SignedUp, expression="event.data.user_id > 1")],
    ):
        send_event("announce", events=Confirmed(user_id=1))

    [trigger] = spec_of(Listed).triggers
    assert trigger == EventTrigger("auth/signup", expression="event.data.user_id > 1")
    assert trigger.data_type is SignedUp
    [op] = spec_of(Listed).ops
    assert op.events == (Event("auth/confirmed", {"user_id": 1}),)  # type: ignore[union-attr]
    config = function_config(spec_of(Listed), "app", "http://x")
    assert config.triggers[0].event == "auth/signup"


def test_a_typed_event_reads_as_its_wire_form() -> None:
    from inngest_dsl.spec._event import typed_event

    plain = Event.from_wire({"name": "auth/signup", "data": {"user_id": 1, "email": "e"}})
    typed = typed_event(plain, SignedUp)
    assert typed.data == SignedUp(user_id=1, email="e")
    assert typed["data"] == {"user_id": 1, "email": "e", "plan": "free"}
    assert typed.to_wire() == dict(typed) == {**plain.to_wire(), "data": typed["data"]}
    assert typed_event(plain, None) is plain


class InvokesTyped(InngestFunction, id="invokes-typed", event="app/go"):
    @invoke("declared", function=Charge)
    def declared(self, ctx: Context) -> SignedUp:
        return SignedUp(user_id=11, email="d@e.f")

    @step("dynamic")
    async def dynamic(self, ctx: Context) -> dict[str, Any]:
        result = await ctx.step.invoke(
            "charge again", function=Charge, data=SignedUp(user_id=12, email="g@h.i")
        )
        return {"again": result["charged"], "first": ctx.data["charged"]}


async def test_decorated_and_dynamic_invokes_take_typed_data() -> None:
    async with TestEnvironment([InvokesTyped, Charge], now=START) as env:
        await env.send({"name": "app/go"})
        await env.advance("1m")
        [run] = await env.runs(InvokesTyped)
        assert run.status == "Completed", run.raw
        assert run.step("dynamic")["output"] == {"again": 12, "first": 11}


class ReadsTheWrongType(InngestFunction, id="wrong-type", event="app/other"):
    @step("email")
    def email(self, ctx: Context[SignedUp]) -> str:
        return ctx.event.data.email


class NamesTheTypeByString(InngestFunction, id="by-string", event="auth/signup"):
    @step("email")
    def email(self, ctx: Context[SignedUp]) -> str:
        return ctx.event.data.email

    @step("plain")
    def plain(self, ctx: Context) -> int:
        return 1


async def test_a_context_type_the_function_is_not_triggered_by_is_refused_when_served() -> None:
    with pytest.raises(DefinitionError) as caught:
        async with TestEnvironment([ReadsTheWrongType]):
            pass
    assert caught.value.problems == (
        "step 'email': ctx is Context[SignedUp], but the function's ctx.event.data is no "
        "SignedUp ('auth/signup'): its event triggers are 'app/other'; trigger on SignedUp or "
        "annotate ctx: Context",
    )

    with pytest.raises(DefinitionError, match="declare the trigger with the class, event=SignedUp"):
        await run_function(NamesTheTypeByString)

    with pytest.raises(DefinitionError, match="ctx is Context\\[SignedUp\\]"):
        serve(web.Application(), Inngest("app", is_dev=True), [ReadsTheWrongType])
