"""Run records say what happened: failed invokes, steps that fail the run, cancelled waits.

On a `TestEnvironment`: the dev server's engine on virtual time.
"""

from __future__ import annotations

from inngest_dsl import (
    Context,
    InngestFunction,
    NonRetriableError,
    invoke,
    sleep,
    step,
    wait_for_event,
)
from inngest_dsl.testing import TestEnvironment

START = "2026-01-01T00:00:00Z"


class Refuse(InngestFunction, id="refuse", event="rec/refuse"):
    @step("check stock")
    def check(self, ctx: Context) -> None:
        raise NonRetriableError("out of stock")


class Order(InngestFunction, id="order", event="rec/order"):
    @invoke("reserve", function=Refuse, timeout="1h")
    def reserve(self, ctx: Context) -> dict[str, int]:
        return {"qty": 1}


class Slow(InngestFunction, id="slow", event="rec/slow"):
    sleep("1h")


class Patient(InngestFunction, id="patient", event="rec/patient"):
    @invoke("slow", function=Slow, timeout="10m")
    def slow(self, ctx: Context) -> dict[str, int]:
        return {}


class Parked(InngestFunction, id="parked", event="rec/parked"):
    sleep("1h")
    confirmed = wait_for_event("rec/confirmed", timeout="1d")


class Waiting(InngestFunction, id="waiting", event="rec/waiting"):
    confirmed = wait_for_event("rec/confirmed", timeout="1d")


async def test_a_step_that_raises_non_retriable_error_is_recorded_failed() -> None:
    async with TestEnvironment([Refuse], now=START) as env:
        await env.send({"name": "rec/refuse"})
        [run] = await env.runs(Refuse)
    assert run.status == "Failed"
    record = run.step("check stock")
    assert record["status"] == "Failed"
    assert record["error"]["name"] == "NonRetriableError"
    assert record["error"]["message"] == "out of stock"
    assert record["ended_at"] == "2026-01-01T00:00:00.000Z"


async def test_a_failed_invoke_is_a_failed_step_with_the_callee_error() -> None:
    async with TestEnvironment([Order, Refuse], now=START) as env:
        await env.send({"name": "rec/order"})
        [run] = await env.runs(Order)
    assert run.status == "Failed"
    record = run.step("reserve")
    assert record["kind"] == "InvokeFunction"
    assert record["status"] == "Failed"
    assert record["error"]["message"] == "out of stock"


async def test_a_timed_out_invoke_is_a_failed_step() -> None:
    async with TestEnvironment([Patient, Slow], now=START) as env:
        await env.send({"name": "rec/patient"})
        await env.advance("11m")
        [run] = await env.runs(Patient)
    record = run.step("slow")
    assert record["status"] == "Failed"
    assert record["error"]["name"] == "InngestInvokeTimeoutError"
    assert record["ended_at"] == "2026-01-01T00:10:00.000Z"


async def test_a_cancelled_runs_pending_sleep_and_wait_end_at_the_cancel_time() -> None:
    async with TestEnvironment([Parked, Waiting], now=START) as env:
        await env.send([{"name": "rec/parked"}, {"name": "rec/waiting"}])
        await env.advance("30m")
        [sleeping] = await env.runs(Parked)
        [waiting] = await env.runs(Waiting)
        assert sleeping.step("sleep 1h")["status"] == "Sleeping"
        assert waiting.step("rec/confirmed")["status"] == "Waiting"
        sleeping = await env.cancel(sleeping.run_id)
        waiting = await env.cancel(waiting.run_id)
        await env.advance("2d")
        sleeping = await env.run(sleeping.run_id)
        waiting = await env.run(waiting.run_id)
    for run, name in ((sleeping, "sleep 1h"), (waiting, "rec/confirmed")):
        assert run.status == "Cancelled"
        record = run.step(name)
        assert record["status"] == "Cancelled"
        assert record["ended_at"] == run.raw["ended_at"] == "2026-01-01T00:30:00.000Z"
