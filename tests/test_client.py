"""The Inngest client: configuration precedence, and sending events to a fake event API."""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import os
import threading
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from inngest_dsl._version import __version__
from inngest_dsl.client import Inngest
from inngest_dsl.errors import ConfigError, EventError, SendEventError
from inngest_dsl.spec._event import Event
from inngest_dsl.wire._signing import bearer_token

SDK = f"inngest-dsl:v{__version__}"
KEY_A = "signkey-test-aaaaaaaa"
KEY_B = "signkey-test-bbbbbbbb"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the variables they set themselves."""
    for name in list(os.environ):
        if name.startswith("INNGEST_") or name in (
            "RAILWAY_GIT_BRANCH",
            "RENDER_GIT_BRANCH",
            "VERCEL_GIT_COMMIT_REF",
        ):
            monkeypatch.delenv(name)


# -- configuration -------------------------------------------------------------------------


def test_cloud_mode_defaults() -> None:
    client = Inngest("shop")
    assert not client.is_dev
    assert client.api_base_url == "https://api.inngest.com"
    assert client.event_api_base_url == "https://inn.gs"
    assert (client.event_key, client.signing_key, client.env) == (None, None, None)
    assert (client.serve_origin, client.serve_path) == (None, None)


@pytest.mark.parametrize("value", ["1", "true", "yes", "True"])
def test_inngest_dev_flag_selects_dev_mode(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("INNGEST_DEV", value)
    client = Inngest("shop")
    assert client.is_dev
    assert client.api_base_url == client.event_api_base_url == "http://127.0.0.1:8288"


@pytest.mark.parametrize("value", ["0", "false", "FALSE", ""])
def test_falsy_inngest_dev_means_cloud(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("INNGEST_DEV", value)
    assert not Inngest("shop").is_dev


def test_inngest_dev_url_sets_both_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INNGEST_DEV", "http://localhost:9999/")
    client = Inngest("shop")
    assert client.is_dev
    assert client.api_base_url == client.event_api_base_url == "http://localhost:9999"


def test_inngest_dev_url_ignored_when_constructor_says_cloud(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INNGEST_DEV", "http://localhost:9999")
    client = Inngest("shop", is_dev=False)
    assert not client.is_dev
    assert client.api_base_url == "https://api.inngest.com"


def test_base_url_beats_dev_url_and_specific_beats_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INNGEST_DEV", "http://dev:1")
    monkeypatch.setenv("INNGEST_BASE_URL", "http://base:2")
    client = Inngest("shop")
    assert client.api_base_url == client.event_api_base_url == "http://base:2"
    monkeypatch.setenv("INNGEST_EVENT_API_BASE_URL", "http://events:3")
    client = Inngest("shop")
    assert (client.api_base_url, client.event_api_base_url) == ("http://base:2", "http://events:3")
    monkeypatch.setenv("INNGEST_API_BASE_URL", "http://api:4")
    client = Inngest("shop")
    assert (client.api_base_url, client.event_api_base_url) == ("http://api:4", "http://events:3")


def test_constructor_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "INNGEST_DEV": "1",
        "INNGEST_API_BASE_URL": "http://api:4",
        "INNGEST_EVENT_API_BASE_URL": "http://events:3",
        "INNGEST_EVENT_KEY": "env-event-key",
        "INNGEST_SIGNING_KEY": KEY_A,
        "INNGEST_SIGNING_KEY_FALLBACK": KEY_B,
        "INNGEST_ENV": "env-branch",
        "INNGEST_SERVE_ORIGIN": "http://env-origin",
        "INNGEST_SERVE_PATH": "/env/path",
    }.items():
        monkeypatch.setenv(name, value)
    client = Inngest(
        "shop",
        is_dev=False,
        api_base_url="https://my-api",
        event_api_base_url="https://my-events",
        event_key="arg-event-key",
        signing_key="signkey-prod-11",
        signing_key_fallback="signkey-prod-22",
        env="arg-branch",
        serve_origin="https://arg-origin",
        serve_path="/arg/path",
    )
    assert not client.is_dev
    assert (client.api_base_url, client.event_api_base_url) == (
        "https://my-api",
        "https://my-events",
    )
    assert client.event_key == "arg-event-key"
    assert (client.signing_key, client.signing_key_fallback) == (
        "signkey-prod-11",
        "signkey-prod-22",
    )
    assert client.env == "arg-branch"
    assert (client.serve_origin, client.serve_path) == ("https://arg-origin", "/arg/path")


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INNGEST_EVENT_KEY", "ek")
    monkeypatch.setenv("INNGEST_SIGNING_KEY", KEY_A)
    monkeypatch.setenv("INNGEST_SIGNING_KEY_FALLBACK", KEY_B)
    monkeypatch.setenv("INNGEST_SERVE_ORIGIN", "shop.example.com")
    monkeypatch.setenv("INNGEST_SERVE_PATH", "api/inngest")
    client = Inngest("shop")
    assert (client.event_key, client.signing_key, client.signing_key_fallback) == (
        "ek",
        KEY_A,
        KEY_B,
    )
    assert client.serve_origin == "https://shop.example.com"  # no scheme => https
    assert client.serve_path == "/api/inngest"
    assert client.require_signing_key() == KEY_A


def test_branch_env_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERCEL_GIT_COMMIT_REF", "vercel-branch")
    assert Inngest("shop").env == "vercel-branch"
    monkeypatch.setenv("RENDER_GIT_BRANCH", "render-branch")
    assert Inngest("shop").env == "render-branch"
    monkeypatch.setenv("INNGEST_ENV", "inngest-branch")
    client = Inngest("shop")
    assert client.env == "inngest-branch"
    assert client.headers()["X-Inngest-Env"] == "inngest-branch"


def test_headers_without_env() -> None:
    client = Inngest("shop")
    assert client.sdk_header == SDK
    assert client.headers() == {
        "Content-Type": "application/json",
        "User-Agent": SDK,
        "X-Inngest-SDK": SDK,
    }


def test_signing_key_required_only_in_cloud_mode() -> None:
    with pytest.raises(ConfigError, match="INNGEST_SIGNING_KEY"):
        Inngest("shop").require_signing_key()
    assert Inngest("shop", is_dev=True).require_signing_key() is None


@pytest.mark.parametrize("app_id", ["", "   "])
def test_app_id_is_required(app_id: str) -> None:
    with pytest.raises(ConfigError, match="app_id"):
        Inngest(app_id)


def test_bad_base_url_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INNGEST_EVENT_API_BASE_URL", "inn.gs")
    with pytest.raises(ConfigError, match="event_api_base_url must be an http"):
        Inngest("shop")


def test_bad_send_attempts() -> None:
    with pytest.raises(ConfigError, match="send_attempts"):
        Inngest("shop", send_attempts=0)


def test_app_version_is_an_argument_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # The official SDKs read no variable for it (users pass their own), and neither do we.
    monkeypatch.setenv("INNGEST_APP_VERSION", "from-env")
    assert Inngest("shop").app_version is None
    assert Inngest("shop", app_version=" 1.2.3 ").app_version == "1.2.3"
    assert Inngest("shop", app_version="   ").app_version is None


def test_app_version_must_be_a_string() -> None:
    with pytest.raises(ConfigError, match="app_version must be a string"):
        Inngest("shop", app_version=3)  # type: ignore[arg-type]


# -- a fake event API ----------------------------------------------------------------------


@attrs.define
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any


@attrs.define
class FakeEventAPI:
    """Records every request; answers from `script` (status, body[, headers]) or "drop", then
    200s."""

    requests: list[Recorded] = attrs.field(factory=list)
    script: list[tuple[int, Any] | tuple[int, Any, dict[str, str]] | str] = attrs.field(
        factory=list
    )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(Recorded(request.path, dict(request.headers), body))
        action = self.script.pop(0) if self.script else None
        if action == "drop":
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        if isinstance(action, tuple):
            status, payload = action[0], action[1]
            headers = action[2] if len(action) > 2 else None  # type: ignore[misc]
            if isinstance(payload, str):
                return web.Response(status=status, text=payload, headers=headers)
            if isinstance(payload, bytes):
                return web.Response(status=status, body=payload, headers=headers)
            return web.json_response(payload, status=status, headers=headers)
        ids = [f"id-{len(self.requests)}-{i}" for i in range(len(body))]
        return web.json_response({"ids": ids, "status": 200})


@pytest.fixture
def fake_api() -> FakeEventAPI:
    return FakeEventAPI()


@pytest.fixture
async def server(
    fake_api: FakeEventAPI,
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
) -> TestServer:
    app = web.Application()
    app.router.add_post("/e/{key}", fake_api.handle)
    return await aiohttp_server(app)


@pytest.fixture
async def client(server: TestServer) -> AsyncIterator[Inngest]:
    async with Inngest(
        "shop",
        is_dev=True,
        event_api_base_url=str(server.make_url("")),
        send_attempts=3,
        send_retry_delay=0.001,
    ) as client:
        yield client


# -- sending -------------------------------------------------------------------------------


async def test_send_returns_ids_and_posts_an_array(client: Inngest, fake_api: FakeEventAPI) -> None:
    before = int(time.time() * 1000)
    ids = await client.send(Event("shop/order.placed", {"order": 1}))
    assert ids == ["id-1-0"]
    [request] = fake_api.requests
    assert request.path == "/e/NO_EVENT_KEY_SET"  # dev mode placeholder
    [sent] = request.body
    assert sent["name"] == "shop/order.placed"
    assert sent["data"] == {"order": 1}
    assert sent["user"] == {}
    assert before <= sent["ts"] <= int(time.time() * 1000)
    assert "id" not in sent


async def test_send_many_keeps_order_and_given_fields(
    client: Inngest, fake_api: FakeEventAPI
) -> None:
    ids = await client.send(
        [
            Event("a/one", id="idem-1", ts=1_700_000_000_000),
            {"name": "a/two", "data": {"n": 2}, "v": "1"},
        ]
    )
    assert ids == ["id-1-0", "id-1-1"]
    first, second = fake_api.requests[0].body
    assert first == {
        "name": "a/one",
        "data": {},
        "user": {},
        "id": "idem-1",
        "ts": 1_700_000_000_000,
    }
    assert (second["name"], second["data"], second["v"]) == ("a/two", {"n": 2}, "1")
    assert isinstance(second["ts"], int)


async def test_send_headers(server: TestServer, fake_api: FakeEventAPI) -> None:
    async with Inngest(
        "shop", event_key="secret-key", env="feature-x", event_api_base_url=str(server.make_url(""))
    ) as client:
        await client.send({"name": "a/b"})
    [request] = fake_api.requests
    assert request.path == "/e/secret-key"
    assert request.headers["X-Inngest-SDK"] == SDK
    assert request.headers["User-Agent"] == SDK
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Inngest-Env"] == "feature-x"
    ms, _, entropy = request.headers["X-Inngest-Event-Id-Seed"].partition(",")
    assert abs(int(ms) - time.time() * 1000) < 60_000
    assert len(base64.b64decode(entropy, validate=True)) == 10


async def test_empty_list_sends_nothing(client: Inngest, fake_api: FakeEventAPI) -> None:
    assert await client.send([]) == []
    assert fake_api.requests == []


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ({"name": "inngest/function.failed"}, "reserved"),
        ({"name": ""}, "non-empty"),
        ({"data": {}}, "no name"),
        ({"name": "a", "date": 1}, "unknown event field"),
        ([{"name": "ok"}, {"name": "a", "data": {"s": {1, 2}}}], "contains a set"),
        ({"name": "a", "data": ["not", "a", "mapping"]}, "data must be a JSON object"),
        ("a/b", "cannot send a str"),
        ([3], "cannot send a int"),
    ],
)
async def test_invalid_events_are_refused_before_sending(
    client: Inngest, fake_api: FakeEventAPI, events: Any, message: str
) -> None:
    with pytest.raises(EventError, match=message):
        await client.send(events)
    assert fake_api.requests == []


async def test_retries_server_errors_then_succeeds(client: Inngest, fake_api: FakeEventAPI) -> None:
    fake_api.script = [(500, {"error": "busy"}), (502, "bad gateway")]
    assert await client.send({"name": "a/b"}) == ["id-3-0"]
    assert len(fake_api.requests) == 3
    # One seed and one body per send, so the server can deduplicate retried events.
    assert len({r.headers["X-Inngest-Event-Id-Seed"] for r in fake_api.requests}) == 1
    assert len({json.dumps(r.body) for r in fake_api.requests}) == 1


async def test_retries_dropped_connections(client: Inngest, fake_api: FakeEventAPI) -> None:
    fake_api.script = ["drop"]
    assert await client.send({"name": "a/b"}) == ["id-2-0"]
    assert len(fake_api.requests) == 2


async def test_gives_up_after_bounded_attempts(client: Inngest, fake_api: FakeEventAPI) -> None:
    fake_api.script = [(500, {"error": "database down"})] * 10
    with pytest.raises(SendEventError, match="gave up after 3 attempts: database down") as info:
        await client.send({"name": "a/b"})
    assert info.value.status == 500
    assert len(fake_api.requests) == 3


class Sleeps:
    """Stands in for the client's sleep between attempts: records the delays, waits for none."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def recording_sleeps(client: Inngest) -> Sleeps:
    sleeps = Sleeps()
    client._sleep = sleeps
    return sleeps


