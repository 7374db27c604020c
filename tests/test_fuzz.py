"""Fuzz: generated requests to the serve handler and the dev server never get a 5xx, a
traceback or a file path back, and every JSON error is one line.

Requests are built from the real route tables (methods, paths, queries, headers such as
`Content-Type`, `Content-Encoding`, signatures and bearers; bodies of junk bytes, JSON nested
thousands deep, JSON of the wrong shape, bodies that do not decode, broken forms). Bounded and
derandomized with no example database, so every run sends the same requests and the whole
file stays within a few seconds; everything runs in-process on loopback, the dev server on a
virtual clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import re
import sys
import urllib.parse
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import inngest_dsl
from inngest_dsl import Context, InngestFunction, sleep, step, wait_for_event
from inngest_dsl.aiohttp import serve
from inngest_dsl.client import Inngest
from inngest_dsl.devserver.app import build_app
from inngest_dsl.devserver.config import DevServerConfig
from inngest_dsl.devserver.core.clock import VirtualClock
from inngest_dsl.devserver.http.access import SESSION_COOKIE, session_token
from inngest_dsl.devserver.http.routes import api_routes
from inngest_dsl.devserver.ui.login import login_routes
from inngest_dsl.devserver.ui.routes import ui_routes
from inngest_dsl.wire._signing import canonical_json, hash_signing_key, sign

KEY = "signkey-test-0123456789abcdef"
START = 1_767_225_600.0  # 2026-01-01, where the dev server's virtual clock starts
UNREACHABLE = "http://127.0.0.1:9/api/inngest"  # loopback's discard port: refused at once
SERVE_PATH = "/api/inngest"

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- what gets sent ---------------------------------------------------------------------------

METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
WORDS = st.sampled_from(
    [
        "",
        "app/x",
        "inngest/function.failed",
        "event.data.n == 1",
        "{ __typename }",
        "query { functions { id } }",
        "query($a: ID!) { event(query: {eventId: $a}) { id } }",
        "Completed",
        "Failed",
        "1d",
        "5s",
        "0 * * * *",
        "step",
        "nap",
        UNREACHABLE,
        "fuzz-hello",
        "fuzz-napper",
        "\x00",
        "é\u2028",
    ]
)
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=16)
KEYS = st.sampled_from(
    [
        "name", "data", "id", "ts", "user", "v", "url", "appName", "functions", "triggers",
        "event", "expression", "cron", "steps", "runtime", "retries", "query", "variables",
        "operationName", "ctx", "events", "stack", "attempt", "use_api", "version", "fnId",
        "sdk", "framework", "deployType", "concurrency", "throttle", "batchEvents", "timeouts",
    ]
) | TEXT  # fmt: skip
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
    | WORDS
)
JSON = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=24,
)


def _call_body(ctx: Any, steps: Any, event: Any) -> dict[str, Any]:
    return {"ctx": ctx, "event": event, "events": [event], "steps": steps, "version": 2}


EVENT = st.fixed_dictionaries(
    {"name": WORDS | TEXT | JSON, "data": st.dictionaries(KEYS, JSON, max_size=3) | JSON},
    optional={"id": WORDS | JSON, "ts": st.integers() | JSON, "user": JSON},
)
FUNCTION = st.fixed_dictionaries(
    {
        "id": WORDS | JSON,
        "name": WORDS | JSON,
        "triggers": st.lists(
            st.fixed_dictionaries({}, optional={"event": WORDS, "expression": WORDS, "cron": WORDS})
            | JSON,
            max_size=2,
        )
        | JSON,
        "steps": st.fixed_dictionaries(
            {"step": st.fixed_dictionaries({"id": WORDS, "runtime": JSON})}
        )
        | JSON,
    },
    optional={"concurrency": JSON, "throttle": JSON, "batchEvents": JSON, "cancel": JSON},
)
SHAPED = st.one_of(
    EVENT,
    st.lists(EVENT, max_size=3),
    st.fixed_dictionaries(
        {"url": WORDS | JSON, "appName": WORDS | JSON, "functions": st.lists(FUNCTION, max_size=2)}
    ),
    st.fixed_dictionaries({"url": WORDS | JSON}),
    st.fixed_dictionaries({"query": WORDS | JSON}, optional={"variables": JSON}),
    st.builds(
        _call_body,
        st.fixed_dictionaries(
            {"attempt": st.integers(-1, 5) | JSON, "run_id": WORDS},
            optional={"stack": JSON, "use_api": st.booleans(), "max_attempts": JSON},
        )
        | JSON,
        st.dictionaries(WORDS | TEXT, JSON, max_size=3) | JSON,
        EVENT | JSON,
    ),
)


def _nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    if kind == "object":
        return b'{"a":' * depth + b"1" + b"}" * depth
    if kind == "event":
        return b'{"name":"app/x","data":{"d":' + b"[" * depth + b"]" * depth + b"}}"
    return b"[" * depth  # never closed


DEEP = st.builds(
    _nested,
    st.sampled_from([1, 50, 400, 900, 1200, 5000, 100_000]),
    st.sampled_from(["array", "object", "event", "open"]),
)
MULTIPART = st.builds(
    lambda head, junk: head + junk,
    st.sampled_from(
        [
            b"",
            b"--xx\r\n",
            b'--xx\r\nContent-Disposition: form-data; name="name"\r\n\r\napp/x\r\n--xx--\r\n',
            b"--xx\r\nContent-Encoding: br\r\nContent-Disposition: form-data; name=data\r\n\r\n",
            b"--xx\r\nContent-Type: text/plain; charset=nope\r\n"
            b'Content-Disposition: form-data; name="data"\r\n\r\n\xff\xfe\r\n--xx--\r\n',
            b"--yy\r\n\r\n",
        ]
    ),
    st.binary(max_size=40),
)
FORM = st.dictionaries(st.sampled_from(["name", "data", "key", "next"]), WORDS | TEXT).map(
    lambda fields: urllib.parse.urlencode(fields).encode()
) | st.sampled_from([b"name=%ff%fe&data=%ff", b"data=%7B%22a%22", b"=&&=", b"key=%"])


@attrs.frozen
class Body:
    data: bytes
    encoding: str | None = None  # a Content-Encoding this body is sent with
    content_type: str | None = None  # the type it would be sent as, if any


def _encoded(raw: bytes, how: str) -> Body:
    if how == "gzip":
        return Body(gzip.compress(raw), "gzip")
    if how == "gzip-cut":
        return Body(gzip.compress(raw)[:12], "gzip")
    if how == "deflate":
        return Body(zlib.compress(raw), "deflate")
    return Body(raw, how)  # a junk body that claims an encoding


def _json_body(value: Any) -> Body:
    return Body(json.dumps(value).encode(), content_type="application/json")


BODIES = st.one_of(
    st.just(Body(b"")),
    st.binary(max_size=64).map(Body),
    JSON.map(_json_body),
    SHAPED.map(_json_body),
    DEEP.map(lambda data: Body(data, content_type="application/json")),
    MULTIPART.map(lambda data: Body(data, content_type="multipart/form-data; boundary=xx")),
    FORM.map(lambda data: Body(data, content_type="application/x-www-form-urlencoded")),
    st.builds(
        _encoded,
        SHAPED.map(lambda value: json.dumps(value).encode()) | st.binary(max_size=32),
        st.sampled_from(["gzip", "gzip-cut", "deflate", "br", "zstd", "gzip, deflate", "x"]),
    ),
)
CONTENT_TYPES = st.sampled_from(
    [
        None,
        "application/json",
        "application/json; charset=latin-1",
        "multipart/form-data; boundary=xx",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=nope",
        "text/plain",
        "x/y; z",
    ]
)
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)


def _signature(kind: str, body: bytes, extra: str) -> str:
    if kind == "valid":
        return sign(canonical_json(json.loads(body)) if _is_json(body) else body, KEY)
    if kind == "stale":
        return sign(body, KEY, ts=1)
    if kind == "shaped":
        return f"t=12&s={'ab' * 32}"
    return extra


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return False
    return True


SIGNATURES = st.sampled_from([None, "valid", "stale", "shaped", "junk"])
BEARERS = st.sampled_from(
    [None, f"Bearer {hash_signing_key(KEY)}", f"Bearer {KEY}", "Bearer nope", "Basic x", "Bearer"]
)
OPTIONAL_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "Accept": st.sampled_from(["text/html", "application/json", "*/*"]),
        "Origin": st.sampled_from(["null", "http://127.0.0.1:1", "http://evil.example"]),
        "Sec-Fetch-Site": st.sampled_from(["same-origin", "cross-site", "same-site"]),
        "X-Inngest-Sync-Kind": st.sampled_from(["in_band", "out_of_band"]) | HEADER_TEXT,
        "X-Inngest-Server-Kind": st.sampled_from(["dev", "cloud"]) | HEADER_TEXT,
        "X-Inngest-Expected-Server-Kind": st.sampled_from(["dev", "cloud"]) | HEADER_TEXT,
        "X-Inngest-Event-Id-Seed": HEADER_TEXT,
        "X-Inngest-Req-Version": st.sampled_from(["1", "2"]) | HEADER_TEXT,
        "Cookie": st.sampled_from(
            [f"{SESSION_COOKIE}={session_token(KEY)}", f"{SESSION_COOKIE}=x", "a=b"]
        ),
    },
)
SEGMENTS = st.sampled_from(["x", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "%00", "%ff", "a%2Fb", "dev"]) | (
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/?#%"))
    .filter(bool)
    .map(lambda s: urllib.parse.quote(s, safe=""))
)
QUERY_VALUES = WORDS | TEXT | st.sampled_from(["0", "1", "-1", "1001", "trust", "step"])
QUERIES = st.dictionaries(
    st.sampled_from(
        ["fnId", "stepId", "probe", "deployId", "limit", "status", "function_id", "name",
         "query", "variables", "operationName", "next", "function", "data"]
    ),
    QUERY_VALUES,
    max_size=3,
)  # fmt: skip


@attrs.frozen
class Sent:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def __str__(self) -> str:
        return f"{self.method} {self.path}?{self.query} {self.headers} {self.body[:200]!r}"


def _fill(pattern: str, draw: Callable[..., Any]) -> str:
    return re.sub(r"\{[^}]+\}", lambda _: draw(SEGMENTS), pattern)


@st.composite
def requests(
    draw: Callable[..., Any], routes: list[tuple[str, str]], serve_handler: bool
) -> Sent:
    """One request to one of `routes` (method, path pattern), now and then another method."""
    method, pattern = draw(st.sampled_from(routes))
    if draw(st.integers(0, 4)) == 0:
        method = draw(METHODS)
    path = _fill(pattern, draw)
    # No client sends HEAD with a body (aiohttp answers one it cannot decode with a body,
    # which a client then reads as garbage after the answer).
    body: Body = Body(b"") if method == "HEAD" else draw(BODIES)
    headers: dict[str, str] = draw(OPTIONAL_HEADERS)
    content_type = draw(CONTENT_TYPES) if draw(st.booleans()) else body.content_type
    if content_type:
        headers["Content-Type"] = content_type
    if body.encoding:
        headers["Content-Encoding"] = body.encoding
    signature = draw(SIGNATURES)
    if signature:
        headers["X-Inngest-Signature"] = _signature(signature, body.data, draw(HEADER_TEXT))
    bearer = draw(BEARERS)
    if bearer:
        headers["Authorization"] = bearer
    query: dict[str, str] = draw(QUERIES)
    if serve_handler and draw(st.booleans()):
        query["fnId"] = draw(st.sampled_from(["fuzz-hello", "fuzz-napper", "fuzz-nope"]))
        query["stepId"] = draw(st.sampled_from(["step", "x"]))
    return Sent(method, path, query, headers, body.data)


# -- what must come back ----------------------------------------------------------------------

_INTERNALS = (
    "Traceback",
    'File "',
    str(Path(inngest_dsl.__file__).parent),
    "site-packages",
    sys.prefix,
)


@attrs.frozen
class Answer:
    status: int
    content_type: str
    headers: dict[str, str]
    body: bytes


def check(sent: Sent, answer: Answer, marker: str, pages: bool) -> None:
    """No 5xx, nothing of our internals, and errors as one line of JSON (HTML for UI pages).

    `marker` is a header every answer of ours carries: one without it comes from aiohttp's
    HTTP parser, which refuses some requests (an unsupported `Content-Encoding`, say) with a
    one-line `text/plain` 400 before any handler sees them.
    """
    status, content_type, body = answer.status, answer.content_type, answer.body
    text = body.decode("utf-8", "replace")
    assert status < 500, f"{status} for {sent}: {text[:300]}"
    for internal in _INTERNALS:
        assert internal not in text, f"{internal!r} in the answer to {sent}: {text[:300]}"
    if status < 400 or sent.method == "HEAD":
        return
    if marker not in answer.headers:
        assert (status, content_type) == (400, "text/plain"), f"{status} for {sent}"
        assert "\n" not in text.strip()
        return
    if content_type == "text/html" and pages:
        return  # a UI page that says what was wrong (the send form, the login page)
    assert content_type == "application/json", f"{status} {content_type} for {sent}"
    assert "\n" not in text.strip(), f"a multi-line error for {sent}: {text[:300]}"
    error = json.loads(text)
    assert isinstance(error, dict)
    assert "error" in error or "errors" in error


class _Loop:
    """One event loop for a whole fuzz target, each example run to completion on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


