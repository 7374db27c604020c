"""The dev server as a workbench, in a real browser: every action button is clicked and its
outcome checked in the page and in the store; the pages a person reads are screenshotted.

Real time (a real server, a real browser): every wait is Playwright's, ending as soon as the
page shows what is awaited; the runs that must stay pending sleep or wait for an hour.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Dialog, Locator, Page, expect

from inngest_dsl.devserver import DevServer
from inngest_dsl.devserver.store.records import RunRecord, RunStatus
from tests.loopback import on_loopback

from .browser import browser_page, screenshot
from .conftest import (
    SDK_HEADERS,
    RawApp,
    done_response,
    function_config,
    op,
    ops_response,
    raw_app,
    register,
    send,
    wait_until,
)
from .ui_flow import EVENT, FUNCTION_ID, checkout

pytestmark = [pytest.mark.slow, pytest.mark.realtime]

TRACEBACK = """Traceback (most recent call last):
  File "/srv/venv/lib/python3.11/site-packages/inngest_dsl/engine/_execute.py", line 88, in walk
    result = await body(self, ctx)
  File "/home/dev/shop/orders.py", line 12, in charge
    raise ValueError(f"total must be positive, got {total}")
ValueError: total must be positive, got -3"""


async def broken(body: dict[str, Any]) -> web.Response:
    error = {"name": "ValueError", "message": "total must be positive, got -3", "stack": TRACEBACK}
    return web.json_response(
        error, status=500, headers={**SDK_HEADERS, "X-Inngest-No-Retry": "true"}
    )


async def waiter(body: dict[str, Any]) -> web.Response:
    if "approval" not in body["steps"]:
        opts = {
            "event": "shop/approved",
            "if": "async.data.order == event.data.order",
            "timeout": "1h",
        }
        return ops_response(
            op("WaitForEvent", "approval", displayName="wait for approval", opts=opts)
        )
    return done_response({"approved": body["steps"]["approval"] is not None})


async def sleeper(body: dict[str, Any]) -> web.Response:
    if "nap" not in body["steps"]:
        return ops_response(op("Sleep", "nap", displayName="nap", opts={"duration": "1h"}))
    return done_response("rested")


class Workbench:
    """One raw app serving four functions, dispatched by the event (or the invoked id)."""

    def __init__(self) -> None:
        self.reserve_calls = 0
        self.app: RawApp | None = None

    async def __call__(self, step_id: str, body: dict[str, Any]) -> web.Response:
        event = body["event"]
        name = event["name"]
        if name == "inngest/function.invoked":
            name = {"raw-checkout": EVENT}.get(event["data"]["_inngest"]["fn_id"], name)
        if name == EVENT:
            if "reserve" not in body["steps"]:
                self.reserve_calls += 1
            return await checkout(step_id, body, sleep="10ms")
        if name == "shop/broken":
            return await broken(body)
        if name == "shop/approval":
            return await waiter(body)
        return await sleeper(body)

    def configs(self, app: RawApp) -> list[dict[str, Any]]:
        return [
            function_config(app, "checkout", event=EVENT),
            function_config(app, "broken", event="shop/broken", retries=0),
            function_config(app, "waiter", event="shop/approval"),
            self.sleeper_config(app),
        ]

    def sleeper_config(self, app: RawApp) -> dict[str, Any]:
        """A function with flow control and a cron trigger, for the function page to show."""
        config = function_config(
            app,
            "sleeper",
            event="shop/nap",
            concurrency=[{"limit": 5, "key": "event.data.user"}],
            rateLimit={"limit": 10, "period": "1h"},
        )
        config["triggers"].append({"cron": "0 9 * * 1-5"})
        return config


@pytest.fixture
async def workbench(dev_server: DevServer) -> AsyncIterator[Workbench]:
    bench = Workbench()
    async with raw_app(bench) as app:
        bench.app = app
        await register(dev_server, app, *bench.configs(app))
        yield bench


def runs_of(server: DevServer, function_id: str) -> list[RunRecord]:
    return server.store.list_runs(function_id=function_id)


async def run_in(server: DevServer, function_id: str, statuses: tuple[str, ...]) -> RunRecord:
    """The newest run of the function once it is in one of `statuses`."""
    found: list[RunRecord] = []

    def ready() -> bool:
        found[:] = [r for r in runs_of(server, function_id)[:1] if r.status in statuses]
        return bool(found)

    await wait_until(ready, timeout=20)
    return found[0]


async def open_run(page: Page, server: DevServer, run_id: str) -> None:
    await page.goto(f"{server.url}/runs/{run_id}")
    await expect(page.locator("h1")).to_contain_text(run_id)


async def answer_dialog(page: Page, button: str | Locator, *, accept: bool) -> str:
    """Click `button`, accept or dismiss the dialog it opens; the dialog's message."""
    messages: list[str] = []

    async def answer(dialog: Dialog) -> None:
        messages.append(dialog.message)
        await (dialog.accept() if accept else dialog.dismiss())

    page.once("dialog", answer)
    await (page.locator(button) if isinstance(button, str) else button).click()
    assert messages, "no dialog asked"
    return messages[0]


