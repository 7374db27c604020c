"""Each opcode's exact JSON bytes, pinned, and held to the official Python SDK's where they agree.

Inngest's SDK conformance suite compares a 206's `data` on raw bytes (and expects it on every
opcode, `null` when there is none), so the serve handler writes compact JSON, `data` always
present, keys in the official Python SDK's order. The official SDK (inngest 0.5.19, served
with Flask) writes the same keys in the same order with `", "` separators: its bodies are
re-encoded compactly, keeping their key order, before the comparison. Where the two differ on
purpose the test says so:
- `Sleep`: we send the duration or instant in `name` and `opts.duration`; the official SDK
  sends only `name` (the wake-up instant) and `opts: null`;
- `WaitForEvent`: `name` is the wait's step id and the event is in `opts.event` (the shape the
  conformance suite expects); the official SDK puts the event name in `name`.
Stack traces name files and lines, so they are replaced by `"..."` on both sides.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import warnings
from typing import Any

import flask
import inngest
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import inngest.flask

from inngest_dsl import (
    Context,
    InngestFunction,
    invoke,
    run,
    sleep,
    sleep_until,
    step,
    wait_for_event,
)
from inngest_dsl.engine._outcomes import hash_step_id

from .conftest import APP_ID, PATH, AiohttpClient, call_body, event, make_client, post_call

LAUNCH = dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
IF = "async.data.id == event.data.id"
RESULT = {"z": 1, "a": [1, 2.5, None], "u": "é", "nested": {"b": True, "a": "x"}}

FIRST = hash_step_id("first step")
LAUNCH_ID = hash_step_id("launch")
WAIT = hash_step_id("wait")
BARE = hash_step_id("bare")
INV = hash_step_id("inv")
BOOM = hash_step_id("boom")


class Callee(InngestFunction, id="callee", event="app/callee"):
    @step("work")
    def work(self, ctx: Context) -> int:
        return 1


class Shapes(InngestFunction, id="shapes", event="app/shapes", retries=2):
    @step("first step")
    def first(self, ctx: Context) -> dict[str, Any]:
        return RESULT

    sleep_until("launch", at=LAUNCH)
    wait_for_event("app/resume", id="wait", timeout="10s", if_=IF)
    wait_for_event("app/other", id="bare", timeout="1m")
    invoke("inv", function=Callee, data={"x": 1}, timeout="1m")

    @step("boom")
    def boom(self, ctx: Context) -> None:
        raise ValueError("broken")


class Failing(InngestFunction, id="failing", event="app/failing"):
    @run("explode")
    def explode(self, ctx: Context) -> None:
        raise ValueError("function broken")


official = inngest.Inngest(app_id=APP_ID, is_production=False)


@official.create_function(fn_id="callee", trigger=inngest.TriggerEvent(event="app/callee"))
def callee(ctx: inngest.ContextSync) -> int:
    return 1


def _boom() -> None:
    raise ValueError("broken")


@official.create_function(
    fn_id="shapes", trigger=inngest.TriggerEvent(event="app/shapes"), retries=2
)
def shapes(ctx: inngest.ContextSync) -> None:
    ctx.step.run("first step", lambda: RESULT)
    ctx.step.sleep_until("launch", LAUNCH)
    ctx.step.wait_for_event("wait", event="app/resume", timeout=dt.timedelta(seconds=10), if_exp=IF)
    ctx.step.wait_for_event("bare", event="app/other", timeout=dt.timedelta(minutes=1))
    ctx.step.invoke("inv", function=callee, data={"x": 1}, timeout=dt.timedelta(minutes=1))
    ctx.step.run("boom", _boom)


@official.create_function(fn_id="failing", trigger=inngest.TriggerEvent(event="app/failing"))
def failing(ctx: inngest.ContextSync) -> None:
    raise ValueError("function broken")


flask_app = flask.Flask(__name__)
inngest.flask.serve(flask_app, official, [callee, shapes, failing])

_STACK = re.compile(r'"stack":\s?"(?:[^"\\]|\\.)*"')


def _unstacked(raw: bytes) -> bytes:
    return _STACK.sub('"stack":"..."', raw.decode()).encode()


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _userland(user_id: str) -> str:
    return f'"userland":{{"id":"{user_id}","index":null}}'


async def ours(
    aiohttp_client: AiohttpClient,
    memo: dict[str, Any],
    *,
    attempt: int = 0,
    plan: bool = False,
    step_id: str = "step",
    fn_id: str = "shapes",
) -> tuple[int, bytes]:
    client = await make_client(aiohttp_client, [Shapes, Callee, Failing])
    body = call_body(
        steps=memo,
        trigger=event(f"app/{fn_id}", id="1"),
        attempt=attempt,
        disable_immediate_execution=plan,
    )
    reply = await post_call(client, fn_id, body, step_id=step_id)
    return reply.status, _unstacked(reply.raw)


def theirs(
    memo: dict[str, Any],
    *,
    attempt: int = 0,
    plan: bool = False,
    step_id: str = "step",
    fn_id: str = "shapes",
) -> tuple[int, Any]:
    body = call_body(
        steps=memo,
        trigger=event(f"app/{fn_id}", id="1"),
        attempt=attempt,
        disable_immediate_execution=plan,
    )
    response = flask_app.test_client().post(
        f"{PATH}?fnId={APP_ID}-{fn_id}&stepId={step_id}", json=body
    )
    return response.status_code, json.loads(_unstacked(response.get_data()))


MEMO: list[tuple[str, Any]] = [
    (FIRST, {"data": RESULT}),
    (LAUNCH_ID, None),
    (WAIT, None),
    (BARE, None),
    (INV, {"data": 1}),
]


def memo_until(step_hash: str) -> dict[str, Any]:
    """The memo of every step before `step_hash`."""
    memo: dict[str, Any] = {}
    for hashed, value in MEMO:
        if hashed == step_hash:
            break
        memo[hashed] = value
    return memo


def _op(user_id: str, hashed: str, name: str, op: str, opts: str, tail: str) -> bytes:
    return (
        f'[{{"displayName":"{user_id}","id":"{hashed}","name":"{name}","op":"{op}",'
        f'"opts":{opts},{_userland(user_id)}{tail}}}]'
    ).encode()


async def test_step_run_bytes(aiohttp_client: AiohttpClient) -> None:
    status, raw = await ours(aiohttp_client, {})
    expected = _op(
        "first step",
        FIRST,
        "first step",
        "StepRun",
        "null",
        ',"data":{"z":1,"a":[1,2.5,null],"u":"\\u00e9","nested":{"b":true,"a":"x"}}',
    )
    assert (status, raw) == (206, expected)
    assert theirs({}) == (206, json.loads(expected))
    assert _compact(theirs({})[1]) == expected


async def test_step_planned_bytes(aiohttp_client: AiohttpClient) -> None:
    status, raw = await ours(aiohttp_client, {}, plan=True)
    expected = _op("first step", FIRST, "first step", "StepPlanned", "null", ',"data":null')
    assert (status, raw) == (206, expected)
    assert _compact(theirs({}, plan=True)[1]) == expected


async def test_targeted_step_run_bytes(aiohttp_client: AiohttpClient) -> None:
    status, raw = await ours(aiohttp_client, {}, plan=True, step_id=FIRST)
    assert status == 206
    assert raw == _compact(theirs({}, plan=True, step_id=FIRST)[1])
    assert raw.endswith(
        b',"data":{"z":1,"a":[1,2.5,null],"u":"\\u00e9","nested":{"b":true,"a":"x"}}}]'
    )


async def test_sleep_bytes(aiohttp_client: AiohttpClient) -> None:
    memo = memo_until(LAUNCH_ID)
    status, raw = await ours(aiohttp_client, memo)
    instant = "2031-05-06T07:08:09.000Z"
    expected = _op(
        "launch", LAUNCH_ID, instant, "Sleep", f'{{"duration":"{instant}"}}', ',"data":null'
    )
    assert (status, raw) == (206, expected)
    _, [their_op] = theirs(memo)
    assert their_op["opts"] is None  # the official SDK: the instant in `name` only
    their_op["opts"] = {"duration": instant}
    assert _compact([their_op]) == expected


@pytest.mark.parametrize(
    ("hashed", "user_id", "opts"),
    [
        (WAIT, "wait", f'{{"event":"app/resume","if":"{IF}","timeout":"10s"}}'),
        (BARE, "bare", '{"event":"app/other","if":null,"timeout":"1m"}'),
    ],
)
async def test_wait_for_event_bytes(
    aiohttp_client: AiohttpClient, hashed: str, user_id: str, opts: str
) -> None:
    memo = memo_until(hashed)
    status, raw = await ours(aiohttp_client, memo)
    expected = _op(user_id, hashed, user_id, "WaitForEvent", opts, ',"data":null')
    assert (status, raw) == (206, expected)
    # The shape of Inngest's conformance suite: `name` is the step id, the event in opts.
    [op] = json.loads(raw)
    assert (op["name"], op["data"]) == (user_id, None)
    _, [their_op] = theirs(memo)
    event_name = json.loads(opts)["event"]
    assert their_op["name"] == event_name  # the official SDK: the event name in `name`
    their_op["name"] = user_id
    their_op["opts"] = {"event": event_name, **their_op["opts"]}
    assert _compact([their_op]) == expected


async def test_invoke_function_bytes(aiohttp_client: AiohttpClient) -> None:
    memo = memo_until(INV)
    status, raw = await ours(aiohttp_client, memo)
    expected = _op(
        "inv",
        INV,
        "inv",
        "InvokeFunction",
        '{"function_id":"shop-callee","payload":{"data":{"x":1},"v":null},"timeout":"1m"}',
        ',"data":null',
    )
    assert (status, raw) == (206, expected)
    assert _compact(theirs(memo)[1]) == expected


@pytest.mark.parametrize(("attempt", "op"), [(0, "StepError"), (2, "StepFailed")])
async def test_step_error_bytes(aiohttp_client: AiohttpClient, attempt: int, op: str) -> None:
    memo = dict(MEMO)
    status, raw = await ours(aiohttp_client, memo, attempt=attempt)
    error = '{"code":"unknown","message":"broken","name":"ValueError","stack":"..."}'
    expected = _op("boom", BOOM, "boom", op, "null", f',"error":{error},"data":null')
    assert (status, raw) == (206, expected)
    assert _compact(theirs(memo, attempt=attempt)[1]) == expected


async def test_function_error_bytes(aiohttp_client: AiohttpClient) -> None:
    status, raw = await ours(aiohttp_client, {}, fn_id="failing")
    expected = '{"code":"unknown","message":"function broken","name":"ValueError","stack":"..."}'
    assert (status, raw) == (500, expected.encode())
    their_status, their_body = theirs({}, fn_id="failing")
    assert (their_status, _compact(their_body)) == (500, expected.encode())


# -- the fixtures of Inngest's SDK conformance suite (serve transport) ---------------------
#
# Its runner decodes each 206 into the server's opcode struct, keeping `data` as raw bytes,
# drops `displayName`, `userland` and timing, moves a sleep's `opts.duration` into `name`,
# blanks an error's `name` and `stack`, and compares with its expected opcodes.


def conformance_view(raw: bytes) -> dict[str, Any]:
    """A single-op 206 as the conformance runner compares it."""
    [op] = json.loads(raw)
    marker = raw.rindex(b',"data":')  # `data` is the last key: its raw bytes run to `}]`
    assert raw.endswith(b"}]")
    view = {
        "op": op["op"],
        "id": op["id"],
        "name": op["name"],
        "opts": op["opts"],
        "data": raw[marker + len(b',"data":') : -2],
    }
    if op["op"] == "Sleep" and (op["opts"] or {}).get("duration"):
        view["name"], view["opts"] = op["opts"]["duration"], None
    if "error" in op:
        view["error"] = {"message": op["error"]["message"]}
    return view


class StepTest(InngestFunction, id="step-test", event="tests/step.test"):
    @step("first step")
    def first(self, ctx: Context) -> str:
        return "first step"

    sleep("2s", id="sleep")

    @step("second step")
    def second(self, ctx: Context) -> dict[str, Any]:
        return {"first": ctx.data["first step"], "second": True}


class WaitTest(InngestFunction, id="wait-for-event", event="tests/wait.test"):
    wait = wait_for_event(
        "test/resume",
        id="wait",
        timeout="10s",
        if_="async.data.resume == true && async.data.id == event.data.id",
    )


async def conformance_call(
    aiohttp_client: AiohttpClient, function: type, fn_id: str, memo: dict[str, Any]
) -> bytes:
    client = await make_client(aiohttp_client, [function])
    reply = await post_call(client, fn_id, call_body(steps=memo, trigger=event("tests/x")))
    assert reply.status == 206
    return reply.raw


async def test_the_steps_serial_fixture_gives_the_expected_opcodes(
    aiohttp_client: AiohttpClient,
) -> None:
    first, nap = hash_step_id("first step"), hash_step_id("sleep")
    second = "764e20ec975d4ef820d0f42e6a5833384bd7ee36"
    steps = [
        ({}, {"op": "StepRun", "id": first, "name": "first step", "opts": None,
              "data": b'"first step"'}),
        ({first: {"data": "first step"}},
         {"op": "Sleep", "id": nap, "name": "2s", "opts": None, "data": b"null"}),
        ({first: {"data": "first step"}, nap: None},
         {"op": "StepRun", "id": second, "name": "second step", "opts": None,
          "data": b'{"first":"first step","second":true}'}),
    ]  # fmt: skip
    for memo, expected in steps:
        raw = await conformance_call(aiohttp_client, StepTest, "step-test", memo)
        assert conformance_view(raw) == expected


async def test_the_wait_for_event_fixture_gives_the_expected_opcode(
    aiohttp_client: AiohttpClient,
) -> None:
    raw = await conformance_call(aiohttp_client, WaitTest, "wait-for-event", {})
    assert conformance_view(raw) == {
        "op": "WaitForEvent",
        "id": "daaad336276d15594d0e765f96c17cd746bf4971",
        "name": "wait",
        "opts": {
            "event": "test/resume",
            "if": "async.data.resume == true && async.data.id == event.data.id",
            "timeout": "10s",
        },
        "data": b"null",
    }