async def _send(client: TestClient[Any, Any], sent: Sent) -> Answer:
    async with client.request(
        sent.method,
        sent.path,
        params=sent.query,
        headers=sent.headers,
        data=sent.body,
        allow_redirects=False,
        skip_auto_headers=["Content-Type"],
    ) as response:
        body = await response.read()
        return Answer(response.status, response.content_type, dict(response.headers), body)


@contextlib.contextmanager
def running(make: Callable[[], AsyncIterator[TestClient[Any, Any]]]) -> Iterator[
    tuple[_Loop, TestClient[Any, Any]]
]:
    loop = _Loop()
    manager = contextlib.asynccontextmanager(make)()
    try:
        client = loop.run(manager.__aenter__())
        try:
            yield loop, client
        finally:
            loop.run(manager.__aexit__(None, None, None))
    finally:
        loop.close()


# -- the serve handler --------------------------------------------------------------------------


RETRIED_500 = ("function_not_found", "step_not_found")
"""A well-formed call for a function or step this app does not serve: a 500 by the protocol
(PROTOCOL.md §6: the app may be mid-deploy, and Inngest retries), not a bad request."""


class Hello(InngestFunction, id="hello", event="app/x"):
    @step("greet")
    def greet(self, ctx: Context) -> str:
        return "hello"


