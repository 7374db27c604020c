"""The inngest_dev_server fixture: real DSL functions running to completion on the dev server."""

from __future__ import annotations

from typing import Any

import pytest

from inngest_dsl import Context, InngestFunction, NonRetriableError, sleep, step, wait_for_event
from inngest_dsl.pytest_plugin import StartDevServer
from inngest_dsl.testing import DevServerHarness


class Onboard(InngestFunction, id="onboard", event="test/user.created", retries=1):
    @step("create account")
    async def create(self, ctx: Context) -> dict[str, Any]:
        return {"account": f"acct-{ctx.event.data['user_id']}"}

    sleep("200ms")

    verified = wait_for_event("test/user.verified", timeout="5s", match="data.user_id")

    @step("greet")
    def greet(self, ctx: Context) -> str:
        return "verified" if ctx[Onboard.verified] is not None else "unverified"


class Refuse(InngestFunction, id="refuse", event="test/refuse"):
    @step("refuse")
    def refuse(self, ctx: Context) -> None:
        raise NonRetriableError("not today")


async def test_step_sleep_wait_and_step_complete_on_the_dev_server(
    inngest_dev_server: StartDevServer,
) -> None:
    server = await inngest_dev_server([Onboard, Refuse])
    [event_id] = await server.send("test/user.created", {"user_id": "u1"})
    # Events sent before the wait is armed never match it: wait for the pause first.
    await server.wait_for_step(event_id, "test/user.verified", "Waiting")
    await server.send("test/user.verified", {"user_id": "u1"})

    run = await server.wait_for_run(event_id, "Completed")

    assert run.function_id == "test-app-onboard"
    assert run.output["account"] == "acct-u1"
    assert run.output["greet"] == "verified"
    assert run.output["test/user.verified"]["data"] == {"user_id": "u1"}
    kinds = [(s["name"], s["kind"], s["status"]) for s in run.steps]
    assert kinds[0] == ("create account", "Run", "Completed")
    assert run.step("sleep 200ms")["kind"] == "Sleep"


async def test_wait_for_run_reports_an_unexpected_status_with_the_run(
    inngest_dev_server: StartDevServer,
) -> None:
    server = await inngest_dev_server([Refuse])
    [event_id] = await server.send("test/refuse", {})
    with pytest.raises(AssertionError, match=r"ended Failed, expected Completed") as info:
        await server.wait_for_run(event_id)
    assert "not today" in str(info.value)
    run = await server.wait_for_run(event_id, "failed")
    assert run.error["message"] == "not today"


async def test_an_event_no_function_listens_to_times_out_clearly(
    inngest_dev_server: StartDevServer,
) -> None:
    server = await inngest_dev_server([Refuse])
    [event_id] = await server.send("test/nobody.listens", {})
    with pytest.raises(AssertionError, match="has started no run"):
        await server.wait_for_run(event_id, timeout=0.2)


async def test_the_harness_works_as_an_async_context_manager() -> None:
    async with DevServerHarness([Refuse], app_id="ctx-app") as server:
        assert server.url.startswith("http://127.0.0.1:")
        [event_id] = await server.send({"name": "test/refuse", "data": {}})
        run = await server.wait_for_run(event_id, "Failed")
        assert run.function_id == "ctx-app-refuse"
    with pytest.raises(RuntimeError, match="not started"):
        server.client
