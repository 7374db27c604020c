"""`@on_failure` through the real serve handler: registered as `<id>-failure`, called by it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from inngest_dsl import (
    ConfigError,
    Context,
    Failure,
    Inngest,
    InngestFunction,
    StepError,
    on_failure,
    step,
)
from inngest_dsl.aiohttp import serve
from inngest_dsl.wire._signing import canonical_json, sign

from .conftest import APP_ID, KEY, PATH, AiohttpClient, call_body, event, make_client, post_call

seen: list[tuple[Any, Context, Failure]] = []


@pytest.fixture(autouse=True)
def reset() -> None:
    seen.clear()


class Charge(InngestFunction, id="charge", name="Charge card", event="shop/charge", retries=2):
    @step("charge")
    def charge(self, ctx: Context) -> None:
        raise RuntimeError("card declined")

    @on_failure
    async def alert(self, ctx: Context, failure: Failure) -> dict[str, str]:
        seen.append((self, ctx, failure))
        ctx.logger.error("%s failed: %s", failure.event.name, failure.error)
        return {"alerted": failure.run_id}


class Refund(InngestFunction, id="refund", event="shop/refund"):
    @on_failure
    def report(self, ctx: Context, failure: Failure) -> None:
        seen.append((self, ctx, failure))
        raise failure.error  # re-raising the failed run's error fails the handler too


class Plain(InngestFunction, id="plain", event="shop/plain"):
    pass


def failed_event(function_id: str = f"{APP_ID}-charge", **data: Any) -> dict[str, Any]:
    """An `inngest/function.failed` event as the executor emits it (PROTOCOL §8.6)."""
    payload: dict[str, Any] = {
        "function_id": function_id,
        "run_id": "01FAILEDRUN",
        "event": event("shop/charge", order_id="o-1"),
        "events": [event("shop/charge", order_id="o-1")],
        "error": {
            "name": "RuntimeError",
            "message": "card declined",
            "stack": "Traceback (most recent call last): ...",
        },
        "_inngest": {"status": "Failed"},
    }
    payload.update(data)
    return {"name": "inngest/function.failed", "data": payload, "id": "01FAILEDRUN", "ts": 1}


async def test_companion_is_registered_as_the_official_sdk_does(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await make_client(aiohttp_client, [Charge, Plain], is_dev=False, signing_key=KEY)
    app_url = str(client.make_url(PATH))
    payload = canonical_json({"url": app_url})
    response = await client.put(
        PATH,
        data=payload,
        headers={"X-Inngest-Sync-Kind": "in_band", "X-Inngest-Signature": sign(payload, KEY)},
    )
    assert response.status == 200
    body = json.loads(await response.read())
    ids = [config["id"] for config in body["functions"]]
    assert ids == [f"{APP_ID}-charge", f"{APP_ID}-charge-failure", f"{APP_ID}-plain"]
    assert body["functions"][1] == {
        "id": f"{APP_ID}-charge-failure",
        "name": "Charge card (failure)",
        "triggers": [
            {
                "event": "inngest/function.failed",
                "expression": f"event.data.function_id == '{APP_ID}-charge'",
            }
        ],
        "steps": {
            "step": {
                "id": "step",
                "name": "step",
                "runtime": {
                    "type": "http",
                    "url": f"{app_url}?fnId={APP_ID}-charge-failure&stepId=step",
                },
                "retries": {"attempts": 0},
            }
        },
    }
    # As the official SDK counts: functions, not their failure handlers.
    assert body["inspection"]["function_count"] == 2


async def test_failure_handler_gets_the_failed_run(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Charge])
    reply = await post_call(client, "charge-failure", call_body(trigger=failed_event()))
    assert (reply.status, reply.body) == (200, {"alerted": "01FAILEDRUN"})
    [(instance, ctx, failure)] = seen
    assert isinstance(instance, Charge)
    assert ctx.event.name == "inngest/function.failed"
    assert ctx.function_id == f"{APP_ID}-charge-failure"
    assert failure.event.name == "shop/charge"
    assert failure.event.data == {"order_id": "o-1"}
    assert [e.name for e in failure.events] == ["shop/charge"]
    assert (failure.run_id, failure.function_id) == ("01FAILEDRUN", f"{APP_ID}-charge")
    assert isinstance(failure.error, StepError)
    assert (failure.error.name, failure.error.message) == ("RuntimeError", "card declined")
    assert failure.error.stack == "Traceback (most recent call last): ..."
    assert str(failure.error) == "RuntimeError: card declined"


async def test_signed_call_in_cloud_mode(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Charge], is_dev=False, signing_key=KEY)
    reply = await post_call(client, "charge-failure", call_body(trigger=failed_event()), key=KEY)
    assert reply.status == 200
    assert len(seen) == 1


async def test_the_main_function_is_still_served(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Charge])
    reply = await post_call(client, "charge", call_body(trigger=event("shop/charge")))
    assert reply.status == 206
    assert reply.body[0]["op"] == "StepError"
    assert seen == []


async def test_sync_handler_reraising_the_error_fails_its_run(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await make_client(aiohttp_client, [Refund])
    trigger = failed_event(f"{APP_ID}-refund", error={"name": "KeyError", "message": "'sku'"})
    reply = await post_call(client, "refund-failure", call_body(trigger=trigger))
    assert reply.status == 500
    # A re-raised StepError reports the original error, as a memoised step failure does.
    assert reply.body["name"] == "KeyError"
    assert reply.body["message"] == "'sku'"
    assert reply.headers["X-Inngest-No-Retry"] == "true"
    assert len(seen) == 1
    assert seen[0][2].error.stack is None


async def test_batch_events_reach_the_handler(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Charge])
    batch = [event("shop/charge", n=1), event("shop/charge", n=2)]
    trigger = failed_event(event=batch[0], events=batch)
    reply = await post_call(client, "charge-failure", call_body(trigger=trigger))
    assert reply.status == 200
    assert [dict(e.data) for e in seen[0][2].events] == [{"n": 1}, {"n": 2}]


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        (
            {"name": "inngest/function.failed", "data": {"function_id": "shop-charge"}},
            "the 'inngest/function.failed' event has no data.error object (got None)",
        ),
        (
            failed_event(error="boom"),
            "the 'inngest/function.failed' event has no data.error object (got 'boom')",
        ),
        (
            failed_event(event=None),
            "the 'inngest/function.failed' event: data.event / data.events: an event must be "
            "a JSON object, got NoneType",
        ),
        (
            failed_event(events=[{"data": {}}]),
            "the 'inngest/function.failed' event: data.event / data.events: event name must be "
            "a non-empty string, got None",
        ),
        (
            event("shop/charge"),
            "the 'shop/charge' event has no data.error object (got None)",
        ),
    ],
    ids=["no-error", "error-not-object", "no-event", "bad-batch", "not-a-failure-event"],
)
async def test_bad_failure_event_is_a_clear_error(
    aiohttp_client: AiohttpClient, trigger: dict[str, Any], message: str
) -> None:
    client = await make_client(aiohttp_client, [Charge])
    reply = await post_call(client, "charge-failure", call_body(trigger=trigger))
    assert reply.status == 400
    assert reply.body["code"] == "failure_event_invalid"
    assert reply.body["error"].startswith(message)
    assert reply.headers["X-Inngest-No-Retry"] == "true"
    assert b"Traceback" not in reply.raw
    assert seen == []


async def test_unknown_failure_id_is_not_served(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Plain])
    reply = await post_call(client, "plain-failure", call_body(trigger=failed_event()))
    assert reply.status == 500
    assert reply.body["code"] == "function_not_found"


def test_companion_id_clash_is_a_config_error() -> None:
    class ChargeFailure(InngestFunction, id="charge-failure", event="shop/other"):
        pass

    with pytest.raises(ConfigError, match="two served functions have the id 'shop-charge-failure'"):
        serve(web.Application(), Inngest(APP_ID, is_dev=True), [Charge, ChargeFailure])
