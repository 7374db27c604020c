"""Differential tests for parallel groups, invoke and send_event against the official SDK.

The official Python SDK (inngest 0.5.19) serves the same function written with
`ctx.group.parallel`, `ctx.step.invoke` and `ctx.step.send_event`; both get the same call
bodies. Known, deliberate differences:
- `InvokeFunction` opts: without data the official SDK sends `payload.data: null`, we send
  `{}` (`payload.v` and `timeout` are `null` when not set, in both);
- relative sleeps carry the duration rather than the instant (see test_differential.py);
- a send step's result is `{"ids": [...]}` (as the TypeScript SDK), not a bare list.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from typing import Any

import flask
import inngest
from aiohttp import web
from multidict import CIMultiDict

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import inngest.flask

from inngest_dsl import Context, InngestFunction, invoke, parallel, run, send_event, sleep, step
from inngest_dsl.aiohttp import serve
from inngest_dsl.engine._outcomes import hash_step_id
from inngest_dsl.testing import CapturingClient

from .conftest import APP_ID, PATH, AiohttpClient, Reply, call_body, event, post_call

official = inngest.Inngest(app_id=APP_ID, is_production=False)


class Callee(InngestFunction, id="callee", event="app/callee"):
    @step("work")
    def work(self, ctx: Context) -> int:
        return 1


class Flow(InngestFunction, id="flow", name="Flow", event="app/flow"):
    with parallel("fan out"):

        @step("a")
        def a(self, ctx: Context) -> dict[str, int]:
            return {"a": 1}

        @step("b")
        def b(self, ctx: Context) -> int:
            return 2

        sleep("1h", id="s")

    invoke("inv", function=Callee, data={"x": 1}, timeout="1h")
    invoke("inv without timeout", function=Callee)
    send_event("send", events={"name": "app/sent", "data": {}})


@official.create_function(fn_id="callee", trigger=inngest.TriggerEvent(event="app/callee"))
def callee(ctx: inngest.ContextSync) -> int:
    return 1


@official.create_function(fn_id="flow", name="Flow", trigger=inngest.TriggerEvent(event="app/flow"))
def flow(ctx: inngest.ContextSync) -> None:
    ctx.group.parallel(
        (
            lambda: ctx.step.run("a", lambda: {"a": 1}),
            lambda: ctx.step.run("b", lambda: 2),
            lambda: ctx.step.sleep("s", dt.timedelta(hours=1)),
        )
    )
    ctx.step.invoke("inv", function=callee, data={"x": 1}, timeout=dt.timedelta(hours=1))
    ctx.step.invoke("inv without timeout", function=callee)
    ctx.step.send_event("send", [inngest.Event(name="app/sent", data={})])


class Dynamic(InngestFunction, id="dynamic", name="Dynamic", event="app/flow"):
    @run("all")
    async def all(self, ctx: Context) -> None:
        await ctx.step.parallel(("a", lambda: {"a": 1}), ("b", lambda: 2))
        await ctx.step.invoke("inv", function=Callee, data={"x": 1}, timeout="1h")
        await ctx.step.run("last", lambda: "done")


@official.create_function(
    fn_id="dynamic", name="Dynamic", trigger=inngest.TriggerEvent(event="app/flow")
)
def dynamic(ctx: inngest.ContextSync) -> None:
    ctx.group.parallel(
        (lambda: ctx.step.run("a", lambda: {"a": 1}), lambda: ctx.step.run("b", lambda: 2))
    )
    ctx.step.invoke("inv", function=callee, data={"x": 1}, timeout=dt.timedelta(hours=1))
    ctx.step.run("last", lambda: "done")


flask_app = flask.Flask(__name__)
inngest.flask.serve(flask_app, official, [callee, flow, dynamic])


def call_official(body: dict[str, Any], step_id: str, fn_id: str = "flow") -> Reply:
    response = flask_app.test_client().post(
        f"{PATH}?fnId={APP_ID}-{fn_id}&stepId={step_id}", json=body
    )
    raw = response.get_data()
    return Reply(response.status_code, json.loads(raw), CIMultiDict(response.headers), raw)


def without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    return value


def shape(op: dict[str, Any]) -> dict[str, Any]:
    """What both SDKs must agree on (sleep names differ: see the module docstring)."""
    kept: dict[str, Any] = without_nulls(op)
    if op["op"] != "StepRun":
        kept.pop("data", None)
    if op["op"] == "Sleep":
        kept.pop("name")
        kept.pop("opts", None)
    return kept


async def both(client: Any, body: dict[str, Any], step_id: str = "step") -> tuple[Reply, Reply]:
    ours = await post_call(client, "flow", body, step_id=step_id)
    theirs = call_official(body, step_id)
    assert ours.status == theirs.status, (ours.body, theirs.body)
    return ours, theirs


async def served(aiohttp_client: AiohttpClient) -> Any:
    app = web.Application()
    serve(app, CapturingClient(APP_ID), [Callee, Flow, Dynamic])
    return await aiohttp_client(app)


A, B, S, INV = hash_step_id("a"), hash_step_id("b"), hash_step_id("s"), hash_step_id("inv")
TRIGGER = event("app/flow")


async def test_a_parallel_group_is_planned_and_targeted_like_the_official_sdk(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await served(aiohttp_client)
    ours, theirs = await both(client, call_body(trigger=TRIGGER))
    assert [o["op"] for o in ours.body] == ["StepPlanned", "StepPlanned", "Sleep"]
    assert [shape(o) for o in ours.body] == [shape(o) for o in theirs.body]

    planned = call_body(trigger=TRIGGER, disable_immediate_execution=True)
    for target, data in ((A, {"a": 1}), (B, 2)):
        ours, theirs = await both(client, planned, step_id=target)
        [op], [their_op] = ours.body, theirs.body
        assert shape(op) == shape(their_op)
        assert (op["op"], op["id"], op["data"]) == ("StepRun", target, data)


async def test_invoke_matches_the_official_invoke_function_op(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await served(aiohttp_client)
    memo: dict[str, Any] = {A: {"data": {"a": 1}}, B: {"data": 2}, S: None}
    ours, theirs = await both(client, call_body(steps=memo, trigger=TRIGGER))
    [op], [their_op] = ours.body, theirs.body
    assert shape(op) == shape(their_op)
    assert op["opts"] == {
        "function_id": "shop-callee",
        "payload": {"data": {"x": 1}, "v": None},
        "timeout": "1h",
    }

    memo[INV] = {"data": 1}
    ours, theirs = await both(client, call_body(steps=memo, trigger=TRIGGER))
    [op], [their_op] = ours.body, theirs.body
    # Without data the official SDK sends `data: null`; we send an empty object.
    assert op["opts"] == {
        "function_id": "shop-callee",
        "payload": {"data": {}, "v": None},
        "timeout": None,
    }
    assert their_op["opts"]["payload"]["data"] is None
    their_op["opts"]["payload"]["data"] = {}
    assert shape(op) == shape(their_op)
    assert op["opts"] == their_op["opts"]


async def test_a_send_step_is_planned_like_the_official_sdk(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await served(aiohttp_client)
    memo = {
        A: {"data": {"a": 1}},
        B: {"data": 2},
        S: None,
        INV: {"data": 1},
        hash_step_id("inv without timeout"): {"data": 1},
    }
    body = call_body(steps=memo, trigger=TRIGGER, disable_immediate_execution=True)
    ours, theirs = await both(client, body)
    [op], [their_op] = ours.body, theirs.body
    assert (op["op"], op["displayName"]) == ("StepPlanned", "send")
    assert shape(op) == shape(their_op)


async def test_a_failed_invoke_fails_both_without_retry(aiohttp_client: AiohttpClient) -> None:
    client = await served(aiohttp_client)
    memo = {
        A: {"data": {"a": 1}},
        B: {"data": 2},
        S: None,
        INV: {"error": {"name": "Error", "message": "callee broke", "stack": ""}},
    }
    ours, theirs = await both(client, call_body(steps=memo, trigger=TRIGGER))
    assert ours.status == 500
    assert ours.headers["X-Inngest-No-Retry"] == theirs.headers["X-Inngest-No-Retry"] == "true"
    assert ours.body["code"] == theirs.body["code"] == "step_errored"
    assert ours.body["message"] == theirs.body["message"] == "callee broke"


async def test_dynamic_steps_report_the_official_op_shapes(aiohttp_client: AiohttpClient) -> None:
    """Same ops, fields and order; only the ids differ (ours are scoped by block)."""
    client = await served(aiohttp_client)

    async def ours(memo: dict[str, Any], step_id: str = "step") -> Reply:
        return await post_call(
            client, "dynamic", call_body(steps=memo, trigger=TRIGGER), step_id=step_id
        )

    async def theirs(memo: dict[str, Any], step_id: str = "step") -> Reply:
        return call_official(call_body(steps=memo, trigger=TRIGGER), step_id, "dynamic")

    memos: dict[Any, dict[str, Any]] = {ours: {}, theirs: {}}
    seen = []
    for _ in range(8):
        replies = {side: await side(memo) for side, memo in memos.items()}
        assert replies[ours].status == replies[theirs].status
        if replies[ours].status != 206:
            break
        our_ops, their_ops = replies[ours].body, replies[theirs].body
        assert [{**shape(o), "id": ""} for o in our_ops] == [
            {**shape(o), "id": ""} for o in their_ops
        ]
        seen.append([o["op"] for o in our_ops])
        for side, memo in memos.items():
            for op in replies[side].body:
                if op["op"] == "StepPlanned":
                    [ran] = (await side(memo, op["id"])).body
                    assert (ran["op"], ran["displayName"]) == ("StepRun", op["displayName"])
                    memo[op["id"]] = {"data": ran["data"]}
                elif op["op"] == "StepRun":
                    memo[op["id"]] = {"data": op["data"]}
                else:
                    memo[op["id"]] = {"data": "invoked"}
    assert replies[ours].status == 200
    assert seen == [["StepPlanned", "StepPlanned"], ["InvokeFunction"], ["StepRun"]]
