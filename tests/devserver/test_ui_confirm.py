"""The UI's destructive buttons without JavaScript: the first post only asks (a page naming
what would be destroyed), the confirmed post acts; reruns link to their origin and back; a
malformed page cursor is said so. Over HTTP, on a virtual clock."""

from __future__ import annotations

import datetime
import html as html_lib
import re
from typing import Any

import aiohttp
from aiohttp import web

from inngest_dsl.devserver.store.records import RunStatus

from .clocked import ClockedServer
from .conftest import (
    APP_ID,
    RawApp,
    done_response,
    function_config,
    op,
    ops_response,
    raw_app,
    register,
)
from .conftest import send as send_event

FN = f"{APP_ID}-fn"
BROWSER = {"Accept": "text/html"}


async def _post(clocked: ClockedServer, path: str, fields: dict[str, str]) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession(headers=BROWSER) as session,
        session.post(clocked.url + path, data=fields, allow_redirects=False) as response,
    ):
        return response.status, response.headers.get("Location", ""), await response.text()


async def _get(clocked: ClockedServer, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession(headers=BROWSER) as session,
        session.get(clocked.url + path) as response,
    ):
        return response.status, await response.text()


def _text(html: str) -> str:
    return html_lib.unescape(
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html[html.index("<main") :]))
    )


async def _sleeper(step_id: str, body: dict[str, Any]) -> web.Response:
    if "nap" not in body["steps"]:
        return ops_response(op("Sleep", "nap", opts={"duration": "1h"}))
    return done_response("rested")


def _local(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S"
    )


async def _sleeping(clocked: ClockedServer, app: RawApp, *users: int) -> None:
    """The app's `fn` registered, and one sleeping run of it per user (one if none given)."""
    await register(clocked.server, app, function_config(app, "fn", event="app/go"))
    for user in users or (0,):
        await send_event(clocked.server, {"name": "app/go", "data": {"user": user}})
    await clocked.settle()


async def test_cancel_asks_first_then_cancels_and_says_it_came_from_the_ui(
    clocked: ClockedServer,
) -> None:
    async with raw_app(_sleeper) as app:
        await _sleeping(clocked, app)
        [run] = clocked.store.list_runs()
        path = f"/runs/{run.run_id}/cancel"
        status, _, html = await _post(clocked, path, {})
        assert status == 200
        assert f"Cancel run {run.run_id}?" in _text(html)
        assert 'name="confirm" value="yes"' in html
        assert f'href="/runs/{run.run_id}"' in html  # the way back
        assert clocked.store.get_run(run.run_id).status == RunStatus.RUNNING  # type: ignore[union-attr]

        status, location, _ = await _post(clocked, path, {"confirm": "yes"})
        assert (status, location) == (303, f"/runs/{run.run_id}?done=cancelled")
        _, page = await _get(clocked, f"/runs/{run.run_id}")
    cancelled = clocked.store.get_run(run.run_id)
    assert cancelled is not None
    assert cancelled.status == RunStatus.CANCELLED
    assert cancelled.reason == "cancelled from the dev server UI"
    assert "Reason cancelled from the dev server UI" in _text(page)


async def test_bulk_cancel_shows_how_many_runs_before_it_cancels_them(
    clocked: ClockedServer,
) -> None:
    async with raw_app(_sleeper) as app:
        await _sleeping(clocked, app, 1, 2, 1)
        now = clocked.now()
        form = {"from": _local(now - 600), "to": _local(now + 600), "if": "event.data.user == 1"}
        status, _, html = await _post(clocked, f"/functions/{FN}/cancel", form)
        assert status == 200
        assert f"Cancel 2 runs of {FN}?" in _text(html)
        assert "Yes, cancel 2 runs" in html
        assert len(re.findall(r'<li><a class="mono" href="/runs/', html)) == 2
        assert {r.status for r in clocked.store.list_runs()} == {RunStatus.RUNNING}

        status, location, _ = await _post(
            clocked, f"/functions/{FN}/cancel", {**form, "confirm": "yes"}
        )
    assert status == 303
    assert "done=bulk-cancelled" in location
    cancelled = [r for r in clocked.store.list_runs() if r.status == RunStatus.CANCELLED]
    assert sorted(r.events[0]["data"]["user"] for r in cancelled) == [1, 1]
    assert {r.reason for r in cancelled} == {"cancelled from the dev server UI"}


async def test_removing_an_app_asks_first(clocked: ClockedServer) -> None:
    async with raw_app(_sleeper) as app:
        await register(clocked.server, app, function_config(app, "fn", event="app/go"))
        status, _, html = await _post(clocked, "/apps/remove", {"url": app.url})
        assert status == 200
        assert f"Remove the app {APP_ID}?" in _text(html)
        assert "1 function(s) stop being registered" in _text(html)
        assert clocked.store.get_app(app.url) is not None

        status, location, _ = await _post(
            clocked, "/apps/remove", {"url": app.url, "confirm": "yes"}
        )
    assert (status, location) == (303, "/apps?done=app-removed")
    assert clocked.store.get_app(app.url) is None


async def test_a_rerun_links_to_its_origin_and_the_origin_lists_it(clocked: ClockedServer) -> None:
    async def two_steps(step_id: str, body: dict[str, Any]) -> web.Response:
        if "a" not in body["steps"]:
            return ops_response(op("StepRun", "a", displayName="first step", data=1))
        return done_response("ok")

    async with raw_app(two_steps) as app:
        await register(clocked.server, app, function_config(app, "fn", event="app/go"))
        await send_event(clocked.server, {"name": "app/go"})
        await clocked.settle()
        [origin] = clocked.store.list_runs()
        _, plain, _ = await _post(clocked, f"/runs/{origin.run_id}/rerun", {})
        _, stepped, _ = await _post(clocked, f"/runs/{origin.run_id}/rerun", {"from_step": "a"})
        await clocked.settle()
        rerun_id = plain.split("/runs/")[1].split("?")[0]
        stepped_id = stepped.split("/runs/")[1].split("?")[0]
        _, rerun_page = await _get(clocked, f"/runs/{rerun_id}")
        _, stepped_page = await _get(clocked, f"/runs/{stepped_id}")
        _, origin_page = await _get(clocked, f"/runs/{origin.run_id}")
    assert f'<a class="mono" href="/runs/{origin.run_id}">' in rerun_page
    assert f"Rerun of {origin.run_id} , from the start" in _text(rerun_page)
    assert f"Rerun of {origin.run_id} , from step first step" in _text(stepped_page)
    reruns = _text(origin_page).split("Reruns", 1)[1]
    assert reruns.index(rerun_id) < reruns.index(stepped_id)
    assert "Rerun of" not in _text(origin_page)


async def test_a_malformed_page_cursor_is_said_so_not_the_first_page(
    clocked: ClockedServer,
) -> None:
    async with raw_app(_sleeper) as app:
        await _sleeping(clocked, app)
        [run] = clocked.store.list_runs()
        status, html = await _get(clocked, "/runs?before=zzz")
        good_status, good = await _get(clocked, f"/runs?before={run.run_id}0")
    assert status == 400
    assert "Page: 'zzz' is not a page of this list; start from the first." in _text(html)
    assert run.run_id not in html
    assert '<a href="/runs">← Newest</a>' in html  # the way to the first page
    assert good_status == 400, "one character too many is no run id either"
    assert run.run_id + "0" in good