def utc_local(moment: float) -> str:
    """A `datetime-local` input's value for an instant (the UI takes them as UTC)."""
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S"
    )


async def test_runs_list_search_and_a_failed_run(
    dev_server: DevServer, workbench: Workbench
) -> None:
    await send(dev_server, {"name": EVENT, "data": {"order": "A-1", "total": 30}})
    ok = await run_in(dev_server, FUNCTION_ID, (RunStatus.COMPLETED,))
    await send(dev_server, {"name": "shop/broken", "data": {"total": -3}})
    failed = await run_in(dev_server, "raw-broken", (RunStatus.FAILED,))

    async with browser_page() as page:
        await page.goto(f"{dev_server.url}/runs")  # a browser at /runs gets the runs page
        rows = page.locator("table.runs tbody tr")
        await expect(rows).to_have_count(2)
        await expect(rows.first).to_contain_text(failed.run_id)  # newest first
        await expect(page.locator(".badge-failed").first).to_be_visible()
        await screenshot(page, "runs-list")

        # Search by run id, then by status through the tabs.
        await page.fill("#search-q", ok.run_id)
        await page.click("#search-button")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text(ok.run_id)
        await page.goto(f"{dev_server.url}/runs")
        await page.get_by_role("link", name=re.compile(r"^Failed")).click()
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text(failed.run_id)
        # Internal events are hidden from the events list until asked for.
        await page.goto(f"{dev_server.url}/events")
        await expect(page.locator("table.events")).not_to_contain_text("inngest/function")
        await screenshot(page, "events-list")
        await page.click("#internal-toggle")
        await expect(page.locator("table.events")).to_contain_text("inngest/function.failed")

        await open_run(page, dev_server, failed.run_id)
        box = page.locator("#run-error")
        await expect(box.locator(".error-message")).to_have_text(
            "ValueError: total must be positive, got -3"
        )
        # The user's frame is shown; the SDK's is folded away.
        stack = box.locator("pre.stack").first
        await expect(stack).to_contain_text('File "/home/dev/shop/orders.py", line 12')
        await expect(stack).not_to_contain_text("_execute.py")
        await expect(box.locator("details.library-frames")).to_contain_text("1 frame")
        await expect(page.locator(".track .bar-failed").first).to_be_visible()
        await screenshot(page, "failed-run")