async def test_backoff_doubles_between_attempts(server: TestServer, fake_api: FakeEventAPI) -> None:
    fake_api.script = [(500, "")] * 4
    async with Inngest(
        "shop",
        is_dev=True,
        event_api_base_url=str(server.make_url("")),
        send_attempts=4,
        send_retry_delay=0.5,
    ) as client:
        sleeps = recording_sleeps(client)
        with pytest.raises(SendEventError, match="HTTP 500"):
            await client.send({"name": "a/b"})
    assert sleeps.delays == [0.5, 1.0, 2.0]


LATER = {"Date": "Wed, 21 Oct 2026 07:28:00 GMT", "Retry-After": "Wed, 21 Oct 2026 07:28:07 GMT"}


@pytest.mark.parametrize(
    ("status", "headers", "delay"),
    [
        (429, {"Retry-After": "3"}, 3.0),
        (503, {"Retry-After": "12"}, 12.0),
        (429, LATER, 7.0),  # an HTTP date, counted from the response's own Date
        (429, {"Retry-After": "86400"}, 60.0),  # bounded: MAX_RETRY_AFTER
        (429, {}, 0.001),  # no header: the usual backoff
        (429, {"Retry-After": "soon"}, 0.001),  # unreadable: the usual backoff
    ],
)
async def test_too_many_requests_and_unavailable_honour_retry_after(
    client: Inngest,
    fake_api: FakeEventAPI,
    status: int,
    headers: dict[str, str],
    delay: float,
) -> None:
    sleeps = recording_sleeps(client)
    fake_api.script = [(status, {"error": "slow down"}, headers)]
    assert await client.send({"name": "a/b"}) == ["id-2-0"]
    assert sleeps.delays == [delay]
    assert len(fake_api.requests) == 2


