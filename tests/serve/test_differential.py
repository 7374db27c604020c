"""Differential tests: the official Python SDK (inngest 0.5.19) serving the same function shapes.

Both handlers get the same call bodies; their replies must agree on hashed step ids, opcode
kinds and fields, error codes and retry headers. Known, deliberate differences:
- relative sleeps: the official SDK sends `name` = the wake-up instant and `opts: null`; we send
  the duration string in `name` and `opts.duration` (the server accepts both, PROTOCOL §7.3);
- waits: `name` is the wait's step id and the event is in `opts.event` (the shape Inngest's
  conformance suite expects); the official SDK puts the event name in `name`;
- `Retry-After`: the official SDK always sends an instant; we send seconds for a delay.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from typing import Any

import flask
import inngest
import pytest
from multidict import CIMultiDict

with warnings.catch_warnings():
    # The official SDK's Flask adapter still uses pydantic's deprecated class-based config.
    warnings.simplefilter("ignore", DeprecationWarning)
    import inngest.flask

from inngest_dsl import (
    Context,
    InngestFunction,
    NonRetriableError,
    run,
    sleep,
    sleep_until,
    spec_of,
    step,
    wait_for_event,
)
from inngest_dsl.wire._json import to_json
from inngest_dsl.wire._registration import function_config

from .conftest import APP_ID, PATH, AiohttpClient, Reply, call_body, event, make_client, post_call

LAUNCH = dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
URL = "http://127.0.0.1:8000/api/inngest"

official = inngest.Inngest(app_id=APP_ID, is_production=False)


def _fail(mode: str) -> None:
    if mode == "boom":
        raise ValueError("broken")
    if mode == "never":
        raise inngest.NonRetriableError("account closed")


# -- the same shapes, twice ----------------------------------------------------------------


class Journey(InngestFunction, id="journey", name="Journey", event="app/journey", retries=2):
    @run("log")
    def log(self, ctx: Context) -> None: ...

    @step("send welcome")
    def welcome(self, ctx: Context) -> dict[str, int]:
        return {"m": 1}

    sleep("1h")
    sleep("1h")
    reply = wait_for_event(
        "app/resume", id="wait", timeout="5m", if_="async.data.id == event.data.id"
    )
    sleep_until("launch", at=LAUNCH)

    @step("finish")
    def finish(self, ctx: Context) -> None: ...


@official.create_function(
    fn_id="journey", name="Journey", trigger=inngest.TriggerEvent(event="app/journey"), retries=2
)
def journey(ctx: inngest.ContextSync) -> object:
    welcomed = ctx.step.run("send welcome", lambda: {"m": 1})
    ctx.step.sleep("sleep 1h", dt.timedelta(hours=1))
    ctx.step.sleep("sleep 1h", dt.timedelta(hours=1))
    resumed = ctx.step.wait_for_event(
        "wait",
        event="app/resume",
        timeout=dt.timedelta(minutes=5),
        if_exp="async.data.id == event.data.id",
    )
    ctx.step.sleep_until("launch", LAUNCH)
    finished = ctx.step.run("finish", lambda: None)
    return {**welcomed, "wait": resumed, "finish": finished}


class Failing(InngestFunction, id="failing", name="Failing", event="app/failing"):
    @step("call api")
    def call_api(self, ctx: Context) -> None:
        mode = ctx.event.data["mode"]
        if mode == "never":
            raise NonRetriableError("account closed")
        raise ValueError("broken")


@official.create_function(
    fn_id="failing", name="Failing", trigger=inngest.TriggerEvent(event="app/failing")
)
def failing(ctx: inngest.ContextSync) -> None:
    ctx.step.run("call api", lambda: _fail(ctx.event.data["mode"]))


flask_app = flask.Flask(__name__)
inngest.flask.serve(flask_app, official, [journey, failing])


# -- driving both --------------------------------------------------------------------------


def call_official(fn_id: str, body: dict[str, Any], step_id: str = "step") -> Reply:
    response = flask_app.test_client().post(
        f"{PATH}?fnId={APP_ID}-{fn_id}&stepId={step_id}", json=body
    )
    raw = response.get_data()
    return Reply(response.status_code, json.loads(raw), CIMultiDict(response.headers), raw)


def comparable(op: dict[str, Any]) -> dict[str, Any]:
    """The fields both SDKs must agree on; see the module docstring for the rest."""
    kept = {key: op.get(key) for key in ("op", "id", "displayName", "userland")}
    if op["op"] not in ("Sleep", "WaitForEvent"):  # compared by the test, which knows why
        kept["name"] = op["name"]
    if op["op"] == "WaitForEvent":
        kept["opts"] = {k: v for k, v in op["opts"].items() if k in ("if", "timeout")}
    elif op["op"] != "Sleep":
        kept["opts"] = op["opts"]
    if op["op"] == "StepRun":
        kept["data"] = op["data"]
    if "error" in op:
        error = op["error"]
        kept["error"] = (
            error["name"],
            error["message"],
            sorted(error),
            "Traceback" in error["stack"],
        )
    return kept


async def both(
    client: Any, fn_id: str, body: dict[str, Any], step_id: str = "step"
) -> tuple[Reply, Reply]:
    ours = await post_call(client, fn_id, body, step_id=step_id)
    theirs = call_official(fn_id, body, step_id)
    assert ours.status == theirs.status, (ours.body, theirs.body)
    return ours, theirs


async def test_a_whole_run_matches_op_for_op(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Journey, Failing])
    memo: dict[str, Any] = {}
    kinds = []
    for _ in range(10):
        ours, theirs = await both(
            client, "journey", call_body(steps=memo, trigger=event("app/journey"))
        )
        if ours.status == 200:
            assert ours.body == theirs.body == {"m": 1, "wait": None, "finish": None}
            break
        [op], [their_op] = ours.body, theirs.body
        assert comparable(op) == comparable(their_op)
        kinds.append(op["op"])
        if op["op"] == "Sleep" and op["displayName"] == "launch":
            assert op["name"] == their_op["name"] == "2031-05-06T07:08:09.000Z"
        elif op["op"] == "Sleep":
            # Ours reports the duration; theirs the instant it computed from it.
            assert (op["name"], op["opts"]) == ("1h", {"duration": "1h"})
            assert their_op["opts"] is None
        if op["op"] == "WaitForEvent":
            assert op["opts"]["event"] == their_op["name"] == "app/resume"
            assert op["name"] == op["displayName"] == their_op["displayName"] == "wait"
        memo[op["id"]] = {"data": op["data"]} if op["op"] == "StepRun" else None
    else:  # pragma: no cover - a failing test says why
        pytest.fail("the run did not finish")
    assert kinds == ["StepRun", "Sleep", "Sleep", "WaitForEvent", "Sleep", "StepRun"]


async def test_planned_and_targeted_steps_match(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Journey])
    body = call_body(trigger=event("app/journey"), disable_immediate_execution=True)
    ours, theirs = await both(client, "journey", body)
    assert comparable(ours.body[0]) == comparable(theirs.body[0])
    assert ours.body[0]["op"] == "StepPlanned"
    ours, theirs = await both(client, "journey", body, step_id=ours.body[0]["id"])
    assert comparable(ours.body[0]) == comparable(theirs.body[0])
    assert ours.body[0]["op"] == "StepRun"


@pytest.mark.parametrize(("attempt", "op"), [(0, "StepError"), (2, "StepFailed")])
async def test_step_errors_match(aiohttp_client: AiohttpClient, attempt: int, op: str) -> None:
    client = await make_client(aiohttp_client, [Failing])
    body = call_body(trigger=event("app/failing", mode="boom"), attempt=attempt, max_attempts=3)
    ours, theirs = await both(client, "failing", body)
    assert comparable(ours.body[0]) == comparable(theirs.body[0])
    assert ours.body[0]["op"] == op
    assert ours.body[0]["error"]["code"] == theirs.body[0]["error"]["code"]


async def test_memoised_failure_matches(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Failing])
    ours, _ = await both(
        client, "failing", call_body(trigger=event("app/failing", mode="boom"), attempt=2)
    )
    failure = ours.body[0]
    memo = {failure["id"]: {"error": failure["error"]}}
    ours, theirs = await both(
        client, "failing", call_body(steps=memo, trigger=event("app/failing", mode="boom"))
    )
    assert ours.status == 500
    assert ours.headers["X-Inngest-No-Retry"] == theirs.headers["X-Inngest-No-Retry"] == "true"
    assert ours.body["code"] == theirs.body["code"] == "step_errored"
    assert (ours.body["name"], ours.body["message"]) == (
        theirs.body["name"],
        theirs.body["message"],
    )


async def test_non_retriable_error_matches(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Failing])
    body = call_body(trigger=event("app/failing", mode="never"))
    ours, theirs = await both(client, "failing", body)
    assert ours.status == 500
    assert ours.headers["X-Inngest-No-Retry"] == theirs.headers["X-Inngest-No-Retry"] == "true"
    assert ours.body["code"] == theirs.body["code"] == "non_retriable_error"
    assert ours.body["message"] == theirs.body["message"] == "account closed"


@pytest.mark.parametrize(("ours", "theirs"), [(Journey, journey), (Failing, failing)])
def test_registration_matches(ours: type, theirs: Any) -> None:
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    expected = strip(theirs.get_config(URL).main.to_dict())
    assert to_json(function_config(spec_of(ours), APP_ID, URL)) == expected
