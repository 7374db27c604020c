"""The workbench pages over HTTP on virtual time: runs paged with no cap, internal events hidden
until asked for, the run an absorbed event went to, readable errors, refused actions."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from inngest_dsl.devserver import DevServer
from inngest_dsl.devserver.ui.errors import readable_error

from .clocked import ClockedServer
from .conftest import done_response, function_config, raw_app, register, send
from .test_ui import get, text_of


@pytest.fixture
def dev_server(clocked: ClockedServer) -> DevServer:
    return clocked.server


async def echo(step_id: str, body: dict[str, Any]) -> web.Response:
    return done_response({"n": body["event"]["data"].get("n")})


async def test_runs_are_paged_newest_first_with_no_cap(clocked: ClockedServer) -> None:
    async with raw_app(echo) as app:
        await register(clocked.server, app, function_config(app, "echo", event="app/n"))
        await send(clocked.server, [{"name": "app/n", "data": {"n": n}} for n in range(120)])
        await clocked.settle()
    seen: list[str] = []
    path = "/runs?function=raw-echo"
    pages = 0
    while path:
        status, _, html = await get(clocked.server, path)
        assert status == 200
        seen += re.findall(r'<a class="mono" href="/runs/([0-9A-Z]+)"', html)
        found = re.search(r'id="next-page" href="([^"]+)"', html)
        path = found.group(1).replace("&amp;", "&") if found else ""
        pages += 1
    stored = [r.run_id for r in clocked.server.store.list_runs(limit=1000)]
    assert len(stored) == 120
    assert seen == sorted(stored, reverse=True), "every run once, newest first"
    assert pages == 3


async def test_runs_search_by_event_id_and_time_range(clocked: ClockedServer) -> None:
    async with raw_app(echo) as app:
        await register(clocked.server, app, function_config(app, "echo", event="app/n"))
        first = (await send(clocked.server, {"name": "app/n", "data": {"n": 1}}))["ids"][0]
        await clocked.settle()
        await clocked.advance("2h")
        await send(clocked.server, {"name": "app/n", "data": {"n": 2}})
        await clocked.settle()
    runs = clocked.server.store.list_runs()
    older, newer = runs[1], runs[0]
    _, _, by_event = await get(clocked.server, f"/runs?q={first}")
    assert older.run_id in by_event
    assert newer.run_id not in by_event
    _, _, recent = await get(clocked.server, "/runs?range=1h")
    assert newer.run_id in recent
    assert older.run_id not in recent
    status, _, bad = await get(clocked.server, "/runs?from=yesterday")
    assert status == 200
    assert "From: &#39;yesterday&#39; is not a date and time" in bad


async def test_internal_events_are_hidden_until_asked_for(clocked: ClockedServer) -> None:
    async with raw_app(echo) as app:
        await register(clocked.server, app, function_config(app, "echo", event="app/n"))
        await send(clocked.server, {"name": "app/n", "data": {"n": 1}})
        await clocked.settle()
    _, _, listed = await get(clocked.server, "/events")
    assert "app/n" in listed
    assert "inngest/function.finished" not in listed
    _, _, everything = await get(clocked.server, "/events?internal=1")
    assert "inngest/function.finished" in everything


async def test_an_event_a_debounce_absorbed_links_the_run_it_went_to(
    clocked: ClockedServer,
) -> None:
    async with raw_app(echo) as app:
        config = function_config(app, "calm", event="app/n", debounce={"period": "10s"})
        await register(clocked.server, app, config)
        first = (await send(clocked.server, {"name": "app/n", "data": {"n": 1}}))["ids"][0]
        await clocked.advance("2s")
        last = (await send(clocked.server, {"name": "app/n", "data": {"n": 2}}))["ids"][0]
        _, _, held = await get(clocked.server, f"/events/{first}")
        assert "a debounce kept a later event" in text_of(held)
        assert "by the debounce of calm" in text_of(held)
        _, _, function_page = await get(clocked.server, "/functions/raw-calm")
        assert "Debounce pending: runs at" in text_of(function_page)
        assert f'href="/events/{last}"' in function_page
        await clocked.advance("11s")
        run = await clocked.finished_run("raw-calm")
    assert run.output == {"n": 2}
    _, _, absorbed = await get(clocked.server, f"/events/{first}")
    assert f'href="/runs/{run.run_id}"' in absorbed
    assert f'href="/events/{last}"' in absorbed
    _, _, listed = await get(clocked.server, "/events")
    row = listed[listed.index(f"/events/{first}") :]
    row = row[: row.index("</tr>")]
    assert f'href="/runs/{run.run_id}"' in row
    assert "absorbed by a debounce into that run" in text_of(row)


def test_a_python_traceback_reads_message_first_user_frames_first() -> None:
    stack = (
        "Traceback (most recent call last):\n"
        '  File "/app/.venv/lib/python3.12/site-packages/inngest_dsl/engine/_call.py", line 5,'
        " in call\n    await body()\n"
        '  File "/app/shop/a.py", line 3, in outer\n    inner()\n'
        '  File "/app/shop/b.py", line 9, in inner\n    raise KeyError("sku")\n'
        "KeyError: 'sku'"
    )
    error = readable_error({"name": "KeyError", "message": "'sku'", "stack": stack, "code": 7})
    assert (error.name, error.message) == ("KeyError", "'sku'")
    assert [f.splitlines()[0] for f in error.user_frames] == [
        'File "/app/shop/b.py", line 9, in inner',
        'File "/app/shop/a.py", line 3, in outer',
    ], "the innermost of the user's frames first"
    assert "raise KeyError" in error.user_frames[0]
    assert len(error.library_frames) == 1
    assert error.tail == [], "the last line repeats the message shown above"
    assert error.extra == {"code": 7}


def test_an_error_sent_as_a_json_string_with_escaped_newlines_is_decoded() -> None:
    raw = (
        '{"name":"TypeError","message":"x is undefined",'
        '"stack":"TypeError: x is undefined\\\\n    at handler (/srv/app/fn.js:4:9)'
        '\\\\n    at run (/srv/app/node_modules/inngest/components/execution.js:80:3)"}'
    )
    error = readable_error(raw)
    assert (error.name, error.message) == ("TypeError", "x is undefined")
    assert error.head == []
    assert error.user_frames == ["at handler (/srv/app/fn.js:4:9)"]
    assert error.library_frames == [
        "at run (/srv/app/node_modules/inngest/components/execution.js:80:3)"
    ]
    assert readable_error("plain words").message == "plain words"


async def test_refused_actions_say_why(clocked: ClockedServer) -> None:
    async with raw_app(echo) as app:
        await register(clocked.server, app, function_config(app, "echo", event="app/n"))
        await send(clocked.server, {"name": "app/n", "data": {"n": 1}})
        run = await clocked.finished_run("raw-echo")
        async with aiohttp.ClientSession() as session:
            for path, form, status, problem in (
                (f"/runs/{run.run_id}/rerun", {"from_step": "nope"}, 409, "has no step"),
                ("/runs/nope/cancel", {}, 404, "not found"),
                ("/functions/raw-echo/invoke", {"data": "[1]"}, 400, "must be a JSON object"),
                ("/functions/raw-echo/invoke", {"data": '{"n": NaN}'}, 400, "NaN is not JSON"),
                ("/functions/raw-echo/invoke", {"data": '{"n": 1e999}'}, 400, "beyond the range"),
                ("/functions/raw-echo/cancel", {"from": "", "to": ""}, 400, "both ends"),
                (
                    "/functions/raw-echo/cancel",
                    {"from": "2026-01-01T00:00", "to": "2026-01-02T00:00", "if": "event.("},
                    400,
                    "if:",
                ),
            ):
                async with session.post(
                    clocked.server.url + path, data=form, allow_redirects=False
                ) as response:
                    body = await response.text()
                    assert response.status == status, (path, body)
                    assert problem in text_of(body), (path, text_of(body))
            async with session.post(
                f"{clocked.server.url}/runs/{run.run_id}/rerun",
                headers={"Origin": "http://evil.example"},
                allow_redirects=False,
            ) as response:
                assert response.status == 403
    assert len(clocked.server.store.list_runs()) == 1, "no refused action started a run"


async def test_an_event_waiting_in_a_batch_says_so_then_links_its_run(
    clocked: ClockedServer,
) -> None:
    async with raw_app(echo) as app:
        config = function_config(
            app, "bulk", event="app/n", batchEvents={"maxSize": 3, "timeout": "10s"}
        )
        await register(clocked.server, app, config)
        ident = (await send(clocked.server, {"name": "app/n", "data": {"n": 1}}))["ids"][0]
        await clocked.settle()
        _, _, waiting = await get(clocked.server, f"/events/{ident}")
        assert "in an open batch of bulk" in text_of(waiting)
        _, _, function_page = await get(clocked.server, "/functions/raw-bulk")
        assert "1 event waiting" in text_of(function_page)
        await clocked.advance("11s")
        run = await clocked.finished_run("raw-bulk")
    _, _, ran = await get(clocked.server, f"/events/{ident}")
    assert f'href="/runs/{run.run_id}"' in ran
    assert "open batch" not in text_of(ran)