async def test_rate_limited_to_the_end_gives_up_after_bounded_attempts(
    client: Inngest, fake_api: FakeEventAPI, caplog: pytest.LogCaptureFixture
) -> None:
    sleeps = recording_sleeps(client)
    fake_api.script = [(429, {"error": "rate limited"}, {"Retry-After": "2"})] * 5
    with pytest.raises(SendEventError, match="gave up after 3 attempts: rate limited") as info:
        await client.send({"name": "a/b"})
    assert info.value.status == 429
    assert sleeps.delays == [2.0, 2.0]
    assert [r.getMessage() for r in caplog.records] == [
        "send attempt 1 of 3 failed: rate limited (HTTP 429); retrying in 2 s",
        "send attempt 2 of 3 failed: rate limited (HTTP 429); retrying in 2 s",
    ]


@pytest.mark.parametrize(
    ("status", "payload", "message"),
    [
        (400, {"ids": [], "status": 400, "error": "event name is too long"}, "too long"),
        (401, {"status": 401, "message": "", "error": "Event key not found"}, "key not found"),
        (403, {"message": "forbidden here"}, "forbidden here"),
        (413, "payload too large", "payload too large"),
        (404, "", "answered HTTP 404"),
        (422, b"\xff\xfe not utf-8", "not utf-8"),
    ],
)
async def test_client_errors_are_surfaced_without_retry(
    client: Inngest, fake_api: FakeEventAPI, status: int, payload: Any, message: str
) -> None:
    fake_api.script = [(status, payload)]
    with pytest.raises(SendEventError, match=message) as info:
        await client.send({"name": "a/b"})
    assert info.value.status == status
    assert f"(HTTP {status})" in str(info.value)
    assert len(fake_api.requests) == 1


