"""POST calls over HTTP: each opcode, each memo shape, retries, targeting and failures."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import threading
from collections import Counter
from typing import Any

import pytest

from inngest_dsl import (
    Context,
    Event,
    InngestFunction,
    NonRetriableError,
    RetryAfterError,
    run,
    sleep,
    sleep_until,
    step,
    wait_for_event,
)
from inngest_dsl._version import __version__

from .conftest import PATH, AiohttpClient, Raw, call_body, event, make_client, post_call

calls: Counter[str] = Counter()
threads: dict[str, int] = {}


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


@pytest.fixture(autouse=True)
def reset() -> None:
    calls.clear()
    threads.clear()


class Welcome(InngestFunction, id="welcome", event="auth/signup", retries=2):
    @step("send welcome")
    async def send(self, ctx: Context) -> dict[str, Any]:
        calls["send welcome"] += 1
        threads["send welcome"] = threading.get_ident()
        return {"message_id": "M1", "seen": dict(ctx.data)}

    sleep("1h30m")
    sleep_until("launch", at="2031-05-06T07:08:09Z")
    confirmed = wait_for_event("auth/confirmed", timeout="1d", match="data.user_id")
    sleep("1h30m")  # the same automatic id again: hashed "<id>:1"

    @step("nudge")
    def nudge(self, ctx: Context) -> Any:
        calls["nudge"] += 1
        threads["nudge"] = threading.get_ident()
        found = ctx[self.confirmed]
        return None if found is None else {"confirmed_by": found.data["user_id"]}


WELCOME = sha1("send welcome")
SLEEP = sha1("sleep 1h30m")
LAUNCH = sha1("launch")
WAIT = sha1("auth/confirmed")
SLEEP_AGAIN = sha1("sleep 1h30m:1")
NUDGE = sha1("nudge")


async def test_step_runs_inline_and_reports_step_run(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Welcome])
    reply = await post_call(client, "welcome", call_body())
    assert reply.status == 206
    assert reply.body == [
        {
            "id": "8a2bb06f7a88972d70a6f7034180343d167505ae",  # vectors.json "send welcome"
            "op": "StepRun",
            "name": "send welcome",
            "displayName": "send welcome",
            "opts": None,
            "userland": {"id": "send welcome", "index": None},
            "data": {"message_id": "M1", "seen": {}},
        }
    ]
    assert reply.body[0]["id"] == WELCOME
    assert calls["send welcome"] == 1


async def test_sdk_headers_on_call_responses(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Welcome])
    reply = await post_call(client, "welcome", call_body())
    assert reply.headers["X-Inngest-SDK"] == f"inngest-dsl:v{__version__}"
    assert reply.headers["X-Inngest-Req-Version"] == "2"
    assert reply.headers["X-Inngest-Framework"] == "aiohttp"
    assert reply.headers["Content-Type"].startswith("application/json")


async def test_sleep_reports_duration(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Welcome])
    reply = await post_call(client, "welcome", call_body(steps={WELCOME: {"data": {"a": 1}}}))
    assert reply.status == 206
    [op] = reply.body
    assert (op["op"], op["id"], op["name"], op["opts"]) == (
        "Sleep",
        SLEEP,
        "1h30m",
        {"duration": "1h30m"},
    )
    assert op["displayName"] == "sleep 1h30m"
    assert calls["send welcome"] == 0  # memoised: never runs again


async def test_sleep_until_reports_instant(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Welcome])
    memo = {WELCOME: {"data": None}, SLEEP: None}
    reply = await post_call(client, "welcome", call_body(steps=memo))
    [op] = reply.body
    assert (op["op"], op["id"], op["name"], op["opts"]) == (
        "Sleep",
        LAUNCH,
        "2031-05-06T07:08:09.000Z",
        {"duration": "2031-05-06T07:08:09.000Z"},
    )


async def test_wait_for_event_reports_event_timeout_and_if(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Welcome])
    memo = {WELCOME: {"data": None}, SLEEP: None, LAUNCH: None}
    reply = await post_call(client, "welcome", call_body(steps=memo))
    [op] = reply.body
    assert (op["op"], op["id"], op["name"], op["displayName"]) == (
        "WaitForEvent",
        WAIT,
        "auth/confirmed",
        "auth/confirmed",
    )
    assert op["opts"] == {
        "event": "auth/confirmed",
        "timeout": "1d",
        "if": "event.data.user_id == async.data.user_id",
    }


async def test_repeated_id_hashes_with_counter(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Welcome])
    memo = {WELCOME: {"data": None}, SLEEP: None, LAUNCH: None, WAIT: None}
    reply = await post_call(client, "welcome", call_body(steps=memo))
    [op] = reply.body
    assert (op["id"], op["userland"]) == (SLEEP_AGAIN, {"id": "sleep 1h30m", "index": 1})


@pytest.mark.parametrize(
    ("wait_memo", "expected"),
    [
        (event("auth/confirmed", user_id="u1"), {"confirmed_by": "u1"}),
        ({"data": event("auth/confirmed", user_id="u2")}, {"confirmed_by": "u2"}),
        (None, None),
    ],
    ids=["bare-event", "wrapped-event", "timed-out"],
)
async def test_wait_memo_shapes_reach_the_next_step(
    aiohttp_client: AiohttpClient, wait_memo: Any, expected: Any
) -> None:
    client = await make_client(aiohttp_client, [Welcome])
    memo = {WELCOME: {"data": None}, SLEEP: None, LAUNCH: None, WAIT: wait_memo, SLEEP_AGAIN: None}
    reply = await post_call(client, "welcome", call_body(steps=memo))
    assert reply.status == 206
    [op] = reply.body
    assert (op["op"], op["id"], op["data"]) == ("StepRun", NUDGE, expected)


async def test_finished_run_returns_accumulated_data(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Welcome])
    confirmation = event("auth/confirmed", user_id="u1")
    memo = {
        WELCOME: {"data": {"message_id": "M1"}},
        SLEEP: None,
        LAUNCH: None,
        WAIT: confirmation,
        SLEEP_AGAIN: None,
        NUDGE: {"data": {"confirmed_by": "u1"}},
    }
    reply = await post_call(client, "welcome", call_body(steps=memo))
    assert reply.status == 200
    # The wait's event is stored under its id and sent back as its wire dict.
    assert reply.body == {
        "message_id": "M1",
        "auth/confirmed": confirmation,
        "confirmed_by": "u1",
    }
    assert calls == {}


async def test_memoised_step_failure_fails_without_retry(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Welcome])
    error = {"name": "ValueError", "message": "mailer down", "stack": "Traceback ..."}
    reply = await post_call(client, "welcome", call_body(steps={WELCOME: {"error": error}}))
    assert reply.status == 500
    assert reply.headers["X-Inngest-No-Retry"] == "true"
    assert reply.body["code"] == "step_errored"
    assert (reply.body["name"], reply.body["message"]) == ("ValueError", "mailer down")
    assert calls == {}


# -- errors and retries --------------------------------------------------------------------


class Flaky(InngestFunction, id="flaky", event="app/flaky"):
    @step("call api")
    async def call_api(self, ctx: Context) -> None:
        calls["call api"] += 1
        mode = ctx.event.data["mode"]
        if mode == "boom":
            raise ConnectionError("api unreachable")
        if mode == "never":
            raise NonRetriableError("account closed")
        if mode == "later":
            raise RetryAfterError("rate limited", dt.timedelta(seconds=42))
        if mode == "at":
            raise RetryAfterError("closed", dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc))
        if mode == "bad":
            return object()  # type: ignore[return-value]


class BrokenRun(InngestFunction, id="broken-run", event="app/broken"):
    @run("load")
    def load(self, ctx: Context) -> Any:
        mode = ctx.event.data["mode"]
        if mode == "boom":
            raise KeyError("settings")
        if mode == "never":
            raise NonRetriableError("no settings")
        return {1, 2}  # a set: not JSON

    @step("after")
    def after(self, ctx: Context) -> None:
        calls["after"] += 1


@pytest.mark.parametrize(("attempt", "op"), [(0, "StepError"), (1, "StepError"), (2, "StepFailed")])
async def test_step_error_then_step_failed_by_attempt(
    aiohttp_client: AiohttpClient, attempt: int, op: str
) -> None:
    client = await make_client(aiohttp_client, [Flaky])
    body = call_body(trigger=event("app/flaky", mode="boom"), attempt=attempt, max_attempts=3)
    reply = await post_call(client, "flaky", body)
    assert reply.status == 206
    [reported] = reply.body
    assert reported["op"] == op
    assert reported["id"] == sha1("call api")
    assert reported["error"]["name"] == "ConnectionError"
    assert reported["error"]["message"] == "api unreachable"
    assert "Traceback" in reported["error"]["stack"]


async def test_max_attempts_defaults_from_the_function(aiohttp_client: AiohttpClient) -> None:
    """Without ctx.max_attempts, the function's retries (default 4) decide the last attempt."""
    client = await make_client(aiohttp_client, [Flaky])
    trigger = event("app/flaky", mode="boom")
    early = await post_call(
        client, "flaky", call_body(trigger=trigger, attempt=3, max_attempts=None)
    )
    last = await post_call(
        client, "flaky", call_body(trigger=trigger, attempt=4, max_attempts=None)
    )
    assert (early.body[0]["op"], last.body[0]["op"]) == ("StepError", "StepFailed")


