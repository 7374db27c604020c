"""An app written with this package's class DSL and aiohttp `serve` runs on the dev server."""

from __future__ import annotations

import datetime
import socket
from collections import Counter
from typing import Any

from aiohttp import web

from inngest_dsl import Context, Inngest, InngestFunction, sleep, step, wait_for_event
from inngest_dsl.aiohttp import serve
from inngest_dsl.devserver import DevServer
from inngest_dsl.devserver.store.records import RunStatus

from .conftest import finished_run_of, running_dev_server, send, wait_until

executed: Counter[str] = Counter()


class Onboarding(InngestFunction, id="onboarding", event="dsl/signup"):
    @step("welcome")
    async def welcome(self, ctx: Context) -> dict[str, Any]:
        executed["welcome"] += 1
        return {"welcomed": ctx.event.data["user"]}

    sleep("200ms")

    confirmed = wait_for_event("dsl/confirmed", timeout="10s", match="data.user")

    @step("wrap up")
    async def wrap_up(self, ctx: Context) -> dict[str, Any]:
        executed["wrap up"] += 1
        return {"confirmed": ctx.data["dsl/confirmed"] is not None}


async def test_class_dsl_app_runs_to_completion(dev_server: DevServer) -> None:
    executed.clear()
    client = Inngest(
        "dsl", is_dev=True, api_base_url=dev_server.url, event_api_base_url=dev_server.url
    )
    app = web.Application()
    serve(app, client, [Onboarding])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        await dev_server.syncer.sync(f"http://127.0.0.1:{port}/api/inngest")
        assert "dsl-onboarding" in dev_server.registry.functions
        await send(dev_server, {"name": "dsl/signup", "data": {"user": "ada"}})
        await wait_until(lambda: bool(dev_server.store.pauses_for_event("dsl/confirmed")))
        await send(dev_server, {"name": "dsl/confirmed", "data": {"user": "bob"}})
        await send(dev_server, {"name": "dsl/confirmed", "data": {"user": "ada"}})
        run = await finished_run_of(dev_server, "dsl-onboarding")
    finally:
        await runner.cleanup()
        await client.close()
    assert run.status == RunStatus.COMPLETED
    assert run.output["welcomed"] == "ada"
    assert run.output["confirmed"] is True
    assert executed == {"welcome": 1, "wrap up": 1}


class Ticker(InngestFunction, id="ticker", cron="* * * * *"):
    @step("tick")
    def tick(self, ctx: Context) -> dict[str, str]:
        return {"fired_by": ctx.event.name}


async def test_signed_dev_server_syncs_a_cloud_mode_app_in_band(tmp_path: Any) -> None:
    """The app answers with its configuration; it never calls its (Cloud) API origin."""
    key = "signkey-test-12345678"

    def soon(expr: str, after: datetime.datetime) -> datetime.datetime:
        return after + datetime.timedelta(milliseconds=100)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{sock.getsockname()[1]}"
    client = Inngest(
        "dsl", is_dev=False, signing_key=key, api_base_url=nowhere, event_api_base_url=nowhere
    )
    app = web.Application()
    serve(app, client, [Ticker])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with running_dev_server(
            str(tmp_path / "db"), signing_key=key, next_fire=soon
        ) as server:
            await server.syncer.sync(f"http://127.0.0.1:{port}/api/inngest")
            assert "dsl-ticker" in server.registry.functions
            # Registered in-band, the cron function is scheduled at once.
            run = await finished_run_of(server, "dsl-ticker")
    finally:
        await runner.cleanup()
        await client.close()
    assert run.status == RunStatus.COMPLETED
    assert run.output == {"fired_by": "inngest/scheduled.timer"}
