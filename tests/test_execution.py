"""The engine without HTTP: step-id hashing, planning, folding, and the cost of a call."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from inngest_dsl import (
    Context,
    Event,
    InngestFunction,
    run,
    sleep,
    sleep_until,
    spec_of,
    step,
    wait_for_event,
)
from inngest_dsl.engine._execute import execute
from inngest_dsl.engine._outcomes import hash_step_id
from inngest_dsl.engine._plan import plan_for
from inngest_dsl.wire._calls import WireError, decode_call_request
from inngest_dsl.wire._json import dumps
from inngest_dsl.wire._responses import CallResult

VECTORS = json.loads((Path(__file__).parent / "data" / "vectors.json").read_text())
calls: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def reset() -> None:
    calls.clear()


def request(steps: dict[str, Any] | None = None, **ctx: Any) -> Any:
    return decode_call_request(
        {
            "event": {"name": "app/go", "data": {"n": 1}},
            "steps": steps or {},
            "ctx": {"run_id": "R", "attempt": 0, **ctx},
        }
    )


@pytest.mark.parametrize(("pre_hash", "hashed"), VECTORS["step_id_hashes"]["cases"].items())
def test_step_id_hash_vectors(pre_hash: str, hashed: str) -> None:
    assert hash_step_id(pre_hash) == hashed


class Repeats(InngestFunction, id="repeats", event="app/go"):
    @run("setup")
    def setup(self, ctx: Context) -> None: ...

    sleep("5m")

    @step("my-step-id")
    def first(self, ctx: Context) -> None: ...

    sleep("5m")
    sleep("5m")


def test_plan_hashes_memoised_ops_with_repeat_counters() -> None:
    plan = plan_for(spec_of(Repeats))
    rows = [(p.user_id, p.hashed, p.index) for p in plan.ops]
    assert rows == [
        ("setup", "", None),  # run blocks never reach the wire
        ("sleep 5m", hash_step_id("sleep 5m"), None),
        ("my-step-id", VECTORS["step_id_hashes"]["cases"]["my-step-id"], None),
        ("sleep 5m", hash_step_id("sleep 5m:1"), 1),
        ("sleep 5m", hash_step_id("sleep 5m:2"), 2),
    ]
    assert plan.hashes[hash_step_id("sleep 5m:2")] == 4


class Folds(InngestFunction, id="folds", event="app/go"):
    @run("mapping")
    def mapping(self, ctx: Context) -> dict[str, int]:
        calls["mapping"] += 1
        return {"a": 1, "b": 1}

    @step("override")
    def override(self, ctx: Context) -> dict[str, int]:
        calls["override"] += 1
        return {"b": 2}

    @step("scalar")
    def scalar(self, ctx: Context) -> str:
        calls["scalar"] += 1
        return "text"

    @step("nothing")
    def nothing(self, ctx: Context) -> None:
        calls["nothing"] += 1

    reply = wait_for_event("app/reply", timeout="1h")

    @run("read")
    def read(self, ctx: Context) -> dict[str, Any]:
        return {"reply_is_event": isinstance(ctx[self.reply], Event)}


async def test_fold_rules_and_memoised_bodies_never_run() -> None:
    memo = {
        hash_step_id("override"): {"data": {"b": 2}},
        hash_step_id("scalar"): {"data": "text"},
        hash_step_id("nothing"): {"data": None},
        hash_step_id("app/reply"): {"name": "app/reply", "data": {"ok": True}},
    }
    result = await execute(plan_for(spec_of(Folds)), request(memo))
    assert result.status == 200
    assert set(result.body) == {"a", "b", "scalar", "nothing", "app/reply", "reply_is_event"}
    assert (result.body["a"], result.body["b"], result.body["scalar"]) == (1, 2, "text")
    assert result.body["nothing"] is None  # a step that returned None is stored as null
    assert result.body["reply_is_event"] is True
    assert json.loads(dumps(result.body))["app/reply"] == {
        "name": "app/reply",
        "data": {"ok": True},
        "user": {},
    }
    assert calls == {"mapping": 1}


async def test_timed_out_wait_is_stored_as_none() -> None:
    memo = {
        hash_step_id("override"): {"data": None},
        hash_step_id("scalar"): {"data": None},
        hash_step_id("nothing"): {"data": None},
        hash_step_id("app/reply"): None,
    }
    result = await execute(plan_for(spec_of(Folds)), request(memo))
    assert result.body == {
        "a": 1,
        "b": 1,
        "override": None,
        "scalar": None,
        "nothing": None,
        "app/reply": None,
        "reply_is_event": False,
    }


async def test_target_named_step_means_discovery() -> None:
    result = await execute(plan_for(spec_of(Folds)), request(), target="step")
    assert result.status == 206
    assert result.body[0].op == "StepRun"


def test_call_result_headers() -> None:
    assert CallResult(500, {}, no_retry=True, retry_after="5").headers() == {
        "X-Inngest-No-Retry": "true",
        "Retry-After": "5",
    }
    assert CallResult(200, {}).headers() == {}


def test_decode_rejects_bad_memo_container() -> None:
    with pytest.raises(WireError, match="steps must be a JSON object"):
        decode_call_request({"event": {"name": "a"}, "steps": []})


def _wide(n: int) -> type:
    class Wide(InngestFunction, id=f"wide-{n}", event="app/go"):
        for i in range(n):
            step(f"step {i}")(lambda self, ctx, i=i: {f"k{i}": i})

    return Wide


async def test_a_call_costs_linear_work_in_the_memo() -> None:
    """Resume, don't replay: 10x the memoised steps makes ~10x the calls, not ~100x, and runs
    no body. Calls are counted (Python and C function calls), not timed: the count is the same
    on a loaded machine; the time is a benchmark's business (benchmarks/bench_handler.py)."""

    async def calls_made(n: int) -> int:
        plan = plan_for(spec_of(_wide(n)))
        memo = {hash_step_id(f"step {i}"): {"data": {f"k{i}": i}} for i in range(n)}
        req = request(memo)
        count = 0

        def profile(frame: Any, event: str, arg: Any) -> None:
            nonlocal count
            if event in ("call", "c_call"):
                count += 1

        sys.setprofile(profile)
        try:
            result = await execute(plan, req)
        finally:
            sys.setprofile(None)
        assert result.status == 200
        assert len(result.body) == n
        return count

    small, large = await calls_made(400), await calls_made(4000)
    assert large < small * 12  # linear is ~10x; quadratic would be ~100x


