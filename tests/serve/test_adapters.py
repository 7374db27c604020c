"""The aiohttp, ASGI and WSGI shells answer the same requests byte for byte.

Every request below (the executor's recorded calls, sync `PUT`s, introspection, signed and
unsigned, and bad input) goes to all three; status, the headers that matter and the body must
agree. The shells differ only where they must: `X-Inngest-Framework` (and the `framework` the
sync and signed introspection bodies carry) names the shell, and a response signature covers
that body, so it is verified rather than compared.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import inngest_dsl.aiohttp
import inngest_dsl.asgi
import inngest_dsl.wsgi
from inngest_dsl.client import Inngest
from inngest_dsl.wire._signing import canonical_json, sign, verify

from .conftest import KEY, OTHER_KEY, Raw

APP_ID = "peer-raw-app"
PATH = "/api/inngest"
HOST = "app.test:8000"
LIMIT = 4096
RECORDED = Path(__file__).parent.parent / "data" / "executor-requests.jsonl"
MATTERS = (
    "Content-Type",
    "X-Inngest-SDK",
    "X-Inngest-Req-Version",
    "X-Inngest-Env",
    "X-Inngest-No-Retry",
    "X-Inngest-Sync-Kind",
    "Retry-After",
    "Allow",
)


@attrs.frozen
class Sent:
    method: str
    target: str  # path and query
    headers: tuple[tuple[str, str], ...]
    body: bytes


@attrs.frozen
class Got:
    status: int
    headers: dict[str, str]
    body: bytes


Send = Callable[[Sent], Awaitable[Got]]


def _got(status: int, headers: Iterable[tuple[str, str]], body: bytes) -> Got:
    return Got(status, {k.lower(): v for k, v in headers}, body)


def _recorded() -> list[dict[str, Any]]:
    return [json.loads(line) for line in RECORDED.read_text().splitlines()]


def _target(query: dict[str, str]) -> str:
    return PATH + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def _headers(extra: dict[str, str] | None = None) -> tuple[tuple[str, str], ...]:
    return (("Host", HOST), ("Content-Type", "application/json"), *(extra or {}).items())


def _executor_requests(key: str | None) -> list[Sent]:
    """The recorded calls as the executor sent them (its headers), signed with `key`."""
    sent = []
    for record in _recorded():
        body = canonical_json(record["body"])
        headers = {
            k: v for k, v in record["headers"].items() if k not in ("Host", "Content-Length")
        }
        if key is not None:
            headers["X-Inngest-Signature"] = sign(body, key)
        sent.append(
            Sent("POST", _target(record["query"]), (("Host", HOST), *headers.items()), body)
        )
    return sent


def _requests(cloud: bool) -> list[tuple[str, Sent]]:
    call = canonical_json(_recorded()[0]["body"])
    step_query = {"fnId": f"{APP_ID}-raw-fn", "stepId": "step"}
    cases: list[tuple[str, Sent]] = [
        ("introspection", Sent("GET", PATH, _headers(), b"")),
        ("sync", Sent("PUT", PATH + "?deployId=d1", _headers(), b"")),
        ("call-unknown-fn", Sent("POST", _target({"fnId": "nope"}), _headers(), call)),
        ("call-no-fnId", Sent("POST", PATH, _headers(), call)),
        ("not-json", Sent("POST", _target(step_query), _headers(), b"{nope")),
        ("not-utf8", Sent("POST", _target(step_query), _headers(), b'{"a": "\xff\xfe"}')),
        ("not-an-object", Sent("POST", _target(step_query), _headers(), b"[1, 2]")),
        ("delete", Sent("DELETE", PATH, _headers(), b"")),
        ("patch", Sent("PATCH", _target(step_query), _headers(), call)),
        ("too-large", Sent("POST", _target(step_query), _headers(), b" " * (LIMIT + 1))),
        ("probe", Sent("POST", PATH + "?probe=trust", _headers(), b"")),
    ]
    cases += [(f"executor-{i}", sent) for i, sent in enumerate(_executor_requests(None))]
    if cloud:
        signed = lambda key, body=b"": (*_headers(), ("X-Inngest-Signature", sign(body, key)))  # noqa: E731
        in_band = (("X-Inngest-Sync-Kind", "in_band"),)
        cases += [
            ("introspection-signed", Sent("GET", PATH, signed(KEY), b"")),
            ("introspection-wrong-key", Sent("GET", PATH, signed(OTHER_KEY), b"")),
            ("sync-in-band", Sent("PUT", PATH, (*signed(KEY, b""), *in_band), b"")),
            ("sync-in-band-unsigned", Sent("PUT", PATH, (*_headers(), *in_band), b"")),
            ("sync-wrong-key", Sent("PUT", PATH, signed(OTHER_KEY), b"")),
            ("probe-signed", Sent("POST", PATH + "?probe=trust", signed(KEY), b"")),
        ]
        cases += [(f"signed-{i}", s) for i, s in enumerate(_executor_requests(KEY))]
        cases += [(f"wrong-key-{i}", s) for i, s in enumerate(_executor_requests(OTHER_KEY))]
    return cases


def _client(cloud: bool) -> Inngest:
    # The out-of-band sync goes to a closed loopback port: every shell reports the same 500.
    options: dict[str, Any] = {"api_base_url": "http://127.0.0.1:9"}
    if cloud:
        return Inngest(APP_ID, is_dev=False, signing_key=KEY, **options)
    return Inngest(APP_ID, is_dev=True, **options)


# -- the three shells ---------------------------------------------------------------------------


async def _via_aiohttp(cloud: bool, sent: list[Sent]) -> list[Got]:
    app = web.Application()
    inngest_dsl.aiohttp.serve(app, _client(cloud), [Raw], max_body_size=LIMIT)
    got = []
    async with TestClient(TestServer(app)) as http:
        for request in sent:
            headers = dict(request.headers)
            async with http.request(
                request.method,
                request.target,
                data=request.body,
                headers=headers,
                skip_auto_headers=("Content-Type",),
            ) as response:
                got.append(_got(response.status, response.headers.items(), await response.read()))
    return got


async def call_asgi(
    app: inngest_dsl.asgi.ASGIApp, request: Sent, *, chunk: int = 1000, chunked: bool = False
) -> Got:
    """One request through an ASGI app, its body in `chunk`-byte messages (and without a
    Content-Length if `chunked`)."""
    path, _, query = request.target.partition("?")
    headers = list(request.headers)
    if not chunked and not any(k.lower() == "content-length" for k, _ in headers):
        headers.append(("Content-Length", str(len(request.body))))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
    }
    pieces = [request.body[i : i + chunk] for i in range(0, len(request.body), chunk)] or [b""]
    messages = [
        {"type": "http.request", "body": piece, "more_body": i < len(pieces) - 1}
        for i, piece in enumerate(pieces)
    ]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # a real server would wait for the disconnect
        raise AssertionError("unreachable")

    started: dict[str, Any] = {}
    body = bytearray()

    async def send(message: Any) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
        else:
            body.extend(message.get("body", b""))

    await app(scope, receive, send)
    headers = [(k.decode(), v.decode()) for k, v in started["headers"]]
    return _got(started["status"], headers, bytes(body))


async def _via_asgi(cloud: bool, sent: list[Sent]) -> list[Got]:
    app = inngest_dsl.asgi.serve(_client(cloud), [Raw], max_body_size=LIMIT)
    try:
        return [await call_asgi(app, request) for request in sent]
    finally:
        await app.close()


def call_wsgi(app: inngest_dsl.wsgi.WSGIApp, request: Sent) -> Got:
    """One request through a WSGI app, with a WSGI environ."""
    path, _, query = request.target.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(request.body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(request.body)),
    }
    for name, value in request.headers:
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = value
        else:
            environ[f"HTTP_{key}"] = value
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.extend([status, headers])
        return lambda data: None

    body = b"".join(app(environ, start_response))
    return _got(int(started[0].split()[0]), started[1], body)


async def _via_wsgi(cloud: bool, sent: list[Sent]) -> list[Got]:
    app = inngest_dsl.wsgi.serve(_client(cloud), [Raw], max_body_size=LIMIT)

    def run() -> list[Got]:
        try:
            return [call_wsgi(app, request) for request in sent]
        finally:
            app.close()

    return await asyncio.to_thread(run)  # as a WSGI server's thread would


# -- the comparison ---------------------------------------------------------------------------


FRAMEWORK = re.compile(rb'"framework":"(aiohttp|asgi|wsgi)"')


def _comparable(got: Got, framework: str) -> tuple[int, dict[str, str], bytes]:
    assert got.headers["x-inngest-framework"] == framework
    assert int(got.headers["content-length"]) == len(got.body)
    signature = got.headers.get("x-inngest-signature")
    if signature is not None:
        assert verify(signature, got.body, (KEY,)) == KEY
    body = FRAMEWORK.sub(b'"framework":"<shell>"', got.body)
    headers = {name: got.headers[name.lower()] for name in MATTERS if name.lower() in got.headers}
    headers["signed"] = str(signature is not None)
    return got.status, headers, body


@pytest.mark.parametrize("cloud", [False, True], ids=["dev", "cloud"])
async def test_the_three_shells_answer_alike(cloud: bool) -> None:
    cases = _requests(cloud)
    sent = [request for _, request in cases]
    by_shell = {
        "aiohttp": await _via_aiohttp(cloud, sent),
        "asgi": await _via_asgi(cloud, sent),
        "wsgi": await _via_wsgi(cloud, sent),
    }
    answers = {
        shell: [_comparable(got, shell) for got in replies] for shell, replies in by_shell.items()
    }
    for (name, _), aiohttp_, asgi, wsgi in zip(
        cases, answers["aiohttp"], answers["asgi"], answers["wsgi"], strict=True
    ):
        assert asgi == aiohttp_, name
        assert wsgi == aiohttp_, name
    # And the answers are the right ones: bad input is a 4xx JSON error, never a traceback.
    statuses = {name: got[0] for (name, _), got in zip(cases, answers["aiohttp"], strict=True)}
    codes = {
        name: json.loads(got[2]).get("code") if got[0] >= 400 else None
        for (name, _), got in zip(cases, answers["aiohttp"], strict=True)
    }
    expected_bad = {
        "delete": (405, "method_not_allowed"),
        "patch": (405, "method_not_allowed"),
        "too-large": (413, "body_too_large"),
    }
    if not cloud:
        expected_bad["not-json"] = (400, "body_invalid")
        expected_bad["not-utf8"] = (400, "body_invalid")
        expected_bad["not-an-object"] = (400, "body_invalid")
        expected_bad["call-no-fnId"] = (400, "query_param_missing")
        assert [statuses[f"executor-{i}"] for i in range(3)] == [206, 206, 206]
        assert (statuses["sync"], codes["sync"]) == (500, "registration_failed")
    else:
        assert [statuses[f"signed-{i}"] for i in range(3)] == [206, 206, 206]
        assert {statuses[f"wrong-key-{i}"] for i in range(3)} == {401}
        assert {statuses[f"executor-{i}"] for i in range(3)} == {401}
        assert statuses["sync-in-band"] == 200
        assert statuses["sync-in-band-unsigned"] == 401
        assert {statuses["not-json"], statuses["not-utf8"]} == {401}  # unsigned comes first
    for name, (status, code) in expected_bad.items():
        assert (statuses[name], codes[name]) == (status, code), name
    assert all(got[1]["Content-Type"] == "application/json" for got in answers["aiohttp"])


# -- the ASGI app in its frameworks and servers ---------------------------------------------------


async def test_chunked_oversized_body_is_refused_in_asgi() -> None:
    """Without a Content-Length the ASGI shell stops reading at the limit."""
    app = inngest_dsl.asgi.serve(_client(False), [Raw], max_body_size=LIMIT)
    request = Sent("POST", _target({"fnId": "x"}), (("Host", HOST),), b"x" * (LIMIT * 3))
    got = await call_asgi(app, request, chunk=1024, chunked=True)
    assert got.status == 413
    assert json.loads(got.body)["code"] == "body_too_large"


async def test_a_bad_content_length_is_a_400_in_asgi_and_wsgi() -> None:
    """(HTTP servers refuse these before any app; the shells say the same if one gets through.)"""
    headers = (("Host", HOST), ("Content-Length", "x"))
    request = Sent("POST", _target({"fnId": "x"}), headers, b"")
    asgi = await call_asgi(inngest_dsl.asgi.serve(_client(False), [Raw]), request)
    wsgi_app = inngest_dsl.wsgi.serve(_client(False), [Raw])
    wsgi = await asyncio.to_thread(call_wsgi, wsgi_app, request)
    await asyncio.to_thread(wsgi_app.close)
    assert _comparable(asgi, "asgi") == _comparable(wsgi, "wsgi")
    assert (asgi.status, json.loads(asgi.body)["code"]) == (400, "body_invalid")


async def test_lifespan_and_other_paths() -> None:
    app = inngest_dsl.asgi.serve(_client(False), [Raw])
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Any] = []

    async def receive() -> Any:
        return incoming.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    got = await call_asgi(app, Sent("GET", "/elsewhere", (("Host", HOST),), b""))
    assert (got.status, json.loads(got.body)["code"]) == (404, "not_found")


async def _through(app: Any, requests: list[Sent]) -> list[Got]:
    transport = httpx.ASGITransport(app=app)
    got = []
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{HOST}") as http:
        for request in requests:
            response = await http.request(
                request.method, request.target, content=request.body, headers=request.headers
            )
            got.append(_got(response.status_code, response.headers.items(), response.content))
    return got


@pytest.mark.parametrize("framework", ["fastapi", "starlette", "wrapped"])
async def test_framework_mounts_answer_as_the_bare_app(framework: str) -> None:
    """Mounted in FastAPI or Starlette (at the serve path: Inngest then calls `<path>/`), or
    wrapped around an app, the ASGI app answers as it does alone."""
    from fastapi import FastAPI
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Mount, Route

    served = inngest_dsl.asgi.serve(_client(True), [Raw], max_body_size=LIMIT)
    if framework == "fastapi":
        outer: Any = FastAPI()
        outer.mount(PATH, served)
    elif framework == "starlette":
        outer = Starlette(routes=[Mount(PATH, app=served)])
    else:
        home = Starlette(routes=[Route("/", lambda request: PlainTextResponse("home"))])
        outer = inngest_dsl.asgi.serve(_client(True), [Raw], max_body_size=LIMIT, app=home)
    slash = framework != "wrapped"
    requests = [
        attrs.evolve(
            sent, target=sent.target.replace(PATH, PATH + "/", 1) if slash else sent.target
        )
        for _, sent in _requests(cloud=True)
        if sent.method != "PUT" or "in_band" in str(sent.headers)
    ]
    try:
        mounted = await _through(outer, requests)
        bare = [await call_asgi(served, request) for request in requests]
    finally:
        await served.close()
    assert [_comparable(g, "asgi") for g in mounted] == [_comparable(g, "asgi") for g in bare]
    if framework == "wrapped":
        [home_page] = await _through(outer, [Sent("GET", "/", (), b"")])
        assert (home_page.status, home_page.body) == (200, b"home")
