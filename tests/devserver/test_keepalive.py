"""The dev server's own HTTP/1.1 client for calls: the answers apps' servers really give.

A raw asyncio server writes each answer byte for byte (chunked, gzip, `Connection: close`,
an interim `100 Continue`, a redirect), so the test decides the wire, with no timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from inngest_dsl.devserver.core.clock import VirtualClock
from inngest_dsl.devserver.core.functions import FunctionInfo
from inngest_dsl.devserver.http.transport import HttpTransport, client_session

Answer = Callable[[int, bytes], bytes]
"""The raw answer to the n-th request on a connection, given its body."""

SDK = b"X-Inngest-SDK: raw:v1\r\n"


class RawApp:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.connections = 0
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}/api/inngest?existing=1"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            for number in range(1, 100):
                head = await reader.readuntil(b"\r\n\r\n")
                line, *lines = head[:-4].decode("latin-1").split("\r\n")
                headers = {
                    k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append((line, headers, body))
                answer = self.answer(number, body)
                writer.write(answer)
                await writer.drain()
                if b"Connection: close" in answer:
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def calling(answer: Answer) -> AsyncIterator[tuple[RawApp, Any]]:
    app = RawApp(answer)
    app._server = await asyncio.start_server(app._serve, "127.0.0.1", 0)
    function = FunctionInfo(
        id="app-fn",
        name="fn",
        url=app.url,
        uuid="00000000-0000-4000-a000-000000000000",
        max_attempts=1,
        cancel=(),
        config={},
    )
    try:
        async with client_session(timeout=30, limit=4) as session:
            http = HttpTransport(session, VirtualClock(0.0))

            async def call(body: bytes = b'{"x":1}') -> Any:
                return await http.call(function, "step", body, "01RUN")

            try:
                yield app, call
            finally:
                http.close()
    finally:
        app._server.close()
        await app._server.wait_closed()


def ok(body: bytes, *extra: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + SDK + b"".join(extra)
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


async def test_a_call_is_a_post_with_its_headers_and_the_connection_is_kept() -> None:
    async with calling(lambda n, body: ok(b'{"n":%d}' % n)) as (app, call):
        outcomes = [await call() for _ in range(3)]
    assert [json.loads(o.output_json) for o in outcomes] == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert app.connections == 1
    line, headers, body = app.requests[0]
    assert line == "POST /api/inngest?existing=1&fnId=app-fn&stepId=step HTTP/1.1"
    assert headers["x-run-id"] == "01RUN"
    assert headers["x-inngest-step-id"] == "step"
    assert headers["content-type"] == "application/json"
    assert headers["host"].startswith("127.0.0.1:")
    assert body == b'{"x":1}'


async def test_chunked_gzip_and_interim_answers_are_read() -> None:
    def answer(n: int, body: bytes) -> bytes:
        if n == 1:  # chunked, in two chunks, with a trailer
            return (
                b"HTTP/1.1 200 OK\r\n" + SDK + b"Transfer-Encoding: chunked\r\n\r\n"
                b'4;ext=1\r\n{"a"\r\n3\r\n:1}\r\n0\r\nX-Trailer: y\r\n\r\n'
            )
        if n == 2:
            return ok(gzip.compress(b'{"zipped":true}'), b"Content-Encoding: gzip\r\n")
        return b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b'"after 100"')

    async with calling(answer) as (app, call):
        outcomes = [await call() for _ in range(3)]
    assert [json.loads(o.output_json) for o in outcomes] == [
        {"a": 1},
        {"zipped": True},
        "after 100",
    ]
    assert app.connections == 1


async def test_connection_close_and_a_body_to_the_end_open_a_new_connection() -> None:
    def answer(n: int, body: bytes) -> bytes:
        if n == 1 and len(body) == 7:
            return ok(b"1", b"Connection: close\r\n")
        return b"HTTP/1.1 200 OK\r\n" + SDK + b"Connection: close\r\n\r\n2"

    async with calling(answer) as (app, call):
        first, second = await call(), await call(b'{"y":22}')
    assert (first.output_json, second.output_json) == ("1", "2")
    assert app.connections == 2


async def test_a_206_and_errors_are_interpreted_as_before() -> None:
    op = json.dumps([{"op": "StepRun", "id": "s", "name": "s", "data": 1}]).encode()

    def answer(n: int, body: bytes) -> bytes:
        if n == 1:
            return ok(op).replace(b"200 OK", b"206 Partial Content")
        return ok(b'{"message":"boom","name":"Error"}', b"X-Inngest-No-Retry: true\r\n").replace(
            b"200 OK", b"500 Internal Server Error"
        )

    async with calling(answer) as (_, call):
        planned, failed = await call(), await call()
    assert planned.ops is not None
    assert [o.op for o in planned.ops] == ["StepRun"]
    assert failed.error is not None
    assert failed.error["message"] == "boom"
    assert failed.retryable is False


async def test_a_redirect_is_followed_by_aiohttp() -> None:
    # The app did not run a redirected call: aiohttp sends it again and follows the redirect.
    def answer(n: int, body: bytes) -> bytes:
        if n == 1:
            return b"HTTP/1.1 307 Redirect\r\nLocation: /moved\r\nContent-Length: 0\r\n\r\n"
        return ok(b'"moved"')

    async with calling(answer) as (app, call):
        outcome = await call()
    assert outcome.output_json == '"moved"'
    call_path = "/api/inngest?existing=1&fnId=app-fn&stepId=step"
    assert [line.split()[1] for line, _, _ in app.requests] == [call_path, call_path, "/moved"]


async def test_an_unreadable_answer_fails_the_call_naming_it() -> None:
    async with calling(lambda n, body: b"HTTP/1.1 abc\r\n\r\nConnection: close\r\n\r\n") as (
        _,
        call,
    ):
        outcome = await call()
    assert outcome.error is not None
    assert outcome.error["name"] == "ConnectionError"
    assert "unreadable HTTP answer" in outcome.error["message"]
