"""A keyed dev server answers only to its key; without one it stays open (`http.access`)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from inngest_dsl import Context, InngestFunction, step
from inngest_dsl.devserver.cli import main
from inngest_dsl.devserver.http.access import SESSION_COOKIE, session_token
from inngest_dsl.devserver.http.routes import api_routes
from inngest_dsl.devserver.store.records import RunStatus
from inngest_dsl.devserver.ui.routes import ui_routes
from inngest_dsl.testing import DevServerHarness
from inngest_dsl.wire import _signing
from tests.loopback import on_loopback

from .clocked import ClockedServer, virtual_dev_server
from .conftest import function_config, op, ops_response, raw_app, register, send

KEY = "signkey-test-8ee2262a15e8d3c42d6a840db7af3de2aab08ef632b32a37a687f24b34dba3ff"
HASHED = "e4bf4a2e7f55c7eb954b6e72f8f69628fbc409fe7da6d0f6958770987dcf0e02"  # vectors.json
BEARERS = (KEY, KEY.removeprefix("signkey-test-"), HASHED, f"signkey-test-{HASHED}")
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
OPEN = {"/health", "/ui/style.css"}  # and the login page


@contextlib.asynccontextmanager
async def keyed(tmp_path: Path, **options: Any) -> AsyncIterator[ClockedServer]:
    options.setdefault("signing_key", KEY)
    async with virtual_dev_server(tmp_path / "db", **options) as server:
        yield server


def bearer(token: str = HASHED) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def call(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    session: aiohttp.ClientSession | None = None,
    **kwargs: Any,
) -> tuple[int, dict[str, str], str]:
    """One request, redirects not followed: status, headers, body text."""
    async with contextlib.AsyncExitStack() as stack:
        if session is None:
            session = await stack.enter_async_context(aiohttp.ClientSession())
        response = await stack.enter_async_context(
            session.request(method, url, headers=headers, allow_redirects=False, **kwargs)
        )
        return response.status, dict(response.headers), await response.text()


def every_route() -> list[tuple[str, str]]:
    """(method, path) of every API and UI route, path parameters filled in."""
    routes = []
    for route in [*api_routes(), *ui_routes()]:
        assert isinstance(route, web.RouteDef)
        path = route.path.replace("/ui/{name}", "/ui/style.css")
        routes.append((route.method, re.sub(r"\{[^}]+\}", "x", path)))
    return routes


async def a_waiting_run(server: ClockedServer, headers: dict[str, str]) -> str:
    """A run asleep for a day (so it can be cancelled), started over HTTP with `headers`."""

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return ops_response(op("Sleep", "nap", opts={"duration": "1d"}))

    async with raw_app(handler) as app:
        config = function_config(app, "fn", event="a/go")
        await register(server.server, app, config, headers=headers)
        await send(server.server, {"name": "a/go"}, headers=headers)
        await server.run_until(lambda: server.count(RunStatus.RUNNING) == 1, within="1m")
    [run] = server.server.store.list_runs()
    return run.run_id


def status_of(server: ClockedServer, run_id: str) -> str:
    run = server.server.store.get_run(run_id)
    assert run is not None
    return run.status


# -- without a key: open, as before ----------------------------------------------------------


async def test_without_a_key_every_route_stays_open(tmp_path: Path) -> None:
    async with virtual_dev_server(tmp_path / "db") as server:
        for method, path in every_route():
            status, _, _ = await call(method, server.url + path, headers=BROWSER)
            assert status not in (401, 403), (method, path)
            assert status != 303 or path == "/send", (method, path)
        run_id = await a_waiting_run(server, {})
        status, _, body = await call("POST", f"{server.url}/v1/runs/{run_id}/cancel")
        assert status == 200, body
        status, headers, _ = await call("GET", f"{server.url}/login?next=/events")
        assert (status, headers["Location"]) == (303, "/events")  # nothing to log in to
        status, _, page = await call("GET", f"{server.url}/runs", headers=BROWSER)
        assert status == 200
        assert 'action="/logout"' not in page


async def test_an_event_key_alone_guards_only_the_event_api(tmp_path: Path) -> None:
    async with virtual_dev_server(tmp_path / "db", event_key="ek") as server:
        status, _, body = await call("POST", f"{server.url}/e/wrong", json={"name": "a/b"})
        assert (status, body) == (401, '{"status":401,"message":"","error":"Event key not found"}')
        status, _, _ = await call("POST", f"{server.url}/e/ek", json={"name": "a/b"})
        assert status == 200
        status, _, _ = await call("GET", f"{server.url}/v1/events")
        assert status == 200


# -- with a signing key --------------------------------------------------------------------


async def test_the_signing_oracle_is_closed(tmp_path: Path) -> None:
    """`POST /v1/apps` without the key must not make the server call (and sign for) a URL."""
    seen: list[str] = []

    async def anything(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path}")
        return web.json_response({})

    target = web.Application()
    target.router.add_route("*", "/{tail:.*}", anything)
    async with on_loopback(target) as origin, keyed(tmp_path) as server:
        url = origin + "/api/inngest"
        for headers in (None, bearer("wrong"), {"Authorization": KEY}, {"Cookie": "x=1"}):
            status, _, body = await call(
                "POST", f"{server.url}/v1/apps", json={"url": url}, headers=headers
            )
            assert status == 401, body
            assert "signing key" in body
        assert server.server.store.list_apps() == []
    assert seen == []


async def test_every_route_but_health_and_the_stylesheet_needs_the_key(tmp_path: Path) -> None:
    async with keyed(tmp_path) as server:
        for method, path in every_route():
            status, _, body = await call(method, server.url + path)
            if path in OPEN:
                assert status == 200, (method, path)
            else:
                assert status == 401, (method, path, body)
                assert body.count("\n") == 0
            for token in BEARERS:
                status, _, _ = await call(method, server.url + path, headers=bearer(token))
                assert status not in (401, 403), (method, path, token)
        status, _, _ = await call("GET", f"{server.url}/nowhere")
        assert status == 401  # an unknown path says nothing without the key
        status, _, _ = await call("GET", f"{server.url}/nowhere", headers=bearer())
        assert status == 404


async def test_graphql_is_refused_in_its_own_shape(tmp_path: Path) -> None:
    async with keyed(tmp_path) as server:
        status, _, body = await call(
            "POST", f"{server.url}/v0/gql", json={"query": "{ __typename }"}
        )
    assert status == 401
    assert '"errors":[{"message":"this dev server needs its signing key' in body


async def test_cancelling_a_run_needs_the_key(tmp_path: Path) -> None:
    async with keyed(tmp_path) as server:
        run_id = await a_waiting_run(server, bearer())
        url = f"{server.url}/v1/runs/{run_id}/cancel"
        status, _, _ = await call("POST", url)
        assert status == 401
        status, _, _ = await call("GET", f"{server.url}/v1/runs/{run_id}")
        assert status == 401  # nor may its data be read
        assert status_of(server, run_id) == RunStatus.RUNNING
        status, _, body = await call("POST", url, headers=bearer(KEY))
        assert status == 200, body
        assert status_of(server, run_id) == RunStatus.CANCELLED


async def test_events_need_the_key_or_the_event_key(tmp_path: Path) -> None:
    event = {"name": "a/b"}
    async with keyed(tmp_path) as server:
        status, _, _ = await call("POST", f"{server.url}/e/anything", json=event)
        assert status == 401
        status, _, _ = await call("POST", f"{server.url}/e/anything", json=event, headers=bearer())
        assert status == 200
    async with keyed(tmp_path, event_key="ek") as server:
        status, _, body = await call("POST", f"{server.url}/e/wrong", json=event)
        assert (status, "Event key not found" in body) == (401, True)
        status, _, _ = await call("POST", f"{server.url}/e/ek", json=event)
        assert status == 200  # what SDK apps send: the event key, no bearer
        status, _, _ = await call("POST", f"{server.url}/e/wrong", json=event, headers=bearer())
        assert status == 200


async def test_sdk_registration_and_run_data_with_the_key(tmp_path: Path) -> None:
    """What an official SDK sends: the hashed key as its bearer, on /fn/register and /v0."""
    async with keyed(tmp_path) as server:
        run_id = await a_waiting_run(server, {"Authorization": _signing.bearer_token(KEY)})
        for path in (f"/v0/runs/{run_id}/batch", f"/v0/runs/{run_id}/actions"):
            status, _, body = await call("GET", server.url + path, headers=bearer())
            assert status == 200, body
            status, _, _ = await call("GET", server.url + path)
            assert status == 401
        status, _, body = await call("GET", f"{server.url}/health")
        assert status == 200
        assert '"status":"ok"' in body


# -- the UI's login --------------------------------------------------------------------------


async def test_the_ui_sends_a_browser_to_the_login_page(tmp_path: Path) -> None:
    async with keyed(tmp_path) as server:
        for path in ("/", "/runs/r1?x=1&y=a%26b"):
            status, headers, _ = await call("GET", server.url + path, headers=BROWSER)
            location = urllib.parse.urlsplit(headers["Location"])
            assert (status, location.path) == (303, "/login")
            assert urllib.parse.parse_qs(location.query) == {"next": [path]}
        status, _, page = await call("GET", f"{server.url}/login?next=/events", headers=BROWSER)
        assert status == 200
        assert 'name="key" type="password"' in page
        assert 'name="next" value="/events"' in page
        status, _, _ = await call("POST", f"{server.url}/send", data={"name": "a/b"})
        assert status == 401  # a form post without the login


async def test_login_then_the_pages_and_forms_work(tmp_path: Path) -> None:
    async with (
        keyed(tmp_path) as server,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser,
    ):
        login = f"{server.url}/login"
        status, headers, page = await call(
            "POST", login, data={"key": "wrong", "next": "/events"}, session=browser
        )
        assert status == 401
        assert "not the signing key of this server" in page
        assert "Set-Cookie" not in headers

        status, headers, _ = await call(
            "POST", login, data={"key": KEY, "next": "/events"}, session=browser
        )
        assert (status, headers["Location"]) == (303, "/events")
        cookie = headers["Set-Cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert KEY.removeprefix("signkey-test-") not in cookie  # a token, never the key
        assert f"{SESSION_COOKIE}={session_token(KEY)}" in cookie

        for path in ("/runs", "/events", "/functions", "/apps", "/send"):
            status, _, page = await call(
                "GET", server.url + path, headers=BROWSER, session=browser
            )
            assert status == 200, path
            assert '<form method="post" action="/logout"' in page, path
        own = {"Origin": server.url}
        status, headers, body = await call(
            "POST", f"{server.url}/send", data={"name": "a/b"}, headers=own, session=browser
        )
        assert status == 303, body
        assert headers["Location"].startswith("/events/")
        assert len(server.server.store.list_events(10)) == 1

        # Another page, even on the same host, cannot use the login to change anything.
        other = {"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-site"}
        status, _, _ = await call(
            "POST", f"{server.url}/send", data={"name": "a/b"}, headers=other, session=browser
        )
        assert status == 403
        status, _, _ = await call(
            "POST", f"{server.url}/v1/runs/x/cancel", headers=other, session=browser
        )
        assert status == 403
        assert len(server.server.store.list_events(10)) == 1

        status, headers, _ = await call("POST", f"{server.url}/logout", session=browser)
        assert (status, headers["Location"]) == (303, "/login")
        status, _, _ = await call("GET", f"{server.url}/events", headers=BROWSER, session=browser)
        assert status == 303


async def test_the_ui_cancel_button_needs_the_login(tmp_path: Path) -> None:
    async with (
        keyed(tmp_path) as server,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser,
    ):
        run_id = await a_waiting_run(server, bearer())
        url = f"{server.url}/runs/{run_id}/cancel"
        own = {"Origin": server.url}
        status, _, _ = await call("POST", url, headers=own, data={})
        assert status == 401
        assert status_of(server, run_id) == RunStatus.RUNNING
        await call("POST", f"{server.url}/login", data={"key": KEY}, session=browser)
        confirmed = {"confirm": "yes"}  # the UI asks first; this is the confirmed post
        status, headers, _ = await call("POST", url, headers=own, data=confirmed, session=browser)
        assert (status, headers["Location"]) == (303, f"/runs/{run_id}?done=cancelled")
        assert status_of(server, run_id) == RunStatus.CANCELLED


async def test_a_login_goes_back_only_to_this_server(tmp_path: Path) -> None:
    async with keyed(tmp_path) as server:
        for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", ""):
            status, headers, _ = await call(
                "POST", f"{server.url}/login", data={"key": KEY, "next": target}
            )
            assert (status, headers["Location"]) == (303, "/"), target


async def test_a_session_from_another_key_is_refused(tmp_path: Path) -> None:
    async with keyed(tmp_path) as server:
        forged = {"Cookie": f"{SESSION_COOKIE}={session_token('signkey-test-00')}"}
        status, _, _ = await call("GET", f"{server.url}/v1/runs", headers=forged)
        assert status == 401
        good = {"Cookie": f"{SESSION_COOKIE}={session_token(KEY)}"}
        status, _, _ = await call("GET", f"{server.url}/v1/runs", headers=good)
        assert status == 200


# -- the command line ------------------------------------------------------------------------


async def test_send_and_runs_pass_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("INNGEST_SIGNING_KEY", raising=False)
    async with keyed(tmp_path) as server:
        send_args = ["send", "a/b", "--url", server.url]
        assert await asyncio.to_thread(main, send_args) == 2
        assert "HTTP 401" in capsys.readouterr().err
        assert await asyncio.to_thread(main, [*send_args, "--signing-key", KEY]) == 0
        event_id = capsys.readouterr().out.strip()
        assert server.server.store.get_event(event_id) is not None

        assert await asyncio.to_thread(main, ["runs", "--url", server.url]) == 2
        assert "HTTP 401" in capsys.readouterr().err
        monkeypatch.setenv("INNGEST_SIGNING_KEY", KEY)
        assert await asyncio.to_thread(main, ["runs", "--url", server.url]) == 0
        assert "no runs" in capsys.readouterr().out
        monkeypatch.delenv("INNGEST_SIGNING_KEY")

        apps = ["apps", "--signing-key", KEY, "--url", server.url]
        assert await asyncio.to_thread(main, apps) == 0
        assert capsys.readouterr().out == "no apps\n"
        # The flag before or after a nested action: the server answers (no such app), not 401.
        gone = "http://127.0.0.1:9/x"
        for argv in (
            ["apps", "--signing-key", KEY, "remove", gone, "--url", server.url],
            ["apps", "remove", gone, "--url", server.url, "--signing-key", KEY],
        ):
            assert await asyncio.to_thread(main, argv) == 2
            assert "(HTTP 404)" in capsys.readouterr().err


# -- the DSL's own tools --------------------------------------------------------------------


class Hello(InngestFunction, id="hello", event="test/hello"):
    @step("greet")
    def greet(self, ctx: Context) -> str:
        return f"hello {ctx.event.data['who']}"


@pytest.mark.realtime  # the harness is a real dev server and app over HTTP
async def test_the_harness_and_client_work_with_a_keyed_dev_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INNGEST_SIGNING_KEY", KEY)
    async with DevServerHarness([Hello], app_id="keyed") as harness:
        assert harness.dev_server is not None
        assert harness.dev_server.config.signing_key == KEY
        [event_id] = await harness.send("test/hello", {"who": "keyed"})
        run = await harness.wait_for_run(event_id, "Completed")
        status, _, _ = await call("GET", f"{harness.url}/v1/runs")
    assert run.output == {"greet": "hello keyed"}
    assert status == 401
