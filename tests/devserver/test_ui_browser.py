"""The send form and a run page that updates itself, in headless Chromium (Debian's package)
driven by Playwright; nothing is downloaded."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import expect

from inngest_dsl.devserver import DevServer
from inngest_dsl.devserver.store.records import RunStatus

from .browser import browser_page
from .conftest import raw_app, register
from .ui_flow import EVENT, FUNCTION_ID, checkout, checkout_config

pytestmark = [pytest.mark.slow, pytest.mark.realtime]

SLEEP = "2s"
"""Long enough that the run page is first seen while the run is still going."""


async def test_send_an_event_from_the_form_and_watch_its_run_complete(
    dev_server: DevServer,
) -> None:
    async def app_handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return await checkout(step_id, body, sleep=SLEEP)

    async with raw_app(app_handler) as app, browser_page() as page:
        await register(dev_server, app, checkout_config(app))
        await page.goto(f"{dev_server.url}/send")

        # A bad JSON body is answered inline, on the form, keeping what was typed.
        await page.fill("#event-name", EVENT)
        await page.fill("#event-data", "{oops")
        await page.click("#send-button")
        await expect(page.locator("#form-error")).to_contain_text("Data is not valid JSON")
        await expect(page.locator("#event-data")).to_have_value("{oops")

        data = {"order": "<script>window.pwned=1</script>", "total": 12, "items": ["mug"]}
        await page.fill("#event-name", EVENT)
        await page.fill("#event-data", json.dumps(data))
        await page.click("#send-button")
        await expect(page.locator("h1")).to_contain_text(EVENT)
        run_link = page.locator('table.runs a[href^="/runs/"]')
        await expect(run_link).to_have_count(1)
        await run_link.click()

        main = page.locator("#main")
        await expect(main).to_have_attribute("data-live", "1000")  # polls while going
        run_url = page.url
        # The page updates itself (no navigation) until the run has completed.
        await expect(page.locator(".op-name")).to_have_text(
            ["Run", "reserve stock", "charge card", "cool down", "write receipt"], timeout=30_000
        )
        await expect(main).not_to_have_attribute("data-live", "1000")
        assert page.url == run_url
        rows = page.locator("li.op")
        await expect(rows.nth(0)).to_contain_text("Completed")
        await expect(rows.nth(2)).to_contain_text("2 attempts")
        await expect(rows.nth(2)).to_contain_text('{"charged": 12}')
        await expect(rows.nth(3)).to_contain_text("slept 2s")
        assert await page.evaluate("window.pwned === undefined"), "event data is never markup"
        widths = await page.locator(".track .bar").evaluate_all(
            "bars => bars.map(b => b.getBoundingClientRect().width)"
        )
        assert widths[3] > widths[1] > 0, "the 2 s sleep is drawn longer than the reserve step"

        # Opening an op shows its error; its full output is a click away.
        await rows.nth(2).locator("summary").click()
        body = rows.nth(2).locator(".op-body")
        await expect(body).to_contain_text("CardDeclined")
        await expect(body).to_contain_text("card <b>declined</b>, try again")

        await page.goto(f"{dev_server.url}/")
        listing = page.locator("table.runs")
        await expect(listing).to_contain_text("checkout")
        await expect(listing).to_contain_text("Completed")

    run = dev_server.store.list_runs(function_id=FUNCTION_ID)[0]
    assert run.status == RunStatus.COMPLETED
