"""Sync (out-of-band through a fake Inngest API, and in-band) and `use_api` payload fetches."""

from __future__ import annotations

import json
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from inngest_dsl import Context, InngestFunction, step
from inngest_dsl.aiohttp import SERVED
from inngest_dsl.wire._json import to_json
from inngest_dsl.wire._registration import function_config
from inngest_dsl.wire._signing import bearer_token, canonical_json, sign, verify

from .conftest import (
    APP_ID,
    KEY,
    OTHER_KEY,
    PATH,
    AiohttpClient,
    call_body,
    event,
    make_client,
    post_call,
)

AiohttpServer = Callable[..., Awaitable[TestServer]]


class Greet(InngestFunction, id="greet", name="Greet people", event="app/greet", retries=1):
    @step("say hello")
    def hello(self, ctx: Context) -> dict[str, str]:
        return {"greeting": "hello"}

    @step("say bye")
    def bye(self, ctx: Context) -> Any:
        return [ctx.data.get("greeting"), ctx.event.data.get("n")]


@attrs.define
class FakeInngest:
    """A loopback stand-in for the Inngest API that records what it was sent."""

    server: TestServer
    received: list[dict[str, Any]]
    replies: dict[str, tuple[int, Any]]

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")


@pytest.fixture
async def fake_inngest(aiohttp_server: AiohttpServer) -> FakeInngest:
    received: list[dict[str, Any]] = []
    replies: dict[str, tuple[int, Any]] = {}

    async def record(request: web.Request) -> web.Response:
        raw = await request.read()
        received.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "headers": dict(request.headers),
                "body": json.loads(raw) if raw else None,
            }
        )
        status, body = replies.get(request.path, (200, {"ok": True, "modified": True}))
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    server = await aiohttp_server(app)
    return FakeInngest(server, received, replies)


# -- out-of-band ---------------------------------------------------------------------------


async def test_out_of_band_sync_registers_with_the_api(
    aiohttp_client: AiohttpClient, fake_inngest: FakeInngest
) -> None:
    client = await make_client(aiohttp_client, [Greet], api_base_url=fake_inngest.url)
    response = await client.put(
        PATH, params={"deployId": "dep-1"}, headers={"X-Inngest-Server-Kind": "dev"}
    )
    assert response.status == 200
    assert await response.json() == {"message": "Successfully synced.", "modified": True}
    assert response.headers["X-Inngest-Sync-Kind"] == "out_of_band"

    [sent] = fake_inngest.received
    assert (sent["method"], sent["path"], sent["query"]) == (
        "POST",
        "/fn/register",
        {"deployId": "dep-1"},
    )
    app_url = str(client.make_url(PATH))
    body = sent["body"]
    assert body["url"] == app_url  # deployId stripped
    assert (body["appName"], body["deployType"], body["framework"]) == (APP_ID, "ping", "aiohttp")
    assert body["sdk"].startswith("inngest-dsl:v")
    assert body["functions"] == [to_json(function_config(Greet.__inngest_spec__, APP_ID, app_url))]  # type: ignore[arg-type]
    assert body["functions"][0]["steps"]["step"]["runtime"]["url"] == (
        f"{app_url}?fnId={APP_ID}-greet&stepId=step"
    )
    headers = sent["headers"]
    assert headers["X-Inngest-Expected-Server-Kind"] == "dev"
    assert headers["X-Inngest-Framework"] == "aiohttp"
    assert headers["X-Inngest-SDK"].startswith("inngest-dsl:v")
    assert "Authorization" not in headers


async def test_sync_url_uses_serve_origin_and_path(
    aiohttp_client: AiohttpClient, fake_inngest: FakeInngest
) -> None:
    client = await make_client(
        aiohttp_client,
        [Greet],
        api_base_url=fake_inngest.url,
        serve_origin="shop.example.com",
        serve_path="/inngest",
    )
    response = await client.put(PATH, params={"deployId": "x"})
    assert response.status == 200
    assert fake_inngest.received[0]["body"]["url"] == "https://shop.example.com/inngest"


