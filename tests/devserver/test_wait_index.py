"""Waits and cancellations are found by the value they wait for, not by evaluating them all.

Each test counts the CEL evaluations an event costs (the index must spare them) and checks
the runs it resumed or cancelled (the index must never change the answer).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from inngest_dsl import Cancel, Context, InngestFunction, sleep, step, wait_for_event
from inngest_dsl.devserver.core import matching
from inngest_dsl.devserver.core.pause_index import pause_key
from inngest_dsl.devserver.store import Store
from inngest_dsl.spec._expressions import compile_expression
from inngest_dsl.testing import TestEnvironment, _environment

START = "2026-01-01T00:00:00Z"


class Confirm(InngestFunction, id="confirm", event="shop/order"):
    confirmed = wait_for_event("shop/confirmed", timeout="1d", match="data.order")

    @step("decide")
    async def decide(self, ctx: Context) -> dict[str, Any]:
        event = ctx[self.confirmed]
        return {"order": ctx.event.data["order"], "by": None if event is None else event.data}


class Approve(InngestFunction, id="approve", event="shop/quote"):
    # Not indexable: no equality on the incoming event.
    approved = wait_for_event("shop/approved", timeout="1d", if_="async.data.amount >= 100")
    # Indexable part and a remainder that needs evaluating.
    signed = wait_for_event(
        "shop/signed", timeout="1d", if_="async.data.quote == event.data.quote && async.data.ok"
    )

    @step("done")
    async def done(self, ctx: Context) -> dict[str, bool]:
        return {"approved": ctx[self.approved] is not None, "signed": ctx[self.signed] is not None}


class Cart(
    InngestFunction,
    id="cart",
    event="shop/cart.created",
    cancel_on=Cancel(event="shop/cart.emptied", match="data.cart"),
):
    sleep("1h")

    @step("remind")
    async def remind(self, ctx: Context) -> dict[str, int]:
        return {"cart": ctx.event.data["cart"]}


@pytest.fixture
def evaluations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The expressions evaluated to match pauses, in order."""
    seen: list[str] = []
    real = matching.evaluate

    def counting(expression: str, variables: Mapping[str, Any]) -> bool:
        seen.append(expression)
        return real(expression, variables)

    monkeypatch.setattr(matching, "evaluate", counting)
    return seen


def _index_of(store: Store, kind: str) -> list[tuple[str | None, str | None]]:
    return store._all(
        "SELECT match_path, match_value FROM pauses WHERE kind = ? ORDER BY id", (kind,)
    )


async def test_a_match_wait_is_found_by_value_without_evaluating_anything(
    evaluations: list[str],
) -> None:
    async with TestEnvironment([Confirm], now=START) as env:
        await env.send([{"name": "shop/order", "data": {"order": n}} for n in (1, 2, 3)])
        assert _index_of(env.store, "wait") == [
            ("data.order", "1.0"),
            ("data.order", "2.0"),
            ("data.order", "3.0"),
        ]
        await env.send({"name": "shop/confirmed", "data": {"order": 2, "by": "ada"}})
        await env.send({"name": "shop/confirmed", "data": {"order": 9}})
        await env.send({"name": "shop/confirmed", "data": {"other": 1}})
        runs = {run.output and run.output["order"]: run for run in await env.runs(Confirm)}
        assert evaluations == []
        assert runs[2].output["by"] == {"order": 2, "by": "ada"}
        assert [run.status for run in await env.runs(Confirm)].count("Running") == 2
        assert len(_index_of(env.store, "wait")) == 2


async def test_the_number_1_matches_1_0_and_not_the_string_1(evaluations: list[str]) -> None:
    async with TestEnvironment([Confirm], now=START) as env:
        await env.send({"name": "shop/order", "data": {"order": 1}})
        await env.send({"name": "shop/confirmed", "data": {"order": "1"}})
        [run] = await env.runs(Confirm)
        assert run.status == "Running"
        await env.send({"name": "shop/confirmed", "data": {"order": 1.0}})
        [run] = await env.runs(Confirm)
        assert (run.output["order"], run.output["by"]) == (1, {"order": 1.0})
        assert evaluations == []


async def test_one_event_resumes_every_wait_on_its_value() -> None:
    async with TestEnvironment([Confirm], now=START) as env:
        await env.send([{"name": "shop/order", "data": {"order": n}} for n in (7, 7, 7, 8, 7)])
        await env.send({"name": "shop/confirmed", "data": {"order": 7}})
        statuses = sorted((run.output or {}).get("order", 0) for run in await env.runs(Confirm))
        assert statuses == [0, 7, 7, 7, 7]
        [waiting] = await env.runs(Confirm, status="Running")
        assert waiting.events[0]["data"] == {"order": 8}