class Napper(InngestFunction, id="napper", event="app/x"):
    nap = sleep("1d")
    reply = wait_for_event("app/y", timeout="1h")

    @step("after")
    def after(self, ctx: Context) -> int:
        return 1


async def _fake_api(request: web.Request) -> web.Response:
    """Inngest's API as far as the serve path calls it: sync accepted, empty run payloads."""
    if request.path.endswith("/batch"):
        return web.json_response([])
    if request.path.endswith("/actions"):
        return web.json_response({})
    return web.json_response({"ok": True, "modified": False})


def _serve_target(cloud: bool) -> Callable[[], AsyncIterator[TestClient[Any, Any]]]:
    async def make() -> AsyncIterator[TestClient[Any, Any]]:
        api = web.Application()
        api.router.add_route("*", "/{tail:.*}", _fake_api)
        async with TestServer(api) as api_server:
            base = str(api_server.make_url("")).rstrip("/")
            client = Inngest(
                "fuzz",
                is_dev=not cloud,
                signing_key=KEY if cloud else None,
                api_base_url=base,
                event_api_base_url=base,
                serve_origin="http://127.0.0.1:1" if cloud else None,
            )
            app = web.Application()
            serve(app, client, [Hello, Napper])
            async with TestClient(TestServer(app)) as test_client:
                yield test_client

    return make


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("INNGEST_SIGNING_KEY", "INNGEST_EVENT_KEY", "INNGEST_DEV", "INNGEST_ENV"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("cloud", [False, True], ids=["dev-mode", "cloud-mode"])
def test_the_serve_handler_answers_any_request(cloud: bool) -> None:
    with running(_serve_target(cloud)) as (loop, client):

        @FUZZ
        @given(requests([(m, SERVE_PATH) for m in ("GET", "PUT", "POST")], serve_handler=True))
        def answer(sent: Sent) -> None:
            answer = loop.run(_send(client, sent))
            if answer.status == 500 and json.loads(answer.body).get("code") in RETRIED_500:
                return
            check(sent, answer, "X-Inngest-SDK", pages=False)

        answer()


# -- the dev server -----------------------------------------------------------------------------


def _routes() -> list[tuple[str, str]]:
    """(method, path pattern) of every route, and paths that are no route."""
    defs = [*api_routes(), *ui_routes(), *login_routes()]
    routes = {(d.method, d.path) for d in defs if isinstance(d, web.RouteDef)}
    return sorted(routes | {("GET", "/nowhere"), ("POST", "/v1/nope/{x}")})


def _dev_target(**options: Any) -> Callable[[], AsyncIterator[TestClient[Any, Any]]]:
    async def make() -> AsyncIterator[TestClient[Any, Any]]:
        config = DevServerConfig(port=0, db=":memory:", poll_interval=3600.0, **options)
        async with TestClient(TestServer(build_app(config, VirtualClock(START)))) as client:
            yield client

    return make


@pytest.mark.parametrize(
    "options",
    [{}, {"signing_key": KEY}, {"signing_key": KEY, "event_key": "dev"}],
    ids=["open", "keyed", "keyed-with-event-key"],
)
def test_the_dev_server_answers_any_request(options: dict[str, Any]) -> None:
    routes = _routes()
    with running(_dev_target(**options)) as (loop, client):

        @FUZZ
        @given(requests(routes, serve_handler=False))
        def answer(sent: Sent) -> None:
            answer = loop.run(_send(client, sent))
            if (sent.method, sent.path, answer.status) == ("POST", "/v1/apps", 502):
                # The app named cannot be reached: the fault is upstream, not in the request.
                assert b"could not" in answer.body or b"cannot" in answer.body, answer
                return
            check(sent, answer, "X-Inngest-Server-Kind", pages=True)

        answer()


# -- the cases that were 500s, one by one -----------------------------------------------------

DEEP_EVENT = b'{"name":"app/x","data":{"d":' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
BAD_GZIP = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
KNOWN = [
    ("POST", "/e/dev", BAD_GZIP, b"junk", "could not be read"),
    ("POST", "/fn/register", BAD_GZIP, b"junk", "could not be read"),
    ("GET", "/v1/runs", BAD_GZIP, b"junk", "could not be read"),
    ("POST", "/e/dev", {}, DEEP_EVENT, "not valid JSON"),
    ("POST", "/v0/gql", {}, b"[" * 100_000, "not valid JSON"),
    ("POST", "/send", {"Content-Type": "multipart/form-data"}, b"--xx\r\n", "not a readable form"),
    ("POST", "/send", {"Content-Type": "multipart/form-data; boundary=xx"}, b"--x", "form"),
    ("POST", "/login", {"Content-Type": "multipart/form-data; boundary="}, b"a=b", "form"),
]


@pytest.mark.parametrize(("method", "path", "headers", "body", "words"), KNOWN)
def test_known_bad_requests_to_the_dev_server_are_400s(
    method: str, path: str, headers: dict[str, str], body: bytes, words: str
) -> None:
    with running(_dev_target()) as (loop, client):
        sent = Sent(method, path, {}, headers, body)
        answer = loop.run(_send(client, sent))
    check(sent, answer, "X-Inngest-Server-Kind", pages=False)
    assert answer.status == 400
    assert words in answer.body.decode()


DEEP_CALL = b"[" * 100_000


def _signed(body: bytes, key: str = KEY) -> Callable[[], dict[str, str]]:
    """Headers signing `body` with `key` now (when the test runs, not when it is collected)."""
    return lambda: {"X-Inngest-Signature": sign(body, key)}


@pytest.mark.parametrize("cloud", [False, True], ids=["dev-mode", "cloud-mode"])
@pytest.mark.parametrize(
    ("method", "headers", "body", "dev_code", "cloud_code"),
    [
        ("POST", BAD_GZIP, b"junk", "body_invalid", "body_invalid"),
        ("GET", BAD_GZIP, b"junk", "body_invalid", "body_invalid"),
        # A junk, stale or wrong signature is refused before the body is parsed.
        ("POST", {"X-Inngest-Signature": "junk"}, DEEP_CALL, "body_invalid", "sig"),
        ("POST", {"X-Inngest-Signature": "t=1&s=" + "ab" * 32}, DEEP_CALL, "body_invalid", "sig"),
        ("POST", _signed(DEEP_CALL, "signkey-test-99"), DEEP_CALL, "body_invalid", "sig"),
        ("POST", _signed(b"[" * 900 + b"]" * 900, "signkey-test-99"), b"[" * 900 + b"]" * 900,
         "body_invalid", "sig"),
        # Signed as sent, and still not a call.
        ("POST", _signed(DEEP_CALL), DEEP_CALL, "body_invalid", "body_invalid"),
        ("PUT", {"X-Inngest-Signature": "junk"}, DEEP_CALL, None, "body_invalid"),
    ],
)  # fmt: skip
def test_known_bad_requests_to_the_serve_path_are_4xx(
    cloud: bool,
    method: str,
    headers: dict[str, str] | Callable[[], dict[str, str]],
    body: bytes,
    dev_code: str | None,
    cloud_code: str,
) -> None:
    if callable(headers):
        headers = headers()
    with running(_serve_target(cloud)) as (loop, client):
        sent = Sent(method, SERVE_PATH, {"fnId": "fuzz-hello", "stepId": "step"}, headers, body)
        answer = loop.run(_send(client, sent))
    check(sent, answer, "X-Inngest-SDK", pages=False)
    code = cloud_code if cloud else dev_code
    if code is None:
        assert answer.status == 200  # a sync in dev mode reads no body
        return
    expected = (401, "sig_verification_failed") if code == "sig" else (400, code)
    assert (answer.status, json.loads(answer.body)["code"]) == expected