async def test_cancel_a_waiting_run_and_rerun_a_completed_one(
    dev_server: DevServer, workbench: Workbench
) -> None:
    await send(dev_server, {"name": "shop/approval", "data": {"order": "A-7"}})
    waiting = await run_in(dev_server, "raw-waiter", (RunStatus.RUNNING,))
    await wait_until(lambda: bool(dev_server.store.pauses_of_run(waiting.run_id)), timeout=20)
    await send(dev_server, {"name": EVENT, "data": {"order": "A-2", "total": 12}})
    done = await run_in(dev_server, FUNCTION_ID, (RunStatus.COMPLETED,))

    async with browser_page() as page:
        await open_run(page, dev_server, waiting.run_id)
        line = page.locator(".op-wait")
        await expect(line).to_contain_text("waiting for shop/approved")
        await expect(line).to_contain_text("if async.data.order == event.data.order")
        await expect(page.locator(".op-kind").first).to_have_text("Wait")
        await screenshot(page, "waiting-run")

        # Cancelling asks first: dismissed, nothing changes; accepted, the run is cancelled.
        asked = await answer_dialog(page, "#cancel-button", accept=False)
        assert f"Cancel run {waiting.run_id}?" in asked
        await expect(page.locator("h1 .badge")).to_have_text("Running")
        assert dev_server.store.get_run(waiting.run_id).status == RunStatus.RUNNING  # type: ignore[union-attr]
        await answer_dialog(page, "#cancel-button", accept=True)
        await expect(page.locator("#notice")).to_have_text("Run cancelled.")
        await expect(page.locator("h1 .badge")).to_have_text("Cancelled")
        await expect(page.locator(".facts .reason")).to_have_text(
            "cancelled from the dev server UI"
        )
        assert dev_server.store.get_run(waiting.run_id).status == RunStatus.CANCELLED  # type: ignore[union-attr]
        assert await page.locator(".op-run .bar-cancelled").count() == 1, "not green"

        # Rerun: a new run of the same function with the same event, which completes.
        await open_run(page, dev_server, done.run_id)
        await expect(page.locator(".op-kind").first).to_have_text("Step")
        await page.click("#rerun-button")
        await expect(page.locator("#notice")).to_contain_text("A new run started")
        await expect(page.locator("h1")).not_to_contain_text(done.run_id)
        await expect(page.locator("h1 .badge")).to_have_text("Completed")
        await expect(page.locator("#rerun-of")).to_contain_text(f"{done.run_id}, from the start")
        assert len(runs_of(dev_server, FUNCTION_ID)) == 2
        assert workbench.reserve_calls == 2

        # Rerun from "charge card": "reserve stock" keeps its result and is not run again.
        await open_run(page, dev_server, done.run_id)
        await page.select_option("#rerun-from-step", label="charge card")
        await page.click("#rerun-from-button")
        await expect(page.locator("#notice")).to_contain_text("from the chosen step")
        await expect(page.locator("h1 .badge")).to_have_text("Completed")
        await expect(page.locator("#rerun-of")).to_contain_text("from step charge card")
        kept = page.locator(".op-kept")
        await expect(kept).to_have_count(1)  # "reserve stock" only: its result, not a new run
        await expect(page.locator('li[data-step-id="reserve"] .op-kept')).to_have_text("kept")
        await screenshot(page, "rerun-from-a-step")
        newest = runs_of(dev_server, FUNCTION_ID)[0]
        # The origin lists both reruns, and each links back to it.
        await page.locator("#rerun-of a").click()
        await expect(page.locator("h1")).to_contain_text(done.run_id)
        await expect(page.locator("#reruns li")).to_have_count(2)
        await expect(page.locator("#reruns li").last).to_contain_text(newest.run_id)
        await expect(page.locator("#reruns li").last).to_contain_text("from step charge card")
        await screenshot(page, "rerun-origin")
        assert newest.run_id not in (done.run_id,)
        assert newest.status == RunStatus.COMPLETED
        assert workbench.reserve_calls == 2, "the steps before the chosen one are not rerun"
        steps = {s.step_id: s for s in dev_server.store.list_steps(newest.run_id)}
        assert steps["reserve"].status == "Completed"


async def test_function_page_invokes_and_cancels_many(
    dev_server: DevServer, workbench: Workbench
) -> None:
    for user in (1, 2):
        await send(dev_server, {"name": "shop/nap", "data": {"user": user}})
    await wait_until(
        lambda: (
            sum(r.status == RunStatus.RUNNING for r in runs_of(dev_server, "raw-sleeper")) == 2
            and all(
                dev_server.store.queue_for_run(r.run_id) for r in runs_of(dev_server, "raw-sleeper")
            )
        ),
        timeout=20,
    )
    sleepers = runs_of(dev_server, "raw-sleeper")

    async with browser_page() as page:
        # A sleeping step says when it wakes.
        await open_run(page, dev_server, sleepers[0].run_id)
        await expect(page.locator(".op-wake")).to_contain_text("wakes at")
        await expect(page.locator(".op-wake")).to_contain_text("(in 59m")
        await screenshot(page, "sleeping-run")

        await page.goto(f"{dev_server.url}/functions/raw-checkout")
        await expect(page.locator("#function-config")).to_contain_text(EVENT)
        await expect(page.locator("#function-config")).to_contain_text("Retries")
        await page.fill("#invoke-data", '{"order": "INV-1", "total": 5}')
        await page.click("#invoke-button")
        await expect(page.locator("#notice")).to_have_text("The function was invoked.")
        await expect(page.locator("h1 .badge")).to_have_text("Completed")
        invoked = runs_of(dev_server, FUNCTION_ID)[0]
        assert invoked.events[0]["name"] == "inngest/function.invoked"
        assert invoked.events[0]["data"]["order"] == "INV-1"
        assert invoked.output == {"order": "INV-1", "status": "shipped"}

        # A payload that is not JSON is refused with the reason, and nothing runs.
        await page.goto(f"{dev_server.url}/functions/raw-checkout")
        await page.fill("#invoke-data", "{oops")
        await page.click("#invoke-button")
        await expect(page.locator("#problem")).to_contain_text("Data is not valid JSON")
        assert len(runs_of(dev_server, FUNCTION_ID)) == 1

        # Cancel the sleepers queued in the last minute whose user is 1: only that one.
        await page.goto(f"{dev_server.url}/functions/raw-sleeper")
        now = dev_server.store.list_runs()[0].queued_at
        await page.fill("#bulk-from", utc_local(now - 600))
        await page.fill("#bulk-to", utc_local(now + 600))
        await page.fill("#bulk-if", "event.data.user == 1")
        await page.click("#bulk-cancel-button")
        # A page asks first, saying how many: going back changes nothing.
        await expect(page.locator("#confirm-question")).to_have_text("Cancel 1 run of raw-sleeper?")
        await expect(page.locator("#confirm-items li")).to_have_count(1)
        await screenshot(page, "bulk-cancel-confirm")
        await page.click("#confirm-back")
        await expect(page.locator("#bulk-cancel-form")).to_be_visible()
        assert {r.status for r in runs_of(dev_server, "raw-sleeper")} == {RunStatus.RUNNING}
        await page.fill("#bulk-from", utc_local(now - 600))
        await page.fill("#bulk-to", utc_local(now + 600))
        await page.fill("#bulk-if", "event.data.user == 1")
        await page.click("#bulk-cancel-button")
        await page.click("#confirm-yes")
        await expect(page.locator("#notice")).to_have_text("Matching runs cancelled.")
        await expect(page.locator("table.runs tbody tr")).to_have_count(1)
        await expect(page.locator("table.runs .reason")).to_have_text(
            "cancelled from the dev server UI"
        )
        await page.goto(f"{dev_server.url}/functions/raw-sleeper")
        config = page.locator("#function-config")
        await expect(config).to_contain_text("5 at once per event.data.user")
        await expect(config).to_contain_text("10 per 1h")
        await expect(config.locator(".cron-fires li")).to_have_count(5)
        await expect(page.locator("#function-state")).to_contain_text("0 / 5 slots in use")
        await expect(page.locator("#function-state")).to_contain_text("Rate limit")
        await screenshot(page, "function-page")
        statuses = collections.Counter(
            (r.events[0]["data"]["user"], r.status) for r in runs_of(dev_server, "raw-sleeper")
        )
        assert statuses == {(1, RunStatus.CANCELLED): 1, (2, RunStatus.RUNNING): 1}