async def test_non_retriable_error_fails_now(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Flaky, BrokenRun])
    for fn_id, trigger in (("flaky", "app/flaky"), ("broken-run", "app/broken")):
        reply = await post_call(client, fn_id, call_body(trigger=event(trigger, mode="never")))
        assert reply.status == 500
        assert reply.headers["X-Inngest-No-Retry"] == "true"
        assert reply.body["code"] == "non_retriable_error"
        assert reply.body["name"] == "NonRetriableError"
        # A step that raised is named, so that a server can record it as failed; a `run`
        # block is not a step.
        if fn_id == "flaky":
            named = json.loads(reply.headers["X-Inngest-Failed-Step"])
            assert named["name"] == "call api"
            assert len(named["id"]) == 40  # the hashed step id
        else:
            assert "X-Inngest-Failed-Step" not in reply.headers


@pytest.mark.parametrize(("mode", "header"), [("later", "42"), ("at", "2030-01-01T00:00:00.000Z")])
async def test_retry_after_error_sets_header(
    aiohttp_client: AiohttpClient, mode: str, header: str
) -> None:
    client = await make_client(aiohttp_client, [Flaky])
    reply = await post_call(client, "flaky", call_body(trigger=event("app/flaky", mode=mode)))
    assert reply.status == 500
    assert reply.headers["Retry-After"] == header
    assert reply.headers["X-Inngest-No-Retry"] == "false"
    assert reply.body["code"] == "retry_after_error"


