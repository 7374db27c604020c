"""`ctx.data`: read-only to bodies, null for a step that returned None, invokes kept by id."""

from __future__ import annotations

from typing import Any

from inngest_dsl import Context, InngestFunction, invoke, sleep, step
from inngest_dsl.testing import run_function_sync


class Writer(InngestFunction, id="writer", event="app/go", retries=3):
    @step("write")
    def write(self, ctx: Context) -> None:
        ctx.data["x"] = 1

    sleep("1m")


def test_writing_ctx_data_fails_at_once_naming_the_fix() -> None:
    result = run_function_sync(Writer)

    result.assert_failed("ctx.data is read-only")
    assert "Return it from a step instead (`return {'x': value}`)" in result.error.message
    assert result.step("write").attempts == 1  # not retried: retrying cannot help


class Reader(InngestFunction, id="reader", event="app/go"):
    @step("first")
    def first(self, ctx: Context) -> dict[str, int]:
        return {"a": 1}

    @step("nothing")
    def nothing(self, ctx: Context) -> None:
        return None

    @step("read")
    def read(self, ctx: Context) -> dict[str, Any]:
        copy = ctx.data.copy()  # a plain, writable copy
        copy["b"] = 2
        return {"seen": copy, "has nothing": "nothing" in ctx.data, "get": ctx.data.get("a")}


def test_a_step_returning_none_is_null_and_ctx_data_reads_as_a_dict() -> None:
    result = run_function_sync(Reader)

    assert result.output == {
        "a": 1,
        "nothing": None,
        "seen": {"a": 1, "nothing": None, "b": 2},
        "has nothing": True,
        "get": 1,
    }


class Quote(InngestFunction, id="quote", event="shop/quote"):
    @step("price")
    def price(self, ctx: Context) -> dict[str, int]:
        return {"cents": 100 * ctx.event.data["parcels"]}


class Ship(InngestFunction, id="ship", event="shop/ship"):
    invoke("quote one", function=Quote, data={"parcels": 1})
    invoke("quote three", function=Quote, data={"parcels": 3})

    @step("cheapest")
    def cheapest(self, ctx: Context) -> int:
        return min(ctx.data["quote one"]["cents"], ctx.data["quote three"]["cents"])


def test_invokes_of_one_function_keep_separate_results_by_id() -> None:
    result = run_function_sync(Ship)

    assert result.output["quote one"] == {"cents": 100}
    assert result.output["quote three"] == {"cents": 300}
    assert result.output["cents"] == 300  # merged too, later keys win
    assert result.output["cheapest"] == 100


def test_copies_of_ctx_data_are_plain_writable_dicts() -> None:
    import copy
    import pickle

    from inngest_dsl.engine._fold import RunData, merge

    data = RunData()
    merge(data, {"a": {"b": 1}})
    for made in (copy.copy(data), copy.deepcopy(data), pickle.loads(pickle.dumps(data))):
        assert type(made) is dict
        assert made == {"a": {"b": 1}}
        made["c"] = 2
    assert dict(data) == {"a": {"b": 1}}