@contextlib.asynccontextmanager
async def shelf_app(server: DevServer) -> AsyncIterator[str]:
    """An app that registers one function (`shelf-stock`) with the server when pinged."""
    url = ""

    async def ping(request: web.Request) -> web.Response:
        body = {
            "url": url,
            "appName": "shelf",
            "sdk": "raw:v1",
            "functions": [
                {
                    "id": "shelf-stock",
                    "name": "stock",
                    "triggers": [{"event": "shelf/restock"}],
                    "steps": {
                        "step": {
                            "id": "step",
                            "name": "step",
                            "runtime": {"type": "http", "url": f"{url}?fnId=shelf-stock"},
                        }
                    },
                }
            ],
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{server.url}/fn/register", json=body) as response,
        ):
            assert response.status == 200, await response.text()
        return web.json_response({}, headers=SDK_HEADERS)

    web_app = web.Application()
    web_app.router.add_put("/api/inngest", ping)
    async with on_loopback(web_app) as origin:
        url = origin + "/api/inngest"
        yield url


async def test_apps_page_adds_resyncs_and_removes_an_app(
    dev_server: DevServer, workbench: Workbench
) -> None:
    async with shelf_app(dev_server) as url, browser_page() as page:
        await page.goto(f"{dev_server.url}/apps")
        await expect(page.locator("tr.app-row")).to_have_count(1)  # the workbench's app

        await page.fill("#app-url", url)
        await page.click("#add-app-button")
        await expect(page.locator("#notice")).to_have_text("App added and synced.")
        row = page.locator(f'tr.app-row[data-url="{url}"]')
        await expect(row).to_contain_text("shelf")
        await expect(row).to_contain_text("stock")
        app = dev_server.store.get_app(url)
        assert app is not None
        assert app.error is None
        first_sync = app.synced_at
        assert first_sync is not None
        assert "shelf-stock" in {f.id for f in dev_server.store.list_functions()}

        await screenshot(page, "apps-page")
        await row.locator(".resync-button").click()
        await expect(page.locator("#notice")).to_have_text("App synced.")
        resynced = dev_server.store.get_app(url)
        assert resynced is not None
        assert resynced.synced_at is not None
        assert resynced.synced_at >= first_sync

        asked = await answer_dialog(page, row.locator(".remove-button"), accept=False)
        assert "Remove the app shelf?" in asked
        await expect(row).to_be_visible()
        assert dev_server.store.get_app(url) is not None
        await answer_dialog(page, row.locator(".remove-button"), accept=True)
        await expect(page.locator("#notice")).to_have_text("App removed.")
        await expect(page.locator(f'tr.app-row[data-url="{url}"]')).to_have_count(0)
        assert dev_server.store.get_app(url) is None
        assert "shelf-stock" not in {f.id for f in dev_server.store.list_functions()}

        # A URL that is not one is refused with the reason.
        await page.fill("#app-url", "ftp://nowhere")
        await page.click("#add-app-button")
        await expect(page.locator("#problem")).to_contain_text("http(s) serve URL")
