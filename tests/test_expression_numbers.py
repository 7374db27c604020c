"""JSON numbers are doubles in expressions, as Inngest reads them, in every evaluator."""

from __future__ import annotations

from typing import Any

import pytest

from inngest_dsl import Context, InngestFunction, step, wait_for_event
from inngest_dsl.devserver.core.matching import evaluate, evaluate_key
from inngest_dsl.spec._expressions import expression_is_true
from inngest_dsl.testing import TestEnvironment, run_function_sync


@pytest.mark.parametrize(
    ("expression", "data"),
    [
        ("event.data.price > 9.99", {"price": 10}),
        ("event.data.n == 1.0", {"n": 1}),
        ("event.data.n == 1", {"n": 1}),
        ("event.data.n == 1", {"n": 1.0}),
        ("event.data.n != 2", {"n": 1}),
        ("event.data.n >= 1 && event.data.n <= 1.0", {"n": 1}),
        ("event.data.items[0] == 3", {"items": [3]}),
        ("size(event.data.items) == event.data.count", {"items": [1, 2], "count": 2}),
        ("event.data.nested.total < 100.5", {"nested": {"total": 100}}),
        ("event.data.flag == true && event.data.name == 'x'", {"flag": True, "name": "x"}),
        ("event.data.items.exists(x, x > 1)", {"items": [1, 2]}),
        ("2 in event.data.items", {"items": [1, 2]}),
        ("event.data.items == [1, 2.0]", {"items": [1, 2]}),
        ("event.data.items != [1, 3]", {"items": [1, 2]}),
        ('event.data.m == {"a": 1}', {"m": {"a": 1}}),
        ("event.data.s in ['a', 'b']", {"s": "a"}),
    ],
)
def test_numbers_compare_as_inngest_compares_them(expression: str, data: dict[str, Any]) -> None:
    assert expression_is_true(expression, {"event": {"data": data}})
    assert evaluate(expression, {"event": {"data": data}})  # the dev server's matcher


@pytest.mark.parametrize(
    ("expression", "data"),
    [
        ("event.data.price > 10.5", {"price": 10}),
        ("event.data.n == 2.0", {"n": 1}),
        ("3 in event.data.items", {"items": [1, 2]}),
        ("event.data.s == 1", {"s": "a"}),  # no such overload: no match
    ],
)
def test_what_differs_still_differs(expression: str, data: dict[str, Any]) -> None:
    assert not evaluate(expression, {"event": {"data": data}})


def test_keys_of_whole_numbers_stay_whole() -> None:
    assert evaluate_key("event.data.user", {"data": {"user": 42}}) == "42"


class Offer(InngestFunction, id="offer", event="shop/offer"):
    accepted = wait_for_event(
        "shop/accepted", timeout="1h", if_="async.data.price > 9.99 && async.data.qty == 1.0"
    )

    @step("decide")
    def decide(self, ctx: Context) -> bool:
        return ctx[self.accepted] is not None


def test_the_testing_kit_matches_a_scripted_event_with_whole_numbers() -> None:
    result = run_function_sync(
        Offer, waits={Offer.accepted: {"data": {"price": 10, "qty": 1}}}
    )
    assert result.output == {"shop/accepted": result.step("shop/accepted").data, "decide": True}


class Pricey(InngestFunction, id="pricey", event="shop/sale", expression="event.data.total > 9.99"):
    @step("flag")
    def flag(self, ctx: Context) -> int:
        return int(ctx.event.data["total"])


async def test_a_trigger_expression_matches_a_whole_number() -> None:
    async with TestEnvironment([Pricey], now="2026-01-01T00:00:00Z") as env:
        await env.send([{"name": "shop/sale", "data": {"total": t}} for t in (10, 9, 9.5)])
        runs = await env.runs(Pricey, status="Completed")
    assert [run.output["flag"] for run in runs] == [10]
