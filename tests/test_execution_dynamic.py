"""The engine on `ctx.step`: steps added at run time, their ids, memo, targeting and misuse."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections import Counter
from typing import Any

import pytest

from inngest_dsl import (
    Context,
    Event,
    InngestFunction,
    StepError,
    invoke,
    parallel,
    run,
    step,
)
from inngest_dsl.engine._execute import execute
from inngest_dsl.engine._outcomes import hash_step_id
from inngest_dsl.engine._plan import plan_for
from inngest_dsl.testing import CapturingClient
from inngest_dsl.wire._calls import decode_call_request
from inngest_dsl.wire._json import to_json
from inngest_dsl.wire._responses import CallResult

calls: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def reset() -> None:
    calls.clear()


def dynamic(block: str, step_id: str, repeat: int = 0) -> str:
    """The wire id of a dynamic step (see `_dynamic`): scoped by its block."""
    key = f"{len(block)}:{block}/{step_id}"
    return hash_step_id(f"{key}:{repeat}" if repeat else key)


def request(
    steps: dict[str, Any] | None = None, data: dict[str, Any] | None = None, **ctx: Any
) -> Any:
    return decode_call_request(
        {
            "event": {"name": "app/go", "data": data or {}},
            "steps": steps or {},
            "ctx": {"run_id": "R1", "attempt": 0, "max_attempts": 3, **ctx},
        }
    )


async def call(
    cls: type,
    steps: dict[str, Any] | None = None,
    *,
    target: str | None = None,
    data: dict[str, Any] | None = None,
    client: Any = None,
    **ctx: Any,
) -> CallResult:
    from inngest_dsl import spec_of

    return await execute(
        plan_for(spec_of(cls)),
        request(steps, data, **ctx),
        target=target,
        app_id="shop",
        client=client,
    )


def ops(result: CallResult) -> list[dict[str, Any]]:
    assert result.status == 206, result.body
    return [to_json(op) for op in result.body]


def process(item: str) -> dict[str, str]:
    calls[item] += 1
    return {"item": item.upper()}


# -- a runtime-sized loop -------------------------------------------------------------------


class Loop(InngestFunction, id="loop", event="app/go"):
    @run("process items")
    async def process_items(self, ctx: Context) -> dict[str, Any]:
        calls["body"] += 1
        done = [await ctx.step.run(f"process {i}", process, i) for i in ctx.event.data["items"]]
        return {"done": done}


async def test_a_loop_of_steps_runs_one_step_per_request_then_finishes() -> None:
    items = ["a", "b", "a"]
    memo: dict[str, Any] = {}
    reported = []
    for _ in range(5):
        result = await call(Loop, memo, data={"items": items})
        if result.status == 200:
            break
        [op] = ops(result)
        reported.append((op["op"], op["displayName"], op["userland"]["index"]))
        memo[op["id"]] = {"data": op["data"]}
    assert result.body == {"done": [{"item": "A"}, {"item": "B"}, {"item": "A"}]}
    assert reported == [
        ("StepRun", "process a", None),
        ("StepRun", "process b", None),
        ("StepRun", "process a", 1),  # a repeat of an id, counted as the protocol counts
    ]
    assert set(memo) == {
        dynamic("process items", "process a"),
        dynamic("process items", "process b"),
        dynamic("process items", "process a", 1),
    }
    assert calls == {"a": 2, "b": 1, "body": 4}  # each step ran once; the block replayed


async def test_a_dynamic_step_that_raises_reports_step_error_then_step_failed() -> None:
    class Flaky(InngestFunction, id="flaky", event="app/go"):
        @run("go")
        async def go(self, ctx: Context) -> None:
            await ctx.step.run("boom", lambda: 1 / 0)

    [op] = ops(await call(Flaky))
    assert (op["op"], op["error"]["name"]) == ("StepError", "ZeroDivisionError")
    [op] = ops(await call(Flaky, attempt=2))
    assert op["op"] == "StepFailed"


# -- memo and ids ---------------------------------------------------------------------------


class Memo(InngestFunction, id="memo", event="app/go"):
    @step("charge")  # a declared id that the run block reuses below
    def charge(self, ctx: Context) -> dict[str, int]:
        return {"charged": 1}

    @run("use")
    async def use(self, ctx: Context) -> dict[str, Any]:
        value = await ctx.step.run("charge", process, "x")
        try:
            await ctx.step.run("might fail", process, "y")
        except StepError as exc:
            return {"value": value, "caught": exc.message}
        return {"value": value}


async def test_a_dynamic_id_equal_to_a_declared_one_hashes_differently() -> None:
    memo = {hash_step_id("charge"): {"data": {"charged": 1}}}
    [op] = ops(await call(Memo, memo))
    assert op["id"] == dynamic("use", "charge") != hash_step_id("charge")
    assert op["userland"] == {"id": "charge", "index": None}


async def test_memoised_dynamic_steps_return_their_value_and_raise_their_failure() -> None:
    memo = {
        hash_step_id("charge"): {"data": {"charged": 1}},
        dynamic("use", "charge"): {"data": "memoised"},
        dynamic("use", "might fail"): {"error": {"name": "ValueError", "message": "nope"}},
    }
    result = await call(Memo, memo)
    assert result.status == 200
    assert result.body == {"charged": 1, "value": "memoised", "caught": "nope"}
    assert calls == {}


class Uncaught(InngestFunction, id="uncaught", event="app/go"):
    @run("use")
    async def use(self, ctx: Context) -> None:
        await ctx.step.run("fails", process, "z")


async def test_an_uncaught_memoised_failure_fails_the_function_without_retry() -> None:
    memo = {dynamic("use", "fails"): {"error": {"name": "KeyError", "message": "gone"}}}
    result = await call(Uncaught, memo)
    assert (result.status, result.no_retry, result.body.code) == (500, True, "step_errored")
    assert (result.body.name, result.body.message) == ("KeyError", "gone")


# -- step blocks with dynamic steps ---------------------------------------------------------


class Nested(InngestFunction, id="nested", event="app/go"):
    @step("gather")
    async def gather(self, ctx: Context) -> dict[str, Any]:
        calls["gather body"] += 1
        first = await ctx.step.run("fetch", process, "p")
        second = await ctx.step.run("fetch", process, "q")
        return {"gathered": [first, second]}

    @run("again")
    async def again(self, ctx: Context) -> dict[str, Any]:
        # Same ids as the step block above: scoped by block, so never its memo.
        return {"again": await ctx.step.run("fetch", process, "r")}


async def test_a_step_block_is_replayed_until_its_steps_are_done_then_memoised_once() -> None:
    memo: dict[str, Any] = {}
    kinds = []
    for _ in range(6):
        result = await call(Nested, memo)
        if result.status == 200:
            break
        [op] = ops(result)
        kinds.append((op["op"], op["displayName"]))
        memo[op["id"]] = {"data": op["data"]}
    assert kinds == [
        ("StepRun", "fetch"),
        ("StepRun", "fetch"),
        ("StepRun", "gather"),
        ("StepRun", "fetch"),
    ]
    assert result.body == {
        "gathered": [{"item": "P"}, {"item": "Q"}],
        "again": {"item": "R"},
    }
    assert calls == {"p": 1, "q": 1, "r": 1, "gather body": 3}
    assert memo[hash_step_id("gather")] == {"data": {"gathered": [{"item": "P"}, {"item": "Q"}]}}


async def test_planned_dynamic_steps_are_found_by_a_targeted_call() -> None:
    memo: dict[str, Any] = {}
    # Immediate execution disabled: the step itself is planned, then targeted.
    [op] = ops(await call(Nested, memo, disable_immediate_execution=True))
    assert (op["op"], op["displayName"]) == ("StepPlanned", "gather")
    [op] = ops(
        await call(Nested, memo, target=hash_step_id("gather"), disable_immediate_execution=True)
    )
    assert (op["op"], op["id"]) == ("StepPlanned", dynamic("gather", "fetch"))
    assert calls == {"gather body": 1}
    [op] = ops(await call(Nested, memo, target=op["id"], disable_immediate_execution=True))
    assert (op["op"], op["id"], op["data"]) == (
        "StepRun",
        dynamic("gather", "fetch"),
        {"item": "P"},
    )
    assert calls == {"gather body": 2, "p": 1}


async def test_a_target_no_body_reaches_is_not_found() -> None:
    result = await call(Loop, data={"items": []}, target="f" * 40)
    assert (result.status, result.no_retry, result.body.code) == (500, True, "step_not_found")
    assert "f" * 40 in result.body.message


async def test_a_new_dynamic_step_while_targeting_another_step_is_refused() -> None:
    # Looking for an unknown target, the body meets a new step: the memo does not match.
    result = await call(Nested, target="f" * 40)
    assert (result.status, result.no_retry, result.body.code) == (500, True, "step_unexpected")
    assert calls == {"gather body": 1}
    calls.clear()

    class Ahead(InngestFunction, id="ahead", event="app/go"):
        @run("first")
        async def first(self, ctx: Context) -> None:
            await ctx.step.run("new", process, "n")

        @step("later")
        def later(self, ctx: Context) -> None: ...

    result = await call(Ahead, target=hash_step_id("later"))
    assert (result.status, result.body.code) == (500, "step_unexpected")
    assert "found step 'new'" in result.body.message
    assert calls == {}


# -- the other dynamic ops ------------------------------------------------------------------


class Callee(InngestFunction, id="callee", event="app/callee"):
    @step("noop")
    def noop(self, ctx: Context) -> None: ...


class Everything(InngestFunction, id="everything", event="app/go"):
    @run("all")
    async def all(self, ctx: Context) -> dict[str, Any]:
        await ctx.step.sleep("nap", "90s")
        await ctx.step.sleep_until("alarm", dt.datetime(2031, 1, 1, tzinfo=dt.timezone.utc))
        reply = await ctx.step.wait_for_event(
            "reply", event="app/reply", timeout="1h", match="data.id"
        )
        result = await ctx.step.invoke("call", function=Callee, data={"x": 1}, timeout="5m")
        ids = await ctx.step.send_event("tell", {"name": "app/told"})
        return {"reply": reply, "result": result, "ids": ids}


async def test_every_dynamic_op_has_its_wire_shape_and_memo_value() -> None:
    client = CapturingClient("shop")
    memo: dict[str, Any] = {}
    shapes = []
    for _ in range(8):
        result = await call(Everything, memo, client=client)
        if result.status == 200:
            break
        [op] = ops(result)
        shapes.append((op["op"], op["name"], op["opts"]))
        memo[op["id"]] = {
            "nap": None,
            "alarm": None,
            "reply": {"name": "app/reply", "data": {"id": 1}, "user": {}, "ts": 5},
            "call": {"data": {"callee": "done"}},
            "tell": {"data": op.get("data")},
        }[op["displayName"]]
    assert shapes == [
        ("Sleep", "1m30s", {"duration": "1m30s"}),
        ("Sleep", "2031-01-01T00:00:00.000Z", {"duration": "2031-01-01T00:00:00.000Z"}),
        (
            "WaitForEvent",
            "reply",
            {"event": "app/reply", "if": "event.data.id == async.data.id", "timeout": "1h"},
        ),
        (
            "InvokeFunction",
            "call",
            {
                "function_id": "shop-callee",
                "payload": {"data": {"x": 1}, "v": None},
                "timeout": "5m",
            },
        ),
        ("StepRun", "tell", None),
    ]
    assert isinstance(result.body["reply"], Event)
    assert result.body["result"] == {"callee": "done"}
    assert result.body["ids"] == client.sent_ids
    [sent] = client.sent
    assert sent.id is not None


class Fan(InngestFunction, id="fan", event="app/go"):
    @run("fan")
    async def fan(self, ctx: Context) -> dict[str, Any]:
        return {"results": await ctx.step.parallel(("a", process, "a"), ("b", process, "b"))}


async def test_parallel_reports_all_then_targets_each_then_returns_in_order() -> None:
    a, b = dynamic("fan", "a"), dynamic("fan", "b")
    assert [(o["op"], o["id"]) for o in ops(await call(Fan))] == [
        ("StepPlanned", a),
        ("StepPlanned", b),
    ]
    assert calls == {}
    [op] = ops(await call(Fan, target=b, disable_immediate_execution=True))
    assert (op["op"], op["id"], op["data"]) == ("StepRun", b, {"item": "B"})
    assert calls == {"b": 1}
    [op] = ops(await call(Fan, {b: {"data": op["data"]}}))
    assert (op["op"], op["id"]) == ("StepPlanned", a)  # only the unfinished one
    result = await call(Fan, {a: {"data": 1}, b: {"data": 2}})
    assert result.body == {"results": [1, 2]}


# -- misuse ---------------------------------------------------------------------------------


class SyncBody(InngestFunction, id="sync-body", event="app/go"):
    @step("sync")
    def sync(self, ctx: Context) -> None:
        ctx.step.run("x", process, "x")  # type: ignore[unused-coroutine]  # raises first


class InGroup(InngestFunction, id="in-group", event="app/go"):
    with parallel("group"):

        @step("member")
        async def member(self, ctx: Context) -> None:
            await ctx.step.run("x", process, "x")


class InInvokeBody(InngestFunction, id="in-invoke-body", event="app/go"):
    @invoke("call", function=Callee)
    async def call(self, ctx: Context) -> dict[str, Any]:
        return {"x": await ctx.step.run("x", process, "x")}


class NestedCalls(InngestFunction, id="nested-calls", event="app/go"):
    @run("outer")
    async def outer(self, ctx: Context) -> None:
        async def inner() -> Any:
            return await ctx.step.run("inner", process, "i")

        await ctx.step.run("outer", inner)


kept: list[Context] = []


class KeepsContext(InngestFunction, id="keeps", event="app/go"):
    @run("keep")
    def keep(self, ctx: Context) -> None:
        kept.append(ctx)


@pytest.mark.parametrize(
    ("cls", "target", "message"),
    [
        (SyncBody, None, "called from a sync block body"),
        (InGroup, hash_step_id("member"), "in step 'member', which is in a parallel group"),
        (InInvokeBody, None, "in the body of invoke 'call'"),
        (NestedCalls, None, "while another ctx.step call is running"),
    ],
)
async def test_misuse_fails_the_run_at_once_saying_why(
    cls: type, target: str | None, message: str
) -> None:
    result = await call(cls, target=target)
    assert (result.status, result.no_retry) == (500, True), result.body
    assert message in result.body.message
    assert calls == {}


async def test_ctx_step_after_the_block_returned_is_refused() -> None:
    kept.clear()
    await call(KeepsContext)
    with pytest.raises(Exception, match="after the block returned"):
        kept[0].step.run("late", process, "l")  # type: ignore[unused-coroutine]


async def test_bad_arguments_name_the_step() -> None:
    class Bad(InngestFunction, id="bad", event="app/go"):
        @run("bad")
        async def bad(self, ctx: Context) -> None:
            await ctx.step.sleep("nap", "soon")

    result = await call(Bad)
    assert result.no_retry is True
    assert "ctx.step.sleep('nap'):" in result.body.message


async def test_a_body_swallowing_the_stop_still_ends_the_request() -> None:
    class Swallow(InngestFunction, id="swallow", event="app/go"):
        @run("swallow")
        async def swallow(self, ctx: Context) -> dict[str, str]:
            with contextlib.suppress(BaseException):  # what the test is about
                await ctx.step.run("x", process, "x")
            return {"went": "on"}

    [op] = ops(await call(Swallow))
    assert (op["op"], op["displayName"]) == ("StepRun", "x")


class FanInStep(InngestFunction, id="fan-in-step", event="app/go"):
    @step("both")
    async def both(self, ctx: Context) -> dict[str, Any]:
        calls["both body"] += 1
        return {"both": await ctx.step.parallel(("a", process, "a"), ("b", process, "b"))}


async def test_parallel_inside_a_step_block_is_found_by_targeted_calls() -> None:
    a, b = dynamic("both", "a"), dynamic("both", "b")
    assert [o["id"] for o in ops(await call(FanInStep))] == [a, b]
    planned = {"disable_immediate_execution": True}
    [op] = ops(await call(FanInStep, target=a, **planned))
    assert (op["op"], op["id"], op["data"]) == ("StepRun", a, {"item": "A"})
    [op] = ops(await call(FanInStep, {a: {"data": 1}}, target=b, **planned))
    assert (op["op"], op["id"]) == ("StepRun", b)
    assert calls == {"both body": 3, "a": 1, "b": 1}
    # Still planning after the fan-in: the step itself is planned, then targeted.
    memo = {a: {"data": 1}, b: {"data": 2}}
    [op] = ops(await call(FanInStep, memo, **planned))
    assert (op["op"], op["id"]) == ("StepPlanned", hash_step_id("both"))
    [op] = ops(await call(FanInStep, memo, target=hash_step_id("both"), **planned))
    assert (op["op"], op["data"]) == ("StepRun", {"both": [1, 2]})


# ---------------------------------------------------------------------------------------------
# Review fixes


async def _work(name: str, delay: float) -> str:
    calls[name] += 1
    await asyncio.sleep(delay)
    return name


class Gathered(InngestFunction, id="gathered", event="app/go"):
    @run("fan")
    async def fan(self, ctx: Context) -> dict[str, list[str]]:
        done = await asyncio.gather(
            ctx.step.run("a", _work, "a", 0.01), ctx.step.run("b", _work, "b", 0.05)
        )
        return {"done": list(done)}


async def test_steps_awaited_together_never_run_twice() -> None:
    first = await call(Gathered)
    # One request runs one step: awaiting two unfinished ones together is refused, clearly.
    assert first.status == 500
    assert first.no_retry
    assert "one at a time" in to_json(first.body)["message"]
    # A sibling started anyway would still be running as a task: let any such task end first.
    others = asyncio.all_tasks() - {asyncio.current_task()}
    if others:
        await asyncio.wait(others, timeout=30)
    assert calls == {"a": 1}


async def test_a_memoised_target_reports_nothing() -> None:
    class Group(InngestFunction, id="group", event="app/go"):
        with parallel("both"):

            @step("a")
            def a(self, ctx: Context) -> int:
                calls["a"] += 1
                return 1

            @step("b")
            def b(self, ctx: Context) -> int:
                calls["b"] += 1
                return 2

    a_id = hash_step_id("a")
    result = await call(Group, {a_id: {"data": 1}}, target=a_id, disable_immediate_execution=True)
    # A repeated call for a finished step must not plan its still-running sibling again.
    assert (result.status, result.body) == (206, [])
    assert calls == {}


@pytest.mark.parametrize(
    ("data", "problem"),
    [("abc", "data= must be a mapping, got str"), ({"at": dt.datetime(2030, 1, 1)}, "not JSON")],
)
async def test_dynamic_invoke_refuses_bad_data(data: Any, problem: str) -> None:
    class Caller(InngestFunction, id="caller", event="app/go"):
        @run("call")
        async def go(self, ctx: Context) -> None:
            await ctx.step.invoke("inv", function="other-app-fn", data=data)

    result = await call(Caller)
    assert result.status == 500
    assert result.no_retry
    assert problem in to_json(result.body)["message"]