async def test_cloud_sync_carries_the_bearer_token(
    aiohttp_client: AiohttpClient, fake_inngest: FakeInngest
) -> None:
    client = await make_client(
        aiohttp_client, [Greet], is_dev=False, signing_key=KEY, api_base_url=fake_inngest.url
    )
    body = canonical_json({"url": "http://127.0.0.1/api/inngest"})
    response = await client.put(PATH, data=body, headers={"X-Inngest-Signature": sign(body, KEY)})
    assert response.status == 200
    assert fake_inngest.received[0]["headers"]["Authorization"] == bearer_token(KEY)


async def test_cloud_sync_unsigned_is_refused_unless_the_serve_origin_is_fixed(
    aiohttp_client: AiohttpClient, fake_inngest: FakeInngest
) -> None:
    """Otherwise a stranger's Host header would choose the URL Inngest sends runs to."""
    options = {"is_dev": False, "signing_key": KEY, "api_base_url": fake_inngest.url}
    client = await make_client(aiohttp_client, [Greet], **options)
    response = await client.put(PATH, headers={"Host": "evil.example"})
    assert response.status == 401
    assert "INNGEST_SERVE_ORIGIN" in (await response.json())["error"]
    assert fake_inngest.received == []

    fixed = await make_client(
        aiohttp_client, [Greet], serve_origin="https://shop.example.com", **options
    )
    response = await fixed.put(PATH, headers={"Host": "evil.example"})
    assert response.status == 200
    [registration] = fake_inngest.received
    assert registration["body"]["url"] == "https://shop.example.com/api/inngest"

    # A signature that is present must still verify.
    response = await fixed.put(
        PATH, data=b"{}", headers={"X-Inngest-Signature": sign(b"{}", OTHER_KEY)}
    )
    assert response.status == 401
    assert len(fake_inngest.received) == 1


async def test_sync_url_never_carries_the_request_query(
    aiohttp_client: AiohttpClient, fake_inngest: FakeInngest
) -> None:
    client = await make_client(aiohttp_client, [Greet], api_base_url=fake_inngest.url)
    response = await client.put(f"{PATH}?probe=trust&fnId=shop-other&deployId=d1")
    assert response.status == 200
    [registration] = fake_inngest.received
    assert registration["query"] == {"deployId": "d1"}
    url = registration["body"]["url"]
    assert "?" not in url
    step_url = registration["body"]["functions"][0]["steps"]["step"]["runtime"]["url"]
    assert step_url == f"{url}?fnId=shop-greet&stepId=step"


async def test_refused_sync_is_reported(
    aiohttp_client: AiohttpClient, fake_inngest: FakeInngest
) -> None:
    fake_inngest.replies["/fn/register"] = (400, {"error": "At least one function is invalid"})
    client = await make_client(aiohttp_client, [Greet], api_base_url=fake_inngest.url)
    response = await client.put(PATH)
    body = await response.json()
    assert response.status == 500
    assert body["code"] == "registration_failed"
    assert body["modified"] is False
    assert "HTTP 400" in body["error"]
    assert "At least one function is invalid" in body["message"]


