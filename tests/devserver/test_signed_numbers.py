"""Numbers reach a Cloud-mode app exactly as sent, under a signature over those exact bytes.

A keyed dev server and a Cloud-mode app (it verifies every call) talk real HTTP on loopback;
time is a virtual clock the test moves. An integer past 2**53 used to be signed over its
float64 approximation by one side and digit for digit by the other, so the run failed with 401.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

from inngest_dsl import Context, Inngest, InngestFunction, step
from inngest_dsl.aiohttp import serve
from inngest_dsl.devserver import DevServer, DevServerConfig
from inngest_dsl.devserver.core.clock import VirtualClock
from inngest_dsl.devserver.store.records import RunStatus
from inngest_dsl.testing._time import VirtualTime
from inngest_dsl.wire import _signing

from .conftest import send
from .dsl_env import START, instant

KEY = "signkey-test-12345678"
BIG = 2**53 + 1


class Echo(InngestFunction, id="echo", event="num/echo"):
    @step("echo")
    def echo(self, ctx: Context) -> dict[str, Any]:
        return {"n": ctx.event.data["n"], "kind": type(ctx.event.data["n"]).__name__}


@asynccontextmanager
async def keyed_pair(tmp_path: Path) -> AsyncIterator[tuple[DevServer, VirtualTime, str]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{sock.getsockname()[1]}"
    client = Inngest(
        "num", is_dev=False, signing_key=KEY, api_base_url=nowhere, event_api_base_url=nowhere
    )
    app = web.Application()
    serve(app, client, [Echo])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server = DevServer(
        DevServerConfig(port=0, db=str(tmp_path / "db"), signing_key=KEY, poll_interval=3600.0)
    )
    clock = VirtualClock(instant(START).timestamp())
    server.clock = clock
    try:
        async with server:
            url = f"http://127.0.0.1:{port}/api/inngest"
            await server.syncer.sync(url)
            yield server, VirtualTime(server.engine.executor, clock), url
    finally:
        await runner.cleanup()
        await client.close()


async def test_an_integer_past_2_53_reaches_the_function_exactly(tmp_path: Path) -> None:
    async with keyed_pair(tmp_path) as (server, virtual, _):
        bearer = {"Authorization": _signing.bearer_token(KEY)}  # a keyed server wants it
        await send(server, [{"name": "num/echo", "data": {"n": BIG}}], headers=bearer)

        def finished() -> bool:
            runs = server.store.list_runs(function_id="num-echo")
            return bool(runs) and runs[0].status in RunStatus.FINAL

        await virtual.run_until(finished, within="1m")
        [run] = server.store.list_runs(function_id="num-echo")
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.output == {"n": BIG, "kind": "int"}
