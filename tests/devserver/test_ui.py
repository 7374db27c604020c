"""The web UI over HTTP: pages render what the store holds, escape everything, forms answer."""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from inngest_dsl.devserver import DevServer
from inngest_dsl.devserver.store.records import RunRecord, RunStatus

from .clocked import ClockedServer
from .conftest import (
    RawApp,
    error_response,
    function_config,
    op,
    ops_response,
    raw_app,
    register,
    send,
)
from .ui_flow import EVENT, FUNCTION_ID, checkout, checkout_config

BROWSER_ACCEPT = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
ORDER = {"order": "A-1", "total": 30, "items": ["<script>alert('items')</script>", "mug"]}


async def get(server: DevServer, path: str) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession(headers=BROWSER_ACCEPT) as session,
        session.get(server.url + path) as response,
    ):
        return response.status, response.content_type, await response.text()


async def post_form(
    server: DevServer, fields: dict[str, str], headers: dict[str, str] | None = None
) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            server.url + "/send", data=fields, headers=headers, allow_redirects=False
        ) as response,
    ):
        return response.status, response.headers.get("Location", ""), await response.text()


def text_of(html: str) -> str:
    """Visible text, roughly: tags dropped, whitespace squeezed (entities left as written)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def dev_server(clocked: ClockedServer) -> DevServer:
    """The dev server of these tests: over HTTP, on a virtual clock."""
    return clocked.server


@pytest.fixture
async def checkout_app(clocked: ClockedServer) -> AsyncIterator[RawApp]:
    async def work(seconds: float) -> None:
        clocked.clock.move_to(clocked.now() + seconds)  # the work takes that long

    async with raw_app(functools.partial(checkout, work=work)) as app:
        await register(clocked.server, app, checkout_config(app))
        yield app


@pytest.fixture
async def checkout_run(clocked: ClockedServer, checkout_app: RawApp) -> RunRecord:
    await send(clocked.server, {"name": EVENT, "data": ORDER})
    return await clocked.finished_run(FUNCTION_ID)


async def test_runs_page_lists_runs_with_status_timing_and_trigger(
    dev_server: DevServer, checkout_run: RunRecord
) -> None:
    status, content_type, html = await get(dev_server, "/")
    assert status == 200
    assert content_type == "text/html"
    assert f'href="/runs/{checkout_run.run_id}"' in html
    assert "badge-completed" in html
    row = html[html.index(f"/runs/{checkout_run.run_id}") :]
    row = row[: row.index("</tr>")]
    assert ">checkout<" in row
    assert re.search(r"\d+ ms", row), row
    assert f">{EVENT}<" in row
    for page in ("/events", "/functions", "/send"):
        assert f'href="{page}"' in html


async def test_run_page_shows_each_op_with_duration_attempts_output_and_error(
    dev_server: DevServer, checkout_run: RunRecord
) -> None:
    status, _, html = await get(dev_server, f"/runs/{checkout_run.run_id}")
    assert status == 200
    names = re.findall(r'class="op-name"[^>]*>([^<]*)<', html)
    assert names == ["Run", "reserve stock", "charge card", "cool down", "write receipt"]
    rows = html.split('<li class="op ')[2:]
    charge = rows[1]
    assert "2 attempts" in charge
    assert "CardDeclined" in charge
    assert "card &lt;b&gt;declined&lt;/b&gt;, try again" in charge
    assert "<b>declined" not in html
    assert "&#34;charged&#34;: 30" in charge
    assert "slept 400ms" in rows[2]
    assert "op-sleep" in rows[2]
    bars = re.findall(r'class="bar [^"]*" style="left:([\d.]+)%;width:([\d.]+)%"', html)
    assert len(bars) == 5
    lefts = [float(left) for left, _ in bars]
    assert lefts[0] == 0.0
    assert lefts[1:] == sorted(lefts[1:]), "ops are drawn in the order they ran"
    assert len(set(lefts[1:])) == 4, f"each op started after the one before: {lefts}"
    assert float(bars[3][1]) > 30, "a 400ms sleep takes a large part of a sub-second run"
    assert "Show all (" in rows[3], "the receipt's long output is cut with a way to see it all"
    assert '"shipped"' in html.replace("&#34;", '"')
    assert "data-live" not in html, "a finished run does not poll"
    assert "&lt;script&gt;alert(&#39;items&#39;)&lt;/script&gt;" in html
    assert "<script>alert(" not in html


async def test_events_and_functions_pages_link_runs_and_show_triggers(
    dev_server: DevServer, checkout_app: RawApp, checkout_run: RunRecord
) -> None:
    _, _, events = await get(dev_server, "/events")
    event = dev_server.store.list_events(1, EVENT)[0]
    assert f'href="/events/{event.internal_id}"' in events
    assert f'href="/runs/{checkout_run.run_id}"' in events
    status, _, detail = await get(dev_server, f"/events/{event.internal_id}")
    assert status == 200
    assert f'href="/runs/{checkout_run.run_id}"' in detail
    assert "&#34;total&#34;: 30" in detail
    _, _, functions = await get(dev_server, "/functions")
    assert FUNCTION_ID in functions
    assert f'href="/events?name={EVENT.replace("/", "%2F")}"' in functions
    assert "if event.data.total &gt; 0" in functions
    assert checkout_app.url in functions
    finished = dev_server.store.list_events(1, "inngest/function.finished")[0]
    _, _, internal = await get(dev_server, f"/events/{finished.internal_id}")
    assert f'href="/runs/{checkout_run.run_id}"' in internal, "an internal event links its run"
    assert "send again" not in internal, "reserved names cannot be sent from the form"


async def test_status_filter_shows_only_runs_in_that_status(
    dev_server: DevServer, clocked: ClockedServer, checkout_run: RunRecord
) -> None:
    async def broken(step_id: str, body: dict[str, Any]) -> web.Response:
        return error_response("boom", headers={"X-Inngest-No-Retry": "true"})

    async with raw_app(broken) as app:
        await register(dev_server, app, function_config(app, "broken", event="app/break"))
        await send(dev_server, {"name": "app/break"})
        failed = await clocked.finished_run("raw-broken")
    assert failed.status == RunStatus.FAILED
    _, _, only_failed = await get(dev_server, "/?status=failed")
    assert f"/runs/{failed.run_id}" in only_failed
    assert f"/runs/{checkout_run.run_id}" not in only_failed
    _, _, both = await get(dev_server, "/")
    assert f"/runs/{failed.run_id}" in both
    assert f"/runs/{checkout_run.run_id}" in both
    _, _, by_function = await get(dev_server, "/?function=raw-broken")
    assert f"/runs/{checkout_run.run_id}" not in by_function
    # The tab counts follow the function filter too.
    assert 'All <span class="count">1</span>' in by_function
    assert 'Completed <span class="count">0</span>' in by_function
    assert 'All <span class="count">2</span>' in both
    status, _, unknown = await get(dev_server, "/?status=<nope>")
    assert status == 200
    assert "Status: &#39;&lt;nope&gt;&#39; is not one of" in unknown
    _, _, failed_page = await get(dev_server, f"/runs/{failed.run_id}")
    assert "<h2>Error</h2>" in failed_page
    assert "boom" in failed_page


async def test_malicious_event_name_and_data_are_escaped_everywhere(
    dev_server: DevServer,
) -> None:
    name = '<script>alert("name")</script>'
    data = {"<b>key</b>": "<img src=x onerror=alert(1)>", "quote": "\" onmouseover='x'"}
    reply = await send(dev_server, {"name": name, "data": data, "id": "<i>id</i>"})
    internal_id = reply["ids"][0]
    pages = ["/events", f"/events/{internal_id}", "/events?name=%3Cscript%3E"]
    for page in pages:
        status, _, html = await get(dev_server, page)
        assert status == 200, page
        body = html[html.index("<main") :]
        assert "<script>alert" not in body, page
        assert "<img" not in body, page
        assert "<b>key" not in body, page
        assert "<i>id" not in body, page
    _, _, detail = await get(dev_server, f"/events/{internal_id}")
    assert "&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;" in detail
    assert "&lt;img src=x onerror=alert(1)&gt;" in detail
    assert "&lt;i&gt;id&lt;/i&gt;" in detail
    assert detail.count("<script") == 1, "only the page's own live-update script"


async def test_unknown_run_and_event_are_html_404s(dev_server: DevServer) -> None:
    status, content_type, html = await get(dev_server, "/runs/<missing>")
    assert status == 404
    assert content_type == "text/html"
    assert "Run not found" in html
    assert "&lt;missing&gt;" in html
    status, _, html = await get(dev_server, "/events/nope")
    assert status == 404
    assert "Event not found" in html


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "app/x", "data": "{not json"}, "Data is not valid JSON: Expecting property"),
        ({"name": "app/x", "data": "[1, 2]"}, "Data must be a JSON object"),
        ({"name": "app/x", "data": '{"total": NaN}'}, "Data is not valid JSON: NaN is not JSON"),
        ({"name": "app/x", "data": '{"t": Infinity}'}, "Data is not valid JSON: Infinity is not"),
        ({"name": "app/x", "data": "[" * 50_000}, "Data is not valid JSON"),
        ({"name": "inngest/function.finished", "data": "{}"}, "is reserved for internal events"),
        ({"name": "  ", "data": "{}"}, "name: required"),
    ],
)
async def test_send_form_errors_are_shown_inline_with_the_input_kept(
    dev_server: DevServer, fields: dict[str, str], message: str
) -> None:
    status, location, html = await post_form(dev_server, fields)
    assert status == 400
    assert location == ""
    alert = re.search(r'<p class="error" id="form-error"[^>]*>(.*?)</p>', html)
    assert alert is not None, html
    assert message in alert.group(1).replace("&#39;", "'")
    assert "Traceback" not in html
    assert f"{fields['data']}</textarea>" in html.replace("&#34;", '"')
    assert dev_server.store.count_events() == 0


async def test_send_form_accepts_an_event_and_redirects_to_it(
    dev_server: DevServer, clocked: ClockedServer, checkout_app: RawApp
) -> None:
    data = '{"order": "B-2", "total": 5}'
    status, location, _ = await post_form(dev_server, {"name": EVENT, "data": data})
    assert status == 303
    match = re.fullmatch(r"/events/([0-9A-Z]{26})", location)
    assert match is not None, location
    event = dev_server.store.get_event(match.group(1))
    assert event is not None
    assert event.name == EVENT
    assert event.body["data"] == {"order": "B-2", "total": 5}
    run = await clocked.finished_run(FUNCTION_ID)
    assert run.events[0]["data"]["order"] == "B-2"
    status, _, html = await get(dev_server, location)
    assert status == 200
    assert f"/runs/{run.run_id}" in html


async def test_send_form_prefills_and_refuses_cross_site_posts(dev_server: DevServer) -> None:
    _, _, html = await get(dev_server, "/send?name=app%2Fa&data=%7B%22k%22%3A1%7D")
    assert 'value="app/a"' in html
    assert "{&#34;k&#34;:1}</textarea>" in html
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
    ):
        status, _, _ = await post_form(dev_server, {"name": "app/a", "data": "{}"}, headers=headers)
        assert status == 403, headers
    assert dev_server.store.count_events() == 0


async def test_run_page_polls_while_running_and_stops_when_finished(
    dev_server: DevServer, clocked: ClockedServer
) -> None:
    async def sleeper(step_id: str, body: dict[str, Any]) -> web.Response:
        return ops_response(op("Sleep", "nap", displayName="long nap", opts={"duration": "1h"}))

    async with raw_app(sleeper) as app:
        await register(dev_server, app, function_config(app, "sleeper", event="app/sleep"))
        await send(dev_server, {"name": "app/sleep"})

        def sleeping() -> bool:
            runs = dev_server.store.list_runs(function_id="raw-sleeper")
            return bool(runs) and bool(dev_server.store.list_steps(runs[0].run_id))

        await clocked.settle()
        assert sleeping()
        run = dev_server.store.list_runs(function_id="raw-sleeper")[0]
        _, _, html = await get(dev_server, f"/runs/{run.run_id}")
        assert 'data-live="1000"' in html
        assert '<meta http-equiv="refresh"' in html
        assert "badge-sleeping" in html
        assert "bar-going" in html
        assert "long nap" in html
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{dev_server.url}/v1/runs/{run.run_id}/cancel") as response,
        ):
            assert response.status == 200
        _, _, html = await get(dev_server, f"/runs/{run.run_id}")
    assert "data-live" not in html
    assert "badge-cancelled" in html


async def test_stylesheet_and_json_index_for_non_browsers_are_served(dev_server: DevServer) -> None:
    status, content_type, css = await get(dev_server, "/ui/style.css")
    assert status == 200
    assert content_type == "text/css"
    assert ".timeline" in css
    for path in ("/v1", "/"):
        async with (
            aiohttp.ClientSession() as session,
            session.get(dev_server.url + path, headers={"Accept": "application/json"}) as response,
        ):
            body = await response.json()
        assert body["name"] == "inngest-dsl dev server", path
