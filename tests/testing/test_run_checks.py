"""What the testing kit is given is checked before any block runs."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import attrs
import pytest

from inngest_dsl import (
    Context,
    InngestFunction,
    event_type,
    run,
    sleep_until,
    step,
    wait_for_event,
)
from inngest_dsl.testing import (
    RunFunctionError,
    TestEnvironment,
    TestEnvironmentError,
    ctx_step,
    run_function_sync,
)

calls: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def reset() -> None:
    calls.clear()


class Checkout(InngestFunction, id="checkout", event="shop/checkout"):
    @run("prepare")
    async def prepare(self, ctx: Context) -> None:  # async: it could add steps at run time
        calls["prepare"] += 1

    @step("charge card")
    def charge(self, ctx: Context) -> dict[str, bool]:
        calls["charge card"] += 1
        return {"charged": True}


class Batch(InngestFunction, id="batch", event="shop/batch"):
    @run("charge")
    async def charge(self, ctx: Context) -> dict[str, list[int]]:
        return {"paid": [await ctx.step.run(f"charge {n}", lambda n=n: n) for n in (1, 2)]}


def test_a_misspelt_mock_is_refused_before_the_real_step_runs() -> None:
    with pytest.raises(RunFunctionError) as info:
        run_function_sync(Checkout, steps={"charge-card": {"charged": False}})

    assert "did you mean 'charge card'?" in str(info.value)
    assert calls == {}  # neither the run block nor the real charge ran


def test_an_id_that_extends_a_block_id_may_be_a_ctx_step_step() -> None:
    result = run_function_sync(Batch, steps={"charge 1": 10})
    assert result.output == {"paid": [10, 2]}


def test_ctx_step_keys_a_step_added_at_run_time_that_looks_misspelt() -> None:
    class Pay(InngestFunction, id="pay", event="shop/pay"):
        @step("charge card")
        async def charge(self, ctx: Context) -> int:
            return int(await ctx.step.run("charge-card", lambda: 1))

    with pytest.raises(RunFunctionError, match="key it as ctx_step"):
        run_function_sync(Pay, steps={"charge-card": 5})
    assert run_function_sync(Pay, steps={ctx_step("charge-card"): 5}).output == {"charge card": 5}
    with pytest.raises(RunFunctionError, match="adds no steps at run time"):
        run_function_sync(_Sync, steps={ctx_step("x"): 1})


class _Sync(InngestFunction, id="sync", event="shop/sync"):
    @step("work")
    def work(self, ctx: Context) -> int:
        return 1


def test_a_misspelt_wait_is_refused_with_the_close_match() -> None:
    with pytest.raises(RunFunctionError, match="did you mean 'charge card'"):
        run_function_sync(Checkout, steps={"chrage card": {}})
    with pytest.raises(RunFunctionError, match="waits= scripts 'app/x'"):
        run_function_sync(_Sync, waits={"app/x": None})


async def test_the_test_environment_refuses_a_misspelt_mock() -> None:
    with pytest.raises(TestEnvironmentError, match="did you mean 'charge card'"):
        async with TestEnvironment([Checkout], steps={"charge-card": {}}):
            pass


def test_an_event_that_would_never_trigger_the_function_is_refused() -> None:
    with pytest.raises(RunFunctionError) as info:
        run_function_sync(Checkout, {"name": "shop/chekout", "data": {}})
    message = str(info.value)
    assert "'shop/chekout' would never start function 'checkout'" in message
    assert "did you mean 'shop/checkout'?" in message
    assert calls == {}
    # Wildcards and the events Inngest sends itself are fine.

    class Any_(InngestFunction, id="any", event="shop/*"):
        @step("s")
        def s(self, ctx: Context) -> str:
            return ctx.event.name

    assert run_function_sync(Any_, {"name": "shop/x"}).output == {"s": "shop/x"}
    assert run_function_sync(_Sync, {"name": "inngest/function.invoked"}).status == "completed"


class Anniversary(InngestFunction, id="anniversary", event="shop/signed-up"):
    sleep_until("new year's eve", at="Dec 31 23:00:00")

    @sleep_until("next january the second")
    def second(self, ctx: Context) -> str:
        return "Jan  2 15:04:05.000"

    @step("dynamic")
    async def dynamic(self, ctx: Context) -> None:
        await ctx.step.sleep_until("midsummer", "Jun 21 12:00:00")


def test_sleep_until_reads_a_yearless_stamp_as_the_next_such_instant() -> None:
    result = run_function_sync(Anniversary, now="2026-05-01T00:00:00Z")

    utc = dt.timezone.utc
    assert result.step("new year's eve").at == dt.datetime(2026, 12, 31, 23, tzinfo=utc)
    second = dt.datetime(2027, 1, 2, 15, 4, 5, tzinfo=utc)
    assert result.step("next january the second").at == second
    # Read when the run reaches it (2027-01-02, virtual time): the next midsummer.
    assert result.step("midsummer").at == dt.datetime(2027, 6, 21, 12, tzinfo=utc)


@event_type("shop/refund.requested")
@attrs.frozen
class RefundRequested:
    order: int
    amount: int = 0


class Refund(InngestFunction, event=RefundRequested):
    @step("charge back")
    def charge_back(self, ctx: Context[RefundRequested]) -> dict[str, int]:
        calls["charge back"] += 1
        return {"refunded": ctx.event.data.amount}

    @step("notify")
    def notify(self, ctx: Context[RefundRequested]) -> str:
        return f"order {ctx.event.data.order}: {ctx[Refund.charge_back]['refunded']}"


def test_the_event_may_be_an_instance_of_its_event_type() -> None:
    result = run_function_sync(Refund, RefundRequested(order=3, amount=40))

    assert result.output == {"refunded": 40, "notify": "order 3: 40"}


def test_a_typed_event_of_another_name_would_not_start_the_function() -> None:
    with pytest.raises(RunFunctionError, match="'shop/other' would never start"):
        run_function_sync(Refund, Other(order=1))


def test_a_block_is_mocked_by_its_method() -> None:
    result = run_function_sync(
        Refund, RefundRequested(order=3), steps={Refund.charge_back: {"refunded": 9}}
    )

    assert calls["charge back"] == 0
    assert result.step("charge back").mocked
    assert result.output["notify"] == "order 3: 9"


def test_a_method_of_another_function_is_no_mock_key() -> None:
    with pytest.raises(RunFunctionError, match=r"Checkout\.charge is not a block of 'refund'"):
        run_function_sync(Refund, RefundRequested(order=3), steps={Checkout.charge: {}})


async def test_the_environment_mocks_a_block_by_its_method() -> None:
    async with TestEnvironment([Refund], steps={Refund.charge_back: {"refunded": 5}}) as env:
        await env.send(RefundRequested(order=8))
        [refund] = await env.runs(Refund, status="Completed")

    assert calls["charge back"] == 0
    assert refund.output["notify"] == "order 8: 5"


@event_type("shop/other")
@attrs.frozen
class Other:
    order: int


class AwaitsConfirmation(InngestFunction, event=RefundRequested):
    approved = wait_for_event(Other, timeout="1d", match="data.order")

    @step("refund")
    def refund(self, ctx: Context[RefundRequested]) -> bool:
        return ctx[self.approved] is not None


def test_a_scripted_wait_takes_a_typed_event_and_the_result_finds_blocks_by_handle() -> None:
    result = run_function_sync(
        AwaitsConfirmation,
        RefundRequested(order=4),
        waits={AwaitsConfirmation.approved: Other(order=4)},
    )

    assert result.step(AwaitsConfirmation.refund).data is True
    assert result.step(AwaitsConfirmation.approved).data.data == {"order": 4}
    with pytest.raises(KeyError, match=r"Refund\.notify is not a block of"):
        result.step(Refund.notify)