async def test_run_block_raising_fails_the_request_retriably(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await make_client(aiohttp_client, [BrokenRun])
    reply = await post_call(
        client, "broken-run", call_body(trigger=event("app/broken", mode="boom"))
    )
    assert reply.status == 500
    assert reply.headers["X-Inngest-No-Retry"] == "false"
    assert (reply.body["name"], reply.body["message"]) == ("KeyError", "'settings'")
    assert calls["after"] == 0


@pytest.mark.parametrize(
    ("fn_id", "trigger", "block"),
    [("flaky", "app/flaky", "step 'call api'"), ("broken-run", "app/broken", "run 'load'")],
)
async def test_unserialisable_result_names_the_block(
    aiohttp_client: AiohttpClient, fn_id: str, trigger: str, block: str
) -> None:
    client = await make_client(aiohttp_client, [Flaky, BrokenRun])
    reply = await post_call(client, fn_id, call_body(trigger=event(trigger, mode="bad")))
    assert reply.status == 500
    assert reply.headers["X-Inngest-No-Retry"] == "true"
    assert reply.body["code"] == "output_unserializable"
    assert block in reply.body["message"]
    assert "not JSON-serialisable" in reply.body["message"]


# -- planning and targeting ----------------------------------------------------------------


async def test_disabled_immediate_execution_plans_then_targets(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await make_client(aiohttp_client, [Welcome])
    planned = await post_call(client, "welcome", call_body(disable_immediate_execution=True))
    assert planned.status == 206
    [op] = planned.body
    assert (op["op"], op["id"], op["displayName"]) == ("StepPlanned", WELCOME, "send welcome")
    assert op["data"] is None
    assert calls["send welcome"] == 0

    ran = await post_call(
        client, "welcome", call_body(disable_immediate_execution=True), step_id=WELCOME
    )
    assert ran.status == 206
    assert ran.body[0]["op"] == "StepRun"
    assert ran.body[0]["id"] == WELCOME
    assert calls["send welcome"] == 1


async def test_unknown_target_is_a_clear_error(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Welcome])
    reply = await post_call(client, "welcome", call_body(), step_id="f" * 40)
    assert reply.status == 500
    assert reply.body["code"] == "step_not_found"
    assert "f" * 40 in reply.body["message"]
    assert reply.headers["X-Inngest-No-Retry"] == "true"


async def test_target_ahead_of_the_memo_is_refused(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Welcome])
    reply = await post_call(client, "welcome", call_body(), step_id=NUDGE)
    assert reply.status == 500
    assert reply.body["code"] == "step_unexpected"
    assert calls == {}