async def test_expressions_the_index_cannot_read_are_still_evaluated(
    evaluations: list[str],
) -> None:
    async with TestEnvironment([Approve], now=START) as env:
        await env.send([{"name": "shop/quote", "data": {"quote": q}} for q in ("a", "b", "c")])
        assert _index_of(env.store, "wait") == [(None, None)] * 3
        await env.send({"name": "shop/approved", "data": {"amount": 50}})
        # Three waits share one expression that does not read the trigger: evaluated once.
        assert evaluations == ["async.data.amount >= 100"]
        await env.send({"name": "shop/approved", "data": {"amount": 150}})
        assert evaluations == ["async.data.amount >= 100"] * 2
        # Now each waits on `shop/signed`, indexed by quote; the rest of the `&&` is evaluated
        # for the hit only.
        assert [key for key in _index_of(env.store, "wait")] == [
            ("data.quote", '"a"'),
            ("data.quote", '"b"'),
            ("data.quote", '"c"'),
        ]
        evaluations.clear()
        await env.send({"name": "shop/signed", "data": {"quote": "b", "ok": False}})
        await env.send({"name": "shop/signed", "data": {"quote": "b", "ok": True}})
        assert len(evaluations) == 2
        done = [run for run in await env.runs(Approve) if run.status == "Completed"]
        assert [run.events[0]["data"]["quote"] for run in done] == ["b"]
        assert (done[0].output["approved"], done[0].output["signed"]) == (True, True)


async def test_cancel_on_is_found_by_value(evaluations: list[str]) -> None:
    async with TestEnvironment([Cart], now=START) as env:
        await env.send([{"name": "shop/cart.created", "data": {"cart": c}} for c in (1, 2)])
        assert _index_of(env.store, "cancel") == [("data.cart", "1.0"), ("data.cart", "2.0")]
        await env.send({"name": "shop/cart.emptied", "data": {"cart": 2.0}})
        await env.advance("2h")
        statuses = {run.events[0]["data"]["cart"]: run.status for run in await env.runs(Cart)}
        assert statuses == {1: "Completed", 2: "Cancelled"}
        assert evaluations == []


_OLD_PAUSES = """
CREATE TABLE pauses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    step_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    event_name TEXT,
    expression TEXT,
    correlation_id TEXT,
    expires REAL NOT NULL,
    trigger TEXT NOT NULL
);
CREATE INDEX pauses_event ON pauses(event_name);
"""


async def test_a_database_from_before_the_index_opens_and_its_pauses_still_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.executescript(_OLD_PAUSES)
    old.close()
    monkeypatch.setattr(_environment, "Store", lambda _: Store(str(path)))
    async with TestEnvironment([Confirm], now=START) as env:
        columns = {row[1] for row in env.store._all("PRAGMA table_info(pauses)")}
        assert {"match_path", "match_value"} <= columns
        plan = env.store._all(
            "EXPLAIN QUERY PLAN SELECT id FROM pauses "
            "WHERE event_name = 'a' AND match_path = 'b' AND match_value = 'c'"
        )
        assert "pauses_match" in str(plan)
        await env.send([{"name": "shop/order", "data": {"order": n}} for n in (1, 2)])
    # As an earlier version armed them: no index entry.
    with sqlite3.connect(path) as db:
        db.execute("UPDATE pauses SET match_path = NULL, match_value = NULL")
    db.close()
    async with TestEnvironment([Confirm], now=START) as env:
        await env.send({"name": "shop/confirmed", "data": {"order": 2}})
        statuses = {run.events[0]["data"]["order"]: run.status for run in await env.runs(Confirm)}
        assert statuses == {1: "Running", 2: "Completed"}


@pytest.mark.parametrize(
    ("expression", "trigger", "key"),
    [
        ("event.data.x == async.data.x", {"data": {"x": 1}}, ("data.x", "1.0")),
        ("async.data.y == event.data.x", {"data": {"x": "a"}}, ("data.y", '"a"')),
        (
            "(event.data.x == async.data.x) && async.data.n > 3",
            {"data": {"x": True}},
            ("data.x", "true"),
        ),
        ("async.data.n > 3 && async.data.k == 'v'", {}, ("data.k", '"v"')),
        ("async.data.k == null", {}, ("data.k", "null")),
        ("event.data.x == async.data.x || async.data.all", {"data": {"x": 1}}, None),
        ("event.data.x == async.data.x ? true : false", {"data": {"x": 1}}, None),
        ("event.data.x == async.data.x", {"data": {}}, None),
        ("event.data.x == async.data.x", {"data": {"x": [1]}}, None),
        ("async.data.k != 1", {}, None),
        ("event.data.x == event.data.x", {"data": {"x": 1}}, None),
        ("async.data.k == 'a && b'", {}, ("data.k", '"a && b"')),
        ("async.data.k == 'a\\'b'", {}, None),
        ("!(async.data.k == 1) && true", {}, None),
        ("async.data.k == 1 + 1", {}, None),
        ("async.data.items.exists(i, i == event.data.x)", {"data": {"x": 1}}, None),
    ],
)
def test_the_shapes_that_are_indexed(
    expression: str, trigger: dict[str, Any], key: tuple[str, str] | None
) -> None:
    compile_expression(expression)  # each is valid CEL
    assert pause_key(expression, json.dumps(trigger)) == key
