"""Bad requests get a clear JSON error with the right status, never a traceback."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from inngest_dsl import ConfigError, Context, InngestFunction, step
from inngest_dsl.aiohttp import serve
from inngest_dsl.client import Inngest

from .conftest import APP_ID, PATH, AiohttpClient, call_body, make_client, post_call


class Greet(InngestFunction, id="greet", event="app/greet"):
    @step("say hello")
    def hello(self, ctx: Context) -> str:
        return "hello"


def _without(key: str) -> dict[str, Any]:
    body = call_body()
    del body[key]
    return body


def _with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    body = call_body()
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        ([1, 2], 400, "body_invalid", "must be a JSON object"),
        ({**_without("event"), "events": []}, 400, "body_invalid", "no event"),
        (_with(("event",), "nope"), 400, "body_invalid", "event: an event must be a JSON object"),
        (_with(("event", "name"), 5), 400, "body_invalid", "event name"),
        (_with(("events",), {"a": 1}), 400, "body_invalid", "events must be a JSON array"),
        (_with(("steps",), [1]), 400, "body_invalid", "steps must be a JSON object"),
        (_with(("ctx",), "x"), 400, "body_invalid", "ctx must be a JSON object"),
        (_with(("ctx", "attempt"), "two"), 400, "body_invalid", "ctx.attempt"),
        (_with(("ctx", "max_attempts"), 1.5), 400, "body_invalid", "ctx.max_attempts"),
    ],
    ids=[
        "not-object",
        "no-event",
        "event-not-object",
        "event-name",
        "events-not-list",
        "steps-not-object",
        "ctx-not-object",
        "attempt",
        "max-attempts",
    ],
)
async def test_malformed_call_bodies(
    aiohttp_client: AiohttpClient, body: Any, status: int, code: str, words: str
) -> None:
    client = await make_client(aiohttp_client, [Greet])
    reply = await post_call(client, "greet", body)
    assert reply.status == status
    assert reply.body["code"] == code
    assert words in reply.body["error"]
    assert reply.headers["X-Inngest-SDK"].startswith("inngest-dsl:v")


async def test_event_from_events_when_event_missing(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Greet])
    reply = await post_call(client, "greet", _without("event"))
    assert reply.status == 206


async def test_invalid_json(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Greet])
    response = await client.post(PATH, params={"fnId": f"{APP_ID}-greet"}, data=b"{not json")
    body = await response.json()
    assert response.status == 400
    assert body["code"] == "body_invalid"
    assert body["error"].startswith("request body is not valid JSON")


async def test_missing_fn_id(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Greet])
    response = await client.post(PATH, json=call_body())
    body = await response.json()
    assert response.status == 400
    assert body == {
        "error": "missing query parameter fnId (the function to call)",
        "code": "query_param_missing",
    }


async def test_unknown_fn_id(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Greet])
    reply = await post_call(client, "nope", call_body())
    assert reply.status == 500
    assert reply.body["code"] == "function_not_found"
    assert "'shop-nope'" in reply.body["error"]
    assert "shop-greet" in reply.body["error"]


def test_cloud_mode_without_signing_key_refuses_to_serve() -> None:
    with pytest.raises(ConfigError, match="no signing key"):
        serve(web.Application(), Inngest(APP_ID, is_dev=False), [Greet])


def test_duplicate_function_ids_refused() -> None:
    class Again(InngestFunction, id="greet", event="app/again"):
        pass

    with pytest.raises(ConfigError, match="'shop-greet'"):
        serve(web.Application(), Inngest(APP_ID, is_dev=True), [Greet, Again])


def test_path_must_be_absolute() -> None:
    with pytest.raises(ConfigError, match="path must start with '/'"):
        serve(web.Application(), Inngest(APP_ID, is_dev=True), [Greet], path="api/inngest")


def test_serving_something_that_is_not_a_function() -> None:
    with pytest.raises(TypeError, match="not a concrete InngestFunction"):
        serve(web.Application(), Inngest(APP_ID, is_dev=True), [dict])
