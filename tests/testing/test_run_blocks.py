"""run_function on parallel groups, invoke, send_event and steps added at run time."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from typing import Any

import pytest

from inngest_dsl import (
    Context,
    Event,
    InngestFunction,
    SendEventError,
    invoke,
    parallel,
    run,
    send_event,
    sleep,
    step,
)
from inngest_dsl.client import SendableEvents
from inngest_dsl.engine._outcomes import hash_step_id
from inngest_dsl.testing import CapturingClient, RunFunctionError, run_function, run_function_sync

calls: Counter[str] = Counter()
START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


@pytest.fixture(autouse=True)
def reset() -> None:
    calls.clear()


# -- parallel -------------------------------------------------------------------------------


class Prepare(InngestFunction, id="prepare", event="shop/prepare"):
    with parallel("reserve and price"):

        @step("reserve")
        def reserve(self, ctx: Context) -> dict[str, int]:
            calls["reserve"] += 1
            return {"reserved": 1, "who": 1}

        @step("price")
        async def price(self, ctx: Context) -> dict[str, int]:
            calls["price"] += 1
            return {"price": 30, "who": 2}

        sleep("2h")

    @step("total")
    def total(self, ctx: Context) -> dict[str, int]:
        calls["total"] += 1
        return {"total": ctx.data["price"] + ctx.data["reserved"]}


def test_a_parallel_group_fans_out_through_targeted_calls() -> None:
    result = run_function_sync(Prepare, now=START)

    assert result.status == "completed"
    assert result.output == {"reserved": 1, "price": 30, "who": 2, "total": 31}
    assert calls == {"reserve": 1, "price": 1, "total": 1}
    # Discovery reports the group; one targeted call per step; discovery runs "total";
    # discovery finishes.
    assert result.calls == 5
    assert [op.id for op in result.trace] == ["reserve", "price", "sleep 2h", "total"]
    assert result.step("sleep 2h").at == START + dt.timedelta(hours=2)
    assert result.elapsed == dt.timedelta(hours=2)


# -- invoke ---------------------------------------------------------------------------------


class Charge(InngestFunction, id="charge", event="shop/charge", retries=0):
    @step("charge card")
    def charge(self, ctx: Context) -> dict[str, Any]:
        calls["charge card"] += 1
        if ctx.event.data["amount"] > 100:
            raise ValueError("declined")
        return {"charged": ctx.event.data["amount"]}


class Order(InngestFunction, id="order", event="shop/order"):
    @invoke("charge", function=Charge, timeout="1h")
    def charge(self, ctx: Context) -> dict[str, Any]:
        return {"amount": ctx.event.data["amount"]}

    invoke("refund", function="billing-refund", data={"why": "test"})


class Refund(InngestFunction, id="refund", event="billing/refund"):
    @step("refund")
    def refund(self, ctx: Context) -> dict[str, Any]:
        return {"refunded": ctx.event.data["why"]}


def test_an_invoke_runs_its_callee_in_process_or_takes_a_mock() -> None:
    result = run_function_sync(
        Order, {"name": "shop/order", "data": {"amount": 5}}, steps={"refund": {"refunded": "m"}}
    )

    assert result.status == "completed"
    assert result.output == {
        "charged": 5,
        "charge": {"charged": 5},
        "refunded": "m",
        "refund": {"refunded": "m"},
    }
    assert calls == {"charge card": 1}
    assert result.step("charge").kind == "invoke"
    assert result.step("charge").data == {"charged": 5}
    assert result.step("refund").mocked


def test_a_failing_callee_or_a_mocked_exception_fails_the_caller() -> None:
    declined = run_function_sync(
        Order, {"name": "shop/order", "data": {"amount": 500}}, steps={"refund": {}}
    )
    declined.assert_failed("declined")
    assert declined.step("charge").error is not None

    refused = run_function_sync(
        Order,
        {"name": "shop/order", "data": {"amount": 5}},
        steps={"refund": PermissionError("no refunds")},
    )
    refused.assert_failed("PermissionError: no refunds")


def test_an_invoke_the_kit_cannot_run_asks_for_a_mock() -> None:
    with pytest.raises(RunFunctionError) as info:
        run_function_sync(Order, {"name": "shop/order", "data": {"amount": 5}})
    message = str(info.value)
    assert "invoke 'refund' of 'billing-refund'" in message
    assert "steps={'refund': ...}" in message
    result = run_function_sync(
        Order, {"name": "shop/order", "data": {"amount": 5}}, functions=[Refund]
    )
    assert result.output["refunded"] == "test"


# -- send_event -----------------------------------------------------------------------------


class Notify(InngestFunction, id="notify", event="shop/notify"):
    send_event("hello", events={"name": "shop/hello"})

    @send_event("fan out")
    def fan_out(self, ctx: Context) -> list[Event]:
        return [Event("shop/item", {"n": n}) for n in ctx.event.data["items"]]


async def test_sent_events_are_captured_with_stable_ids_and_on_the_result() -> None:
    result = await run_function(Notify, {"name": "shop/notify", "data": {"items": [1, 2]}})

    assert result.status == "completed"
    assert [e.name for e in result.sent_events] == ["shop/hello", "shop/item", "shop/item"]
    assert all(e.id for e in result.sent_events)
    assert len({e.id for e in result.sent_events}) == 3
    assert result.step("fan out").kind == "send_event"
    assert result.step("fan out").data == result.output["fan out"]
    assert "sent [" in result.format_trace()


class FailsOnce(CapturingClient):
    """Records the events, then fails the first send as a network error would."""

    failed = False

    async def send(self, events: SendableEvents) -> list[str]:
        ids = await super().send(events)
        if not self.failed:
            self.failed = True
            raise SendEventError("connection reset")
        return ids


async def test_a_retried_send_repeats_the_same_event_ids() -> None:
    client = FailsOnce("shop")
    result = await run_function(
        Notify, {"name": "shop/notify", "data": {"items": []}}, client=client
    )

    assert result.status == "completed"
    first, again = result.sent_events
    assert first.id == again.id  # the server's per-id dedup drops the repeat
    hello = result.step("hello")
    assert hello.attempts == 2
    assert [str(e) for e in hello.errors] == ["SendEventError: connection reset"]


def test_a_client_must_be_a_capturing_client() -> None:
    from inngest_dsl import Inngest

    with pytest.raises(RunFunctionError, match="client= must be a CapturingClient"):
        run_function_sync(Notify, client=Inngest("x", is_dev=True))  # type: ignore[arg-type]


# -- steps added at run time ----------------------------------------------------------------


def handle(item: str) -> str:
    calls[item] += 1
    return item.upper()


class Items(InngestFunction, id="items", event="shop/items"):
    @run("process")
    async def process(self, ctx: Context) -> dict[str, Any]:
        done = [await ctx.step.run(f"process {i}", handle, i) for i in ctx.event.data["items"]]
        left, right = await ctx.step.parallel(("left", handle, "l"), ("right", handle, "r"))
        reply = await ctx.step.wait_for_event("reply", event="shop/reply", timeout="1d")
        charged = await ctx.step.invoke("charge", function=Charge, data={"amount": len(done)})
        await ctx.step.sleep("rest", "30m")
        ids = await ctx.step.send_event("report", {"name": "shop/report"})
        return {
            "done": done,
            "pair": [left, right],
            "reply": reply is not None,
            "charged": charged,
            "ids": ids,
        }


ITEMS = {"name": "shop/items", "data": {"items": ["a", "b", "a"]}}


async def test_a_runtime_sized_loop_runs_end_to_end_with_every_step_traced() -> None:
    client = CapturingClient()
    result = await run_function(Items, ITEMS, waits={"reply": None}, now=START, client=client)

    assert result.status == "completed"
    assert result.output == {
        "done": ["A", "B", "A"],
        "pair": ["L", "R"],
        "reply": False,
        "charged": {"charged": 3},
        "ids": client.sent_ids,
    }
    assert calls == {"a": 2, "b": 1, "l": 1, "r": 1, "charge card": 1}
    dynamic = [(op.kind, op.id) for op in result.trace if op.dynamic]
    assert dynamic == [
        ("step", "process a"),
        ("step", "process b"),
        ("step", "process a"),
        ("step", "left"),
        ("step", "right"),
        ("wait_for_event", "reply"),
        ("invoke", "charge"),
        ("sleep", "rest"),
        ("send_event", "report"),
    ]
    assert result.step("process b").data == "B"
    assert result.step("rest").data == dt.timedelta(minutes=30)
    assert result.elapsed == dt.timedelta(days=1, minutes=30)  # the wait timed out
    assert [e.name for e in result.sent_events] == ["shop/report"]
    assert "[ctx.step]" in result.format_trace()


async def test_steps_added_at_run_time_are_mocked_and_scripted_by_id() -> None:
    result = await run_function(
        Items,
        ITEMS,
        steps={"process a": "mocked", "charge": {"charged": "mocked"}, "left": "L!"},
        waits={"reply": {"data": {}}},
    )

    assert result.status == "completed"
    assert result.output["done"] == ["mocked", "B", "mocked"]
    assert result.output["pair"] == ["L!", "R"]
    assert result.output["charged"] == {"charged": "mocked"}
    assert result.output["reply"] is True
    assert calls == {"b": 1, "r": 1}  # mocked functions and the mocked callee never ran
    assert result.step("process a").mocked


async def test_a_mocked_exception_fails_a_dynamic_step() -> None:
    result = await run_function(
        Items,
        ITEMS,
        steps={"process b": RuntimeError("down")},
        waits={"reply": None},
        max_attempts=2,
    )
    result.assert_failed("RuntimeError: down")
    failed = result.step("process b")
    assert (failed.attempts, failed.dynamic, str(failed.error)) == (2, True, "RuntimeError: down")


async def test_an_unscripted_dynamic_wait_is_a_clear_error() -> None:
    with pytest.raises(RunFunctionError, match=r"reached ctx\.step\.wait_for_event 'reply'"):
        await run_function(Items, ITEMS)


async def test_a_mock_no_step_used_is_reported_with_the_trace() -> None:
    with pytest.raises(RunFunctionError) as info:
        await run_function(Items, ITEMS, steps={"process z": 1}, waits={"reply": None})
    message = str(info.value)
    assert "steps= mocks 'process z'" in message
    assert re.search(r"step +'process a'", message)  # the trace shows what did run


def test_the_trace_keeps_declared_and_dynamic_steps_apart() -> None:
    result = run_function_sync(Items, ITEMS, waits={"reply": None})
    assert not result.step("process").dynamic
    assert result.step("process").kind == "run"
    assert result.ops("send_event")[0].id == "report"
    assert hash_step_id("process") not in {op.id for op in result.trace}
