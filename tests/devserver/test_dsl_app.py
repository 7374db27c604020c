"""An app written with this package's class DSL and aiohttp `serve` runs on the dev server.

One test runs the whole product as a user starts it: the dev server on its port and the wall
clock, the app on another port, events and calls over HTTP (`realtime`: real HTTP on real time
is its point). The same function also runs on the dev server's engine in a `TestEnvironment`,
on virtual time; and a signed dev server syncs a Cloud-mode app over HTTP in-band, on a
virtual clock.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from inngest_dsl import Context, InngestFunction, sleep, step, wait_for_event
from inngest_dsl.devserver import DevServer
from inngest_dsl.devserver.store.records import RunStatus

from .clocked import virtual_dev_server
from .conftest import cloud_client, dev_client, dsl_app, finished_run_of, send, wait_until
from .dsl_env import ended, environment, instant, run_of, step_status

executed: Counter[str] = Counter()

PATIENCE = 60.0
"""Seconds the real-time test waits at most for what takes milliseconds (never a margin)."""


class Onboarding(InngestFunction, id="onboarding", event="dsl/signup"):
    @step("welcome")
    async def welcome(self, ctx: Context) -> dict[str, Any]:
        executed["welcome"] += 1
        return {"welcomed": ctx.event.data["user"]}

    sleep("200ms")

    confirmed = wait_for_event("dsl/confirmed", timeout="1h", match="data.user")

    @step("wrap up")
    async def wrap_up(self, ctx: Context) -> dict[str, Any]:
        executed["wrap up"] += 1
        return {"confirmed": ctx.data["dsl/confirmed"] is not None}


@pytest.mark.realtime
async def test_class_dsl_app_runs_to_completion(dev_server: DevServer) -> None:
    executed.clear()
    async with dsl_app(dev_client("dsl", dev_server.url), [Onboarding]) as url:
        await dev_server.syncer.sync(url)
        assert "dsl-onboarding" in dev_server.registry.functions
        await send(dev_server, {"name": "dsl/signup", "data": {"user": "ada"}})
        await wait_until(
            lambda: bool(dev_server.store.pauses_for_event("dsl/confirmed")), timeout=PATIENCE
        )
        await send(dev_server, {"name": "dsl/confirmed", "data": {"user": "bob"}})
        await send(dev_server, {"name": "dsl/confirmed", "data": {"user": "ada"}})
        run = await finished_run_of(dev_server, "dsl-onboarding", timeout=PATIENCE)
    assert run.status == RunStatus.COMPLETED
    assert run.output["welcomed"] == "ada"
    assert run.output["confirmed"] is True
    assert executed == {"welcome": 1, "wrap up": 1}


async def test_class_dsl_app_runs_to_completion_on_virtual_time() -> None:
    executed.clear()
    async with environment([Onboarding], app_id="dsl") as env:
        [signup] = await env.send({"name": "dsl/signup", "data": {"user": "ada"}})
        assert await step_status(env, signup, "sleep 200ms") == "Sleeping"
        await env.advance("200ms")
        assert await step_status(env, signup, "dsl/confirmed") == "Waiting"

        await env.send({"name": "dsl/confirmed", "data": {"user": "bob"}})
        assert (await run_of(env, signup)).status == "Running"  # not bob's confirmation
        await env.send({"name": "dsl/confirmed", "data": {"user": "ada"}})
        run = await ended(env, signup)

    assert run.function_id == "dsl-onboarding"
    assert run.output["welcomed"] == "ada"
    assert run.output["confirmed"] is True
    assert executed == {"welcome": 1, "wrap up": 1}


class Ticker(InngestFunction, id="ticker", cron="* * * * *"):
    @step("tick")
    def tick(self, ctx: Context) -> dict[str, str]:
        return {"fired_by": ctx.event.name}


async def test_signed_dev_server_syncs_a_cloud_mode_app_in_band(tmp_path: Path) -> None:
    """The app answers with its configuration; it never calls its (Cloud) API origin."""
    key = "signkey-test-12345678"

    # HTTP for real, time on a clock the test moves.
    async with (
        dsl_app(cloud_client("dsl", key), [Ticker]) as url,
        virtual_dev_server(tmp_path / "db", signing_key=key, poll_interval=3600.0) as clocked,
    ):
        server = clocked.server
        await server.syncer.sync(url)
        assert "dsl-ticker" in server.registry.functions

        # Registered in-band, the cron function is scheduled at once: its first minute
        # comes, and the tick runs (calling the app over HTTP).
        await clocked.finished_run("dsl-ticker", within="1m")
        [run] = server.store.list_runs(function_id="dsl-ticker")
    assert run.status == RunStatus.COMPLETED
    assert run.output == {"fired_by": "inngest/scheduled.timer"}
    assert run.queued_at == instant("2026-01-01T00:01:00Z").timestamp()