async def test_response_without_ids_is_an_error(client: Inngest, fake_api: FakeEventAPI) -> None:
    fake_api.script = [(200, {"status": 200})]
    with pytest.raises(SendEventError, match="without 1 event ids"):
        await client.send({"name": "a/b"})


async def test_unreachable_event_api_is_one_short_line(
    unused_tcp_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    async with Inngest(
        "shop",
        is_dev=True,
        event_api_base_url=f"http://127.0.0.1:{unused_tcp_port}",
        send_attempts=2,
        send_retry_delay=0.25,
    ) as client:
        sleeps = recording_sleeps(client)
        with pytest.raises(SendEventError) as info:
            await client.send({"name": "a/b"})
    assert info.value.status is None
    where = f"127.0.0.1:{unused_tcp_port}"
    assert str(info.value) == (
        f"gave up after 2 attempts: could not reach the event API at http://{where}: "
        f"cannot connect to {where} (Connection refused)"
    )
    [warning] = [r.getMessage() for r in caplog.records]
    assert warning == (
        f"send attempt 1 of 2 failed: could not reach the event API at http://{where}: "
        f"cannot connect to {where} (Connection refused); retrying in 0.25 s"
    )
    assert sleeps.delays == [0.25]


async def test_cloud_mode_needs_an_event_key(server: TestServer, fake_api: FakeEventAPI) -> None:
    async with Inngest("shop", event_api_base_url=str(server.make_url(""))) as client:
        with pytest.raises(ConfigError, match="INNGEST_EVENT_KEY"):
            await client.send({"name": "a/b"})
    assert fake_api.requests == []


async def test_close_closes_the_session(client: Inngest) -> None:
    await client.send({"name": "a/b"})
    session = client._session
    assert session is not None
    assert not session.closed
    await client.close()
    assert session.closed
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del session
        gc.collect()
    assert not [w for w in caught if "Unclosed" in str(w.message)]
    # Still usable: a new session is opened on demand.
    assert await client.send({"name": "a/b"}) == ["id-2-0"]


def test_construction_opens_no_session() -> None:
    client = Inngest("shop", is_dev=True)
    assert client._session is None


# -- send_sync -----------------------------------------------------------------------------


@pytest.fixture
def threaded_api() -> Iterator[tuple[str, FakeEventAPI]]:
    """A fake event API on its own loop in a thread, for code that has no loop."""
    fake = FakeEventAPI()
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_post("/e/{key}", fake.handle)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", fake
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_send_sync(threaded_api: tuple[str, FakeEventAPI]) -> None:
    url, fake = threaded_api
    client = Inngest("shop", is_dev=True, event_api_base_url=url)
    assert client.send_sync([{"name": "a/one"}, Event("a/two")]) == ["id-1-0", "id-1-1"]
    assert client.send_sync(Event("a/three")) == ["id-2-0"]
    assert [r.body[0]["name"] for r in fake.requests] == ["a/one", "a/three"]
    assert client._session is None  # send_sync leaves no session behind


async def test_send_sync_inside_a_loop_is_refused(client: Inngest) -> None:
    with pytest.raises(RuntimeError, match=r"await client\.send"):
        client.send_sync({"name": "a/b"})


# -- api_request ---------------------------------------------------------------------------


@pytest.fixture
async def api_server(
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
) -> tuple[TestServer, list[Recorded]]:
    """An Inngest API that only accepts KEY_B's bearer token."""
    seen: list[Recorded] = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        seen.append(Recorded(request.path, dict(request.headers), body))
        if request.headers.get("Authorization") != bearer_token(KEY_B):
            return web.json_response({"error": "unauthorized"}, status=401)
        return web.json_response({"ok": True, "echo": body})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return await aiohttp_server(app), seen


async def test_api_request_retries_with_fallback_key(
    api_server: tuple[TestServer, list[Recorded]],
) -> None:
    server, seen = api_server
    async with Inngest(
        "shop",
        signing_key=KEY_A,
        signing_key_fallback=KEY_B,
        api_base_url=str(server.make_url("")),
    ) as client:
        status, body = await client.api_request("POST", "/fn/register", json={"x": 1})
    assert (status, body) == (200, {"ok": True, "echo": {"x": 1}})
    assert [r.headers["Authorization"] for r in seen] == [bearer_token(KEY_A), bearer_token(KEY_B)]
    assert all(r.path == "/fn/register" and r.headers["X-Inngest-SDK"] == SDK for r in seen)


async def test_api_request_without_fallback_returns_the_refusal(
    api_server: tuple[TestServer, list[Recorded]],
) -> None:
    server, seen = api_server
    async with Inngest("shop", signing_key=KEY_A, api_base_url=str(server.make_url(""))) as client:
        status, body = await client.api_request("GET", "v0/runs/r1/actions")
    assert (status, body) == (401, {"error": "unauthorized"})
    assert len(seen) == 1
    assert seen[0].path == "/v0/runs/r1/actions"


async def test_api_request_without_key_sends_no_authorization(
    api_server: tuple[TestServer, list[Recorded]],
) -> None:
    server, seen = api_server
    async with Inngest("shop", is_dev=True, api_base_url=str(server.make_url(""))) as client:
        status, _ = await client.api_request("GET", "/v0/runs/r1/batch")
    assert status == 401
    assert "Authorization" not in seen[0].headers
