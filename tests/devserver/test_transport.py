"""Calls over HTTP to a real loopback server whose keep-alive connections close under them.

The server is raw asyncio, so the test decides exactly when a connection closes, with no
timing involved: it advertises keep-alive on every response, then either reads the next
request on a connection and closes without answering (what an app's server does when it
closes an idle connection just as a call is sent on it), or closes each connection right after
its response (what it does when the idle timeout passed long ago).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import aiohttp
import pytest

from inngest_dsl.devserver.core.clock import VirtualClock
from inngest_dsl.devserver.core.functions import FunctionInfo
from inngest_dsl.devserver.http import transport
from inngest_dsl.devserver.http.transport import HttpTransport, client_session
from inngest_dsl.devserver.store.records import RunStatus

from .clocked import virtual_dev_server
from .conftest import send

Mode = Literal["drop-reused", "drop-first", "close-after-response"]
Respond = Callable[[Any], tuple[int, Any]]


class KeepAliveApp:
    """A loopback app that answers `{"n": <request number>}` with keep-alive advertised.

    `drop-reused`: a connection's second request is read, then the connection is closed
    without an answer. `drop-first`: every connection's first request is (a fresh connection
    that fails). `close-after-response`: each connection is closed after its first response.
    """

    def __init__(self, mode: Mode, respond: Respond | None = None) -> None:
        self.mode = mode
        self.respond = respond
        self.received: list[tuple[int, int]] = []
        """(connection number, request number on it) of every request read."""
        self.answered: list[tuple[int, int]] = []
        self._connections = itertools.count(1)
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}/api/inngest"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _drops(self, number: int) -> bool:
        return (self.mode == "drop-reused" and number > 1) or (
            self.mode == "drop-first" and number == 1
        )

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = next(self._connections)
        try:
            for number in itertools.count(1):
                request = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in request.decode("latin-1").split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                self.received.append((connection, number))
                if self._drops(number):
                    return
                self.answered.append((connection, number))
                status, value = (
                    self.respond(json.loads(body))
                    if self.respond is not None
                    else (200, {"n": len(self.answered)})
                )
                payload = json.dumps(value).encode()
                head = (
                    f"HTTP/1.1 {status} OK\r\n"
                    "Content-Type: application/json\r\n"
                    "Connection: keep-alive\r\n"
                    "Keep-Alive: timeout=5\r\n"
                    "X-Inngest-SDK: raw:v1\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n"
                )
                writer.write(head.encode() + payload)
                await writer.drain()
                if self.mode == "close-after-response":
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return  # the client went away
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def calling(mode: Mode) -> AsyncIterator[tuple[KeepAliveApp, Any]]:
    """The app, and `call()` sending one call to it through a dev server's transport."""
    app = KeepAliveApp(mode)
    await app.start()
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
            transport = HttpTransport(session, VirtualClock(0.0))

            async def call() -> Any:
                return await transport.call(function, "step", b"{}", "01RUN")

            yield app, call
    finally:
        await app.close()


async def test_a_call_lost_on_a_closed_keep_alive_connection_is_sent_again() -> None:
    async with calling("drop-reused") as (app, call):
        first = await call()
        second = await call()  # goes out on the pooled connection, which the app closes
        third = await call()
    assert [outcome.completed for outcome in (first, second, third)] == [True, True, True]
    assert [json.loads(o.output_json) for o in (first, second, third)] == [
        {"n": 1},
        {"n": 2},
        {"n": 3},
    ]
    # Connection 1 answered its first call and was closed under the second, which went out
    # again on connection 2 (its first call), and so on: nothing was lost, nothing answered twice.
    assert app.received == [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1)]
    assert app.answered == [(1, 1), (2, 1), (3, 1)]


async def test_a_fresh_connection_that_fails_is_not_sent_again() -> None:
    # A call lost on a new connection may have reached the app: the executor decides (it is an
    # attempt, retried with backoff or failing the run), not the transport.
    async with calling("drop-first") as (app, call):
        outcome = await call()
    assert not outcome.completed
    assert outcome.error is not None
    assert outcome.error["name"] == "ConnectionError"
    assert outcome.retryable
    assert app.received == [(1, 1)]


async def test_connections_closed_after_each_response_lose_no_call() -> None:
    async with calling("close-after-response") as (app, call):
        outcomes = [await call() for _ in range(5)]
    assert all(outcome.completed for outcome in outcomes)
    assert [json.loads(o.output_json)["n"] for o in outcomes] == [1, 2, 3, 4, 5]
    assert app.answered == [(n, 1) for n in range(1, 6)]


async def test_stale_pooled_connections_are_skipped_one_after_another() -> None:
    async with calling("drop-reused") as (app, call):
        first = await asyncio.gather(*(call() for _ in range(4)))  # four pooled connections
        outcome = await call()  # meets the four, closed one after the other, then a new one
    assert all(o.completed for o in first)
    assert outcome.completed
    dropped = [request for request in app.received if request not in app.answered]
    assert sorted(dropped) == [(1, 2), (2, 2), (3, 2), (4, 2)]
    assert app.answered[-1] == (5, 1)


async def test_sending_again_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "MAX_STALE_RETRIES", 2)
    async with calling("drop-reused") as (app, call):
        await asyncio.gather(*(call() for _ in range(4)))
        outcome = await call()  # three stale connections in a row: it gives up
    assert not outcome.completed
    assert outcome.error is not None
    assert outcome.error["name"] == "ConnectionError"
    assert len(app.received) - len(app.answered) == 3


@pytest.mark.parametrize("mode", ["drop-reused", "close-after-response"])
async def test_a_retries_0_run_survives_closed_keep_alive_connections(mode: Mode) -> None:
    # What the issue saw: a function with retries=0 on an app whose server closes idle
    # keep-alive connections. Every call of the run goes out on the same transport.
    async with calling(mode) as (app, call):
        outcomes = [await call() for _ in range(6)]
    assert all(outcome.completed for outcome in outcomes)
    assert len(app.answered) == 6


def _one_step_then_done(body: Any) -> tuple[int, Any]:
    if not body["steps"]:
        return 206, [{"op": "StepRun", "id": "s1", "name": "s1", "displayName": "s1", "data": 1}]
    return 200, {"done": body["steps"]["s1"]["data"]}


@pytest.mark.parametrize("mode", ["drop-reused", "close-after-response"])
async def test_on_the_dev_server_a_lost_call_is_not_an_attempt(mode: Mode) -> None:
    app = KeepAliveApp(mode, _one_step_then_done)
    await app.start()
    try:
        async with virtual_dev_server() as server:
            fid = "raw-fn"
            config = {
                "id": fid,
                "name": "fn",
                "triggers": [{"event": "app/go"}],
                "steps": {
                    "step": {
                        "id": "step",
                        "name": "step",
                        "runtime": {"type": "http", "url": f"{app.url}?fnId={fid}&stepId=step"},
                        "retries": {"attempts": 0},  # one attempt per call: none to spare
                    }
                },
            }
            body = {"url": app.url, "appName": "raw", "sdk": "raw:v1", "functions": [config]}
            async with (
                aiohttp.ClientSession() as session,
                session.post(f"{server.url}/fn/register", json=body) as response,
            ):
                assert response.status == 200, await response.text()
            await send(server.server, {"name": "app/go"})
            run = await server.finished_run(fid)
    finally:
        await app.close()
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.output == {"done": 1}
    assert len(app.answered) == 2
