"""Typed step results: stored as JSON, read back through the step's method as its return type."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

import attrs
import pytest

from inngest_dsl import Context, InngestFunction, PayloadError, run, sleep, step
from inngest_dsl.spec._payloads import PLAIN, result_type
from inngest_dsl.testing import TestEnvironment, run_function

if TYPE_CHECKING:
    from decimal import Decimal  # only for type checkers: unresolvable at run time

    from inngest_dsl import Event

START = "2026-01-01T00:00:00Z"


@attrs.frozen
class Receipt:
    amount: int
    at: dt.datetime


@dataclasses.dataclass
class Line:
    sku: str
    count: int


class Checkout(InngestFunction, id="checkout", event="shop/checkout", retries=2):
    @step("charge")
    async def charge(self, ctx: Context) -> Receipt:
        return Receipt(amount=42, at=dt.datetime(2026, 1, 1, 9, tzinfo=dt.timezone.utc))

    @step("lines")
    def lines(self, ctx: Context) -> list[Line]:
        return [Line("a", 1), Line("b", 2)]

    sleep("1m")

    @step("later")
    def later(self, ctx: Context) -> Shipment:  # defined below this class
        return Shipment(carrier="post")

    @step("plain")
    def plain(self, ctx: Context) -> dict[str, int]:
        return {"n": 1}

    @step("report")
    async def report(self, ctx: Context) -> dict[str, Any]:
        receipt = ctx[self.charge]
        lines = ctx[self.lines]
        return {
            "receipt": type(receipt).__name__,
            "amount": receipt.amount,
            "at": receipt.at.isoformat(),
            "lines": [type(line).__name__ for line in lines],
            "counts": sum(line.count for line in lines),
            "later": type(ctx[self.later]).__name__,
            "plain": ctx[self.plain],
            "same": ctx[self.charge] is receipt,  # read once per call
        }


@attrs.frozen
class Shipment:
    carrier: str


async def test_a_typed_result_is_stored_as_json_and_read_back_as_its_type() -> None:
    async with TestEnvironment([Checkout], now=START) as env:
        await env.send({"name": "shop/checkout"})
        await env.advance("1m")
        [run] = await env.runs(Checkout)
        assert run.status == "Completed", run.raw
        # Stored (and folded into ctx.data) as JSON.
        assert run.step("charge")["output"] == {"amount": 42, "at": "2026-01-01T09:00:00+00:00"}
        assert run.step("lines")["output"] == [
            {"sku": "a", "count": 1},
            {"sku": "b", "count": 2},
        ]
        report = run.step("report")["output"]
        assert report == {
            "receipt": "Receipt",
            "amount": 42,
            "at": "2026-01-01T09:00:00+00:00",
            "lines": ["Line", "Line"],
            "counts": 3,
            "later": "Shipment",
            "plain": {"n": 1},
            "same": True,
        }


def test_result_types_come_from_the_return_annotation() -> None:
    assert result_type(Checkout.charge) is Receipt  # unwrapped from the coroutine
    assert result_type(Checkout.lines) == list[Line]
    assert result_type(Checkout.later) is Shipment  # a forward reference, resolved later
    assert result_type(Checkout.plain) is PLAIN  # plain JSON: nothing to structure

    def unresolvable(self: object, ctx: Context) -> Decimal:
        raise NotImplementedError

    def unannotated(self, ctx):  # type: ignore[no-untyped-def]
        return 1

    def other_parameter_unresolvable(self: object, ctx: Event) -> Receipt:
        raise NotImplementedError

    assert result_type(unresolvable) is PLAIN
    assert result_type(unannotated) is PLAIN
    assert result_type(other_parameter_unresolvable) is Receipt


class Mismatch(InngestFunction, id="mismatch", event="shop/mismatch", retries=3):
    @step("charge")
    def charge(self, ctx: Context) -> Receipt:
        return Receipt(amount=1, at=dt.datetime(2026, 1, 1))

    @step("read")
    def read(self, ctx: Context) -> int:
        return ctx[self.charge].amount


async def test_a_stored_result_that_does_not_fit_fails_the_run_naming_the_field() -> None:
    # The memo holds what an older version of the step returned.
    result = await run_function(Mismatch, steps={"charge": {"amount": "lots", "at": "x"}})
    assert result.status == "failed"
    assert result.error is not None
    assert "the result of step 'charge' does not fit Receipt" in result.error.message
    assert "$.amount" in result.error.message
    assert result.step("read").attempts == 1  # non-retriable


class Misuse(InngestFunction, id="misuse", event="shop/misuse", retries=0):
    @run("log")
    def log(self, ctx: Context) -> None:
        return None

    @step("early")
    def early(self, ctx: Context) -> int:
        return ctx[self.late]

    @step("late")
    def late(self, ctx: Context) -> int:
        return 1


class ReadsARunBlock(InngestFunction, id="reads-run", event="shop/misuse", retries=0):
    @run("log")
    def log(self, ctx: Context) -> int:
        return 1

    @step("read")
    def read(self, ctx: Context) -> int:
        return ctx[self.log]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("function", "message"),
    [
        (Misuse, "ctx[Misuse.late]: step 'late' has not finished"),
        (ReadsARunBlock, "ctx[ReadsARunBlock.log]: not a step of this function"),
    ],
)
async def test_reading_a_step_that_cannot_be_read_is_a_clear_error(
    function: type, message: str
) -> None:
    result = await run_function(function)
    assert result.status == "failed"
    assert result.error is not None
    assert message in result.error.message


async def test_a_typed_result_of_ctx_step_run_is_read_back_as_its_type() -> None:
    class Dynamic(InngestFunction, id="dynamic", event="shop/dyn"):
        @step("outer")
        async def outer(self, ctx: Context) -> dict[str, Any]:
            def make() -> Receipt:
                return Receipt(amount=3, at=dt.datetime(2026, 2, 1))

            receipt = await ctx.step.run("make", make)
            return {"receipt": receipt, "kind": type(receipt).__name__}

    result = await run_function(Dynamic)
    assert result.status == "completed", result.format_trace()
    assert result.output == {
        "receipt": {"amount": 3, "at": "2026-02-01T00:00:00"},
        "kind": "Receipt",  # the memo, read back as make's return type
    }


def test_payload_error_names_the_payload() -> None:
    from inngest_dsl.spec._payloads import structure

    with pytest.raises(PayloadError, match=r"the thing does not fit Receipt: .*\$\.at"):
        structure({"amount": 1, "at": 5}, Receipt, "the thing")


class TuplesAndUuids(InngestFunction, event="app/pair"):
    @step("pair")
    def pair(self, ctx: Context) -> tuple[int, str]:
        return (7, "seven")

    @step("ident")
    async def ident(self, ctx: Context) -> uuid.UUID:
        return uuid.UUID(int=42)

    @step("read")
    def read(self, ctx: Context) -> dict[str, Any]:
        pair, ident = ctx[TuplesAndUuids.pair], ctx[self.ident]
        return {"pair": type(pair).__name__, "ident": type(ident).__name__, "same": ident.int}


async def test_tuples_and_uuids_come_back_as_their_annotated_types() -> None:
    result = await run_function(TuplesAndUuids, now=START)

    assert result.status == "completed", result.format_trace()
    # Stored as JSON (a list, a string), read back as a tuple and a UUID.
    assert result.output["pair"] == "tuple"
    assert result.output["ident"] == "UUID"
    assert result.output["same"] == 42
    assert result.step("ident").data == "00000000-0000-0000-0000-00000000002a"