class Edges(InngestFunction, id="edges", event="app/go"):
    @run("scalar run")
    def scalar_run(self, ctx: Context) -> int:
        return 7

    @step("first")
    def first(self, ctx: Context) -> None:
        calls["first"] += 1

    @step("second")
    def second(self, ctx: Context) -> Any:
        calls["second"] += 1
        return dict(ctx.data)


async def test_run_result_scalar_is_stored_under_its_id() -> None:
    memo = {hash_step_id("first"): {"data": None}}
    result = await execute(plan_for(spec_of(Edges)), request(memo))
    assert result.body[0].data == {"scalar run": 7, "first": None}


async def test_stale_target_already_memoised_does_nothing() -> None:
    """A repeated targeted call for a step that has since finished runs and reports nothing:
    the discovery that followed the step's result goes on without it."""
    memo = {hash_step_id("first"): {"data": None}}
    result = await execute(plan_for(spec_of(Edges)), request(memo), target=hash_step_id("first"))
    assert (result.status, result.body) == (206, [])
    assert calls == {}


class BadInstant(InngestFunction, id="bad-instant", event="app/go"):
    @sleep_until("when")
    def when(self, ctx: Context) -> Any:
        return "next tuesday-ish"


async def test_sleep_until_body_returning_no_instant_is_a_clear_error() -> None:
    result = await execute(plan_for(spec_of(BadInstant)), request())
    assert (result.status, result.no_retry, result.body.code) == (500, True, "invalid_sleep_until")
    assert "sleep_until 'when' must return a datetime" in result.body.message
    assert "next tuesday-ish" in result.body.message