async def test_unreachable_api_is_reported(aiohttp_client: AiohttpClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port once the socket is closed.
    client = await make_client(aiohttp_client, [Greet], api_base_url=f"http://127.0.0.1:{port}")
    response = await client.put(PATH)
    body = await response.json()
    assert response.status == 500
    assert body["code"] == "registration_failed"
    assert f"127.0.0.1:{port}/fn/register" in body["error"]


# -- in-band -------------------------------------------------------------------------------


async def test_in_band_sync_answers_with_the_config(
    aiohttp_client: AiohttpClient, fake_inngest: FakeInngest
) -> None:
    client = await make_client(
        aiohttp_client, [Greet], is_dev=False, signing_key=KEY, api_base_url=fake_inngest.url
    )
    app_url = str(client.make_url(PATH))
    payload = canonical_json({"url": app_url})
    response = await client.put(
        PATH,
        data=payload,
        headers={"X-Inngest-Sync-Kind": "in_band", "X-Inngest-Signature": sign(payload, KEY)},
    )
    raw = await response.read()
    assert response.status == 200
    assert response.headers["X-Inngest-Sync-Kind"] == "in_band"
    assert verify(response.headers["X-Inngest-Signature"], raw, [KEY]) == KEY
    body = json.loads(raw)
    assert body["app_id"] == APP_ID
    assert body["url"] == app_url
    assert body["functions"] == [to_json(function_config(Greet.__inngest_spec__, APP_ID, app_url))]  # type: ignore[arg-type]
    assert body["inspection"]["authentication_succeeded"] is True
    assert (body["framework"], body["sdk_language"]) == ("aiohttp", "py")
    assert fake_inngest.received == []  # nothing sent out-of-band


async def test_unsigned_in_band_sync_is_refused(
    aiohttp_client: AiohttpClient, fake_inngest: FakeInngest
) -> None:
    client = await make_client(
        aiohttp_client, [Greet], is_dev=False, signing_key=KEY, api_base_url=fake_inngest.url
    )
    response = await client.put(PATH, json={"url": "x"}, headers={"X-Inngest-Sync-Kind": "in_band"})
    assert response.status == 401
    assert (await response.json())["code"] == "sig_verification_failed"
    assert fake_inngest.received == []


async def test_in_band_request_in_dev_mode_is_answered_in_band(
    aiohttp_client: AiohttpClient, fake_inngest: FakeInngest
) -> None:
    # As Inngest's conformance suite asks an app on `inngest dev`: unsigned, announcing a dev
    # server. Dev mode checks nothing, so the configuration comes back in the response.
    client = await make_client(aiohttp_client, [Greet], api_base_url=fake_inngest.url)
    app_url = str(client.make_url(PATH))
    response = await client.put(
        PATH,
        json={"url": "http://proxy.invalid/"},
        headers={"X-Inngest-Sync-Kind": "in_band", "X-Inngest-Server-Kind": "dev"},
    )
    assert response.status == 200
    assert response.headers["X-Inngest-Sync-Kind"] == "in_band"
    assert "X-Inngest-Signature" not in response.headers
    body = await response.json()
    assert (body["app_id"], body["url"], body["appVersion"]) == (APP_ID, app_url, None)
    assert body["functions"] == [to_json(function_config(Greet.__inngest_spec__, APP_ID, app_url))]  # type: ignore[arg-type]
    assert body["inspection"]["mode"] == "dev"
    assert fake_inngest.received == []  # nothing sent out-of-band


@pytest.mark.parametrize(("signed_with", "signs"), [(KEY, True), (OTHER_KEY, False)])
async def test_in_band_in_dev_mode_signs_the_answer_when_the_request_verifies(
    aiohttp_client: AiohttpClient, fake_inngest: FakeInngest, signed_with: str, signs: bool
) -> None:
    client = await make_client(
        aiohttp_client, [Greet], signing_key=KEY, api_base_url=fake_inngest.url
    )
    payload = canonical_json({"url": "x"})
    response = await client.put(
        PATH,
        data=payload,
        headers={
            "X-Inngest-Sync-Kind": "in_band",
            "X-Inngest-Signature": sign(payload, signed_with),
        },
    )
    raw = await response.read()
    assert (response.status, response.headers["X-Inngest-Sync-Kind"]) == (200, "in_band")
    if signs:
        assert verify(response.headers["X-Inngest-Signature"], raw, [KEY]) == KEY
    else:  # dev mode refuses nothing; it just does not sign with a key that did not verify
        assert "X-Inngest-Signature" not in response.headers
    assert fake_inngest.received == []


async def test_a_dev_mode_put_without_the_in_band_header_syncs_out_of_band(
    aiohttp_client: AiohttpClient, fake_inngest: FakeInngest
) -> None:
    client = await make_client(aiohttp_client, [Greet], api_base_url=fake_inngest.url)
    response = await client.put(PATH, headers={"X-Inngest-Sync-Kind": "out_of_band"})
    assert (response.status, response.headers["X-Inngest-Sync-Kind"]) == (200, "out_of_band")
    assert len(fake_inngest.received) == 1


# -- app_version ---------------------------------------------------------------------------


async def test_app_version_is_sent_out_of_band(
    aiohttp_client: AiohttpClient, fake_inngest: FakeInngest
) -> None:
    client = await make_client(
        aiohttp_client, [Greet], api_base_url=fake_inngest.url, app_version="2026.12.4-abc123"
    )
    assert (await client.put(PATH)).status == 200
    [sent] = fake_inngest.received
    assert sent["body"]["appVersion"] == "2026.12.4-abc123"


async def test_no_app_version_sends_none_out_of_band(
    aiohttp_client: AiohttpClient, fake_inngest: FakeInngest
) -> None:
    client = await make_client(aiohttp_client, [Greet], api_base_url=fake_inngest.url)
    assert (await client.put(PATH)).status == 200
    [sent] = fake_inngest.received
    assert "appVersion" not in sent["body"]


@pytest.mark.parametrize("is_dev", [True, False])
async def test_app_version_is_sent_in_band(
    aiohttp_client: AiohttpClient, fake_inngest: FakeInngest, is_dev: bool
) -> None:
    client = await make_client(
        aiohttp_client,
        [Greet],
        is_dev=is_dev,
        signing_key=KEY,
        api_base_url=fake_inngest.url,
        app_version="v7",
    )
    payload = canonical_json({"url": "x"})
    response = await client.put(
        PATH,
        data=payload,
        headers={"X-Inngest-Sync-Kind": "in_band", "X-Inngest-Signature": sign(payload, KEY)},
    )
    assert response.status == 200
    assert (await response.json())["appVersion"] == "v7"


# -- use_api -------------------------------------------------------------------------------


async def test_use_api_fetches_events_and_memo(
    aiohttp_client: AiohttpClient, fake_inngest: FakeInngest
) -> None:
    from inngest_dsl.engine._outcomes import hash_step_id

    fake_inngest.replies["/v0/runs/01RUN/batch"] = (200, [event("app/greet", n=7)])
    fake_inngest.replies["/v0/runs/01RUN/actions"] = (
        200,
        {hash_step_id("say hello"): {"data": {"greeting": "hi"}}},
    )
    client = await make_client(
        aiohttp_client, [Greet], is_dev=False, signing_key=KEY, api_base_url=fake_inngest.url
    )
    body = call_body(use_api=True)
    body["events"], body["steps"] = [], {}
    reply = await post_call(client, "greet", body, key=KEY)
    assert reply.status == 206
    assert reply.body[0]["data"] == ["hi", 7]
    paths = [sent["path"] for sent in fake_inngest.received]
    assert paths == ["/v0/runs/01RUN/batch", "/v0/runs/01RUN/actions"]
    assert fake_inngest.received[0]["headers"]["Authorization"] == bearer_token(KEY)


async def test_use_api_failure_is_a_500(
    aiohttp_client: AiohttpClient, fake_inngest: FakeInngest
) -> None:
    fake_inngest.replies["/v0/runs/01RUN/batch"] = (404, {"error": "not found"})
    client = await make_client(aiohttp_client, [Greet], api_base_url=fake_inngest.url)
    reply = await post_call(client, "greet", call_body(use_api=True))
    assert reply.status == 500
    assert reply.body["code"] == "api_fetch_failed"
    assert "v0/runs/01RUN/batch" in reply.body["error"]


def test_serve_records_what_it_mounted() -> None:
    from inngest_dsl.aiohttp import serve
    from inngest_dsl.client import Inngest

    app = web.Application()
    served = serve(app, Inngest(APP_ID, is_dev=True), [Greet], path="/x/inngest")
    assert app[SERVED]["/x/inngest"] is served
    assert list(served.plans) == [f"{APP_ID}-greet"]