# -- bodies and the event loop -------------------------------------------------------------


class Blocking(InngestFunction, id="blocking", event="app/block"):
    @run("wait a bit")
    def block(self, ctx: Context) -> None:
        threads["run"] = threading.get_ident()
        threading.Event().wait(0.2)  # blocks its thread, not the event loop

    @step("async step")
    async def work(self, ctx: Context) -> str:
        threads["async step"] = threading.get_ident()
        return "done"


async def test_sync_bodies_run_off_the_event_loop(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Blocking])
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        reply = await post_call(client, "blocking", call_body(trigger=event("app/block")))
    finally:
        task.cancel()
    assert reply.body[0]["data"] == "done"
    loop_thread = threading.get_ident()
    assert threads["run"] != loop_thread
    assert threads["async step"] == loop_thread
    assert ticks >= 5  # the loop kept running while the sync body slept


async def test_event_reaches_bodies_as_an_event(aiohttp_client: AiohttpClient) -> None:
    seen: list[Any] = []

    class Peek(InngestFunction, id="peek", event="app/peek"):
        @step("look")
        def look(self, ctx: Context) -> None:
            seen.extend([ctx.event, ctx.events, ctx.run_id, ctx.attempt, ctx.function_id])

    client = await make_client(aiohttp_client, [Peek])
    await post_call(client, "peek", call_body(trigger=event("app/peek", n=1), attempt=1))
    trigger, events, run_id, attempt, function_id = seen
    assert isinstance(trigger, Event)
    assert (trigger.name, dict(trigger.data), trigger.id) == ("app/peek", {"n": 1}, "01EVENT")
    assert events == (trigger,)
    assert (run_id, attempt, function_id) == ("01RUN", 1, "shop-peek")


# -- requests captured from the real executor ----------------------------------------------


async def test_captured_executor_requests(aiohttp_client: AiohttpClient) -> None:
    """Bodies the Inngest executor really sent, replayed against an equivalent function."""
    from pathlib import Path

    from aiohttp import web

    from inngest_dsl.aiohttp import serve
    from inngest_dsl.client import Inngest

    app = web.Application()
    serve(app, Inngest("peer-raw-app", is_dev=True), [Raw])
    client = await aiohttp_client(app)
    captured = Path(__file__).parent.parent / "data" / "executor-requests.jsonl"
    replies = []
    for line in captured.read_text().splitlines():
        request = json.loads(line)
        response = await client.post(
            PATH, params=request["query"], data=json.dumps(request["body"]).encode()
        )
        replies.append((response.status, await response.json()))
    assert [(status, body[0]["op"], body[0]["id"]) for status, body in replies] == [
        (206, "StepRun", sha1("a")),
        (206, "Sleep", sha1("nap")),
        (206, "StepRun", sha1("b")),
    ]
    assert replies[0][1][0]["data"] == 1
    assert replies[2][1][0]["data"] == {"a": 1}
