"""Helpers for driving the serve handler over real HTTP, as the Inngest executor would."""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from multidict import CIMultiDict

from inngest_dsl import Context, InngestFunction, sleep, step
from inngest_dsl.aiohttp import serve
from inngest_dsl.client import Inngest
from inngest_dsl.wire._signing import canonical_json, sign

APP_ID = "shop"
PATH = "/api/inngest"
KEY = "signkey-test-12345678"
FALLBACK_KEY = "signkey-test-abcdef01"
OTHER_KEY = "signkey-test-99999999"

AiohttpClient = Callable[..., Awaitable[TestClient[Any, Any]]]


class Raw(InngestFunction, id="raw-fn", event="test/raw"):
    """The function the Inngest executor's captured requests were sent to (as `peer-raw-app`)."""

    @step("a")
    def a(self, ctx: Context) -> int:
        return ctx.event.data["n"] - 40

    sleep("1m", id="nap")

    @step("b")
    def b(self, ctx: Context) -> Any:
        return ctx.data


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the INNGEST_* variables they set themselves."""
    for name in list(os.environ):
        if name.startswith("INNGEST_"):
            monkeypatch.delenv(name)


def event(name: str = "shop/order", **data: Any) -> dict[str, Any]:
    return {"name": name, "data": data, "user": {}, "id": "01EVENT", "ts": 1_700_000_000_000}


def call_body(
    *,
    steps: dict[str, Any] | None = None,
    trigger: dict[str, Any] | None = None,
    attempt: int = 0,
    max_attempts: int | None = 3,
    disable_immediate_execution: bool = False,
    use_api: bool = False,
) -> dict[str, Any]:
    """A call request body shaped like the executor's (PROTOCOL §6.1)."""
    first = trigger if trigger is not None else event()
    memo = steps or {}
    ctx: dict[str, Any] = {
        "attempt": attempt,
        "disable_immediate_execution": disable_immediate_execution,
        "env": "",
        "fn_id": "00000000-0000-4000-a000-000000000000",
        "run_id": "01RUN",
        "stack": {"current": len(memo), "stack": list(memo)},
        "step_id": "step",
        "use_api": use_api,
    }
    if max_attempts is not None:
        ctx["max_attempts"] = max_attempts
    return {
        "ctx": ctx,
        "event": first,
        "events": [first],
        "steps": memo,
        "use_api": use_api,
        "version": 2,
    }


async def make_client(
    aiohttp_client: AiohttpClient, functions: Iterable[type], **client_options: Any
) -> TestClient[Any, Any]:
    options = {"is_dev": True, **client_options}
    app = web.Application()
    serve(app, Inngest(APP_ID, **options), list(functions))
    return await aiohttp_client(app)


@attrs.define
class Reply:
    status: int
    body: Any
    headers: Mapping[str, str]
    raw: bytes


async def post_call(
    client: TestClient[Any, Any],
    fn_id: str,
    body: Any,
    *,
    step_id: str = "step",
    key: str | None = None,
    ts: int | None = None,
) -> Reply:
    """POST a call as the executor does: JCS bytes, signed when `key` is given."""
    payload = canonical_json(body)
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["X-Inngest-Signature"] = sign(payload, key, ts)
    response = await client.post(
        PATH,
        params={"fnId": f"{APP_ID}-{fn_id}", "stepId": step_id},
        data=payload,
        headers=headers,
    )
    raw = await response.read()
    return Reply(response.status, json.loads(raw), CIMultiDict(response.headers), raw)


@attrs.define
class Executor:
    """A small model of the executor (PROTOCOL §8) that feeds each reply back as memo."""

    client: TestClient[Any, Any]
    fn_id: str
    max_attempts: int = 3
    trigger: dict[str, Any] | None = None
    always_plan: bool = False
    wait_results: dict[str, Any] = attrs.field(factory=dict)
    steps: dict[str, Any] = attrs.field(factory=dict)
    replies: list[Reply] = attrs.field(factory=list)
    calls: int = 0

    async def run(self, limit: int = 50) -> Reply:
        """Drive the run to its end (200, or a final failure) within `limit` calls."""
        step_id, attempt = "step", 0
        for _ in range(limit):
            self.calls += 1
            reply = await post_call(
                self.client,
                self.fn_id,
                call_body(
                    steps=dict(self.steps),
                    trigger=self.trigger,
                    attempt=attempt,
                    max_attempts=self.max_attempts,
                    disable_immediate_execution=self.always_plan,
                ),
                step_id=step_id,
            )
            self.replies.append(reply)
            if reply.status == 200:
                return reply
            if reply.status != 206:
                retry = reply.headers.get("X-Inngest-No-Retry") != "true"
                if not retry or attempt + 1 >= self.max_attempts:
                    return reply
                attempt += 1
                continue
            [op] = reply.body
            kind = op["op"]
            if kind == "StepError":
                attempt += 1
                continue
            step_id, attempt = "step", 0
            if kind == "StepRun":
                self.steps[op["id"]] = {"data": op.get("data")}
            elif kind == "StepFailed":
                self.steps[op["id"]] = {"error": op["error"]}
            elif kind == "Sleep":
                self.steps[op["id"]] = None
            elif kind == "WaitForEvent":
                self.steps[op["id"]] = self.wait_results.get(op["opts"]["event"])
            elif kind == "StepPlanned":
                step_id = op["id"]
            else:  # pragma: no cover - a failing test names the op
                raise AssertionError(f"unexpected op {op!r}")
        raise AssertionError(f"run did not finish within {limit} calls")
