"""The web UI in headless Chromium (Debian's `chromium` package), driven over the DevTools protocol.

Nothing is downloaded: the browser is the system's, spoken to with aiohttp's websocket client.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from inngest_dsl.devserver import DevServer
from inngest_dsl.devserver.store.records import RunStatus

from .conftest import raw_app, register
from .ui_flow import EVENT, FUNCTION_ID, checkout, checkout_config

pytestmark = [pytest.mark.slow, pytest.mark.realtime]

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-crash-reporter",
    "--hide-scrollbars",
    "--window-size=1280,1000",
    "--remote-debugging-port=0",
)
SLEEP = "2s"
"""Long enough that the run page is first seen while the run is still going."""


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail(
            "the UI browser test needs Chromium: install Debian's package with "
            "`apt-get install -y chromium` (nothing else is downloaded)"
        )
    return path


class Page:
    """One page target spoken to over the DevTools protocol (commands only; events ignored)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._ids = itertools.count(1)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        await self.ws.send_json({"id": ident, "method": method, "params": params})
        while True:
            message = await asyncio.wait_for(self.ws.receive(), 10)
            if message.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"DevTools connection ended: {message!r}")
            reply: dict[str, Any] = json.loads(message.data)
            if reply.get("id") == ident:
                if "error" in reply:
                    raise AssertionError(f"{method} failed: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 10.0) -> Any:
        """Poll a JS expression until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            with contextlib.suppress(AssertionError):  # the page may be mid-navigation
                last = await self.evaluate(expression)
                if last:
                    return last
            await asyncio.sleep(0.05)
        text = await self.evaluate("document.body ? document.body.innerText : ''")
        raise AssertionError(f"{expression!r} stayed {last!r}; page text: {text[:2000]}")

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", url=url)
        await self.wait_for(
            f"location.href === {json.dumps(url)} && document.readyState === 'complete'"
        )


@contextlib.asynccontextmanager
async def chromium(tmp_path: Path, start_url: str) -> AsyncIterator[Page]:
    profile = tmp_path / "chromium-profile"
    process = await asyncio.create_subprocess_exec(
        chromium_path(),
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        start_url,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,  # its own process group, so its helpers go with it
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 15
        while not port_file.exists() or not port_file.read_text().strip():
            if process.returncode is not None or time.monotonic() > deadline:
                raise AssertionError("Chromium did not open its DevTools port")
            await asyncio.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json()
            page = next(t for t in targets if t["type"] == "page")
            async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                yield Page(ws)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


async def test_send_an_event_from_the_form_and_watch_its_run_complete(
    dev_server: DevServer, tmp_path: Path
) -> None:
    async def app_handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return await checkout(step_id, body, sleep=SLEEP)

    async with raw_app(app_handler) as app, chromium(tmp_path, f"{dev_server.url}/send") as page:
        await register(dev_server, app, checkout_config(app))
        await page.goto(f"{dev_server.url}/send")

        # A bad JSON body is answered inline, on the form, keeping what was typed.
        await page.evaluate(
            f"""
            document.getElementById("event-name").value = {json.dumps(EVENT)};
            document.getElementById("event-data").value = "{{oops";
            document.getElementById("send-button").click();
            """
        )
        error = await page.wait_for(
            "document.getElementById('form-error') && "
            "document.getElementById('form-error').innerText"
        )
        assert "Data is not valid JSON" in error
        assert await page.evaluate("document.getElementById('event-data').value") == "{oops"

        data = {"order": "<script>window.pwned=1</script>", "total": 12, "items": ["mug"]}
        await page.evaluate(
            f"""
            document.getElementById("event-name").value = {json.dumps(EVENT)};
            document.getElementById("event-data").value = {json.dumps(json.dumps(data))};
            document.getElementById("send-button").click();
            """
        )
        run_href = await page.wait_for(
            "location.pathname.startsWith('/events/') && "
            "(document.querySelector('a[href^=\"/runs/\"]') || {}).href"
        )
        heading = await page.evaluate("document.querySelector('h1').innerText")
        assert EVENT in heading

        await page.goto(run_href)
        assert await page.evaluate("document.getElementById('main').dataset.live") == "1000", (
            "the run page polls while the run is going"
        )
        # The page updates itself (no navigation) until the run has completed.
        await page.wait_for(
            "[...document.querySelectorAll('.op-name')].some(e => e.innerText === 'write receipt')"
            " && !document.getElementById('main').dataset.live",
            timeout=15,
        )
        assert await page.evaluate("location.href") == run_href
        names = await page.evaluate(
            "[...document.querySelectorAll('.op-name')].map(e => e.innerText)"
        )
        assert names == ["Run", "reserve stock", "charge card", "cool down", "write receipt"]
        rows = await page.evaluate(
            "[...document.querySelectorAll('li.op')].map(e => e.innerText.replace(/\\s+/g, ' '))"
        )
        assert "Completed" in rows[0]
        assert "2 attempts" in rows[2]
        assert '{"charged": 12}' in rows[2]
        assert "slept 2s" in rows[3]
        assert await page.evaluate("window.pwned === undefined"), "event data is never markup"
        widths = await page.evaluate(
            "[...document.querySelectorAll('.track .bar')]"
            ".map(b => b.getBoundingClientRect().width)"
        )
        assert widths[3] > widths[1] > 0, "the 2 s sleep is drawn longer than the reserve step"

        # Opening an op shows its error; its full output is a click away.
        await page.evaluate("document.querySelectorAll('li.op details')[1].open = true")
        body = await page.evaluate("document.querySelectorAll('.op-body')[1].innerText")
        assert "CardDeclined" in body
        assert "card <b>declined</b>, try again" in body

        shot = await page.send("Page.captureScreenshot", format="png")
        png = base64.b64decode(shot["data"])
        assert png.startswith(b"\x89PNG")
        (tmp_path / "run.png").write_bytes(png)

        await page.goto(f"{dev_server.url}/")
        listing = await page.evaluate("document.querySelector('table.runs').innerText")
        assert "checkout" in listing
        assert "Completed" in listing

    run = dev_server.store.list_runs(function_id=FUNCTION_ID)[0]
    assert run.status == RunStatus.COMPLETED
