"""What the client commands print and how they fail, in process on virtual time: a failed
run's error, step kinds as the UI names them, UTC times, counts, keys a keyed server needs,
answers that are not the dev server's, and `--data` that is not a plain JSON object."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from inngest_dsl.devserver.store.records import KIND_LABELS
from tests.loopback import on_loopback

from .clocked import ClockedServer, virtual_dev_server
from .conftest import (
    SDK_HEADERS,
    function_config,
    op,
    ops_response,
    raw_app,
    register,
    send,
)
from .test_cli_client import FN, Cli, _steps

KEY = "signkey-test-" + "ab" * 32
STACK = (
    "Traceback (most recent call last):\n"
    '  File "/srv/shop/flows.py", line 12, in charge\n'
    "    raise ValueError('total is negative')\n"
    "ValueError: total is negative"
)


async def _fails_after_a_step(step_id: str, body: dict[str, Any]) -> web.Response:
    if "a" not in body["steps"]:
        return ops_response(op("StepRun", "a", data=1))
    error = {"name": "ValueError", "message": "total is negative", "stack": STACK}
    return web.json_response(error, status=500, headers=SDK_HEADERS)


@pytest.fixture
def cli(clocked: ClockedServer, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(clocked, capsys)


async def test_a_failed_run_shows_its_error_first_and_steps_as_the_ui_names_them(
    clocked: ClockedServer, cli: Cli
) -> None:
    async with raw_app(_fails_after_a_step) as app:
        config = function_config(app, "fn", event="app/go", retries=0)
        await register(clocked.server, app, config)
        await send(clocked.server, {"name": "app/go"})
        run = await clocked.finished_run(FN)
        code, out, err = await cli("run", run.run_id)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"run {run.run_id} of {FN}: Failed"
    assert lines[1] == "  error: ValueError: total is negative"
    assert lines[2].strip().startswith('File "/srv/shop/flows.py", line 12, in charge')
    [step_row] = [line for line in lines if line.startswith("a ")]
    assert step_row.split()[2] == KIND_LABELS["Run"] == "Step"


async def test_times_are_utc_and_counts_say_their_noun(clocked: ClockedServer, cli: Cli) -> None:
    async with raw_app(_steps) as app:  # two steps, then a sleep
        await register(clocked.server, app, function_config(app, "fn", event="app/go"))
        await send(clocked.server, {"name": "app/go"})
        await clocked.settle()
        _, runs, _ = await cli("runs")
        _, events, _ = await cli("events")
        _, apps, _ = await cli("apps")
        _, shown, _ = await cli("run", clocked.store.list_runs()[0].run_id)
        code, bulk, err = await cli(
            "bulk-cancel", "fn", "--after", "2025-01-01T00:00:00Z", "--before", "2027-01-01"
        )
    assert code == 0, err
    for listing in (runs, events, apps):
        _, row = listing.splitlines()
        assert "2026-01-01T00:00:00.000Z" in row, listing  # the virtual clock's start, in UTC
    assert bulk.strip() == f"cancelled 1 run of {FN}"
    steps = {line.split()[0]: line.split() for line in shown.splitlines()[-3:]}
    assert steps["a"][2:] == ["Step", "Completed", "1"]
    assert steps["nap"][2:] == ["Sleep", "Sleeping"]  # attempts are a step's, as in the UI


async def test_resync_says_no_apps_or_each_apps_outcome_naming_it_once(cli: Cli) -> None:
    code, out, _ = await cli("apps", "resync")
    assert code == 0
    assert out.strip() == "no apps"
    url = "http://127.0.0.1:1/api/inngest"
    code, _, _ = await cli("apps", "add", url)
    assert code == 2  # nothing answers there; the URL is kept, to be tried again
    code, out, _ = await cli("apps", "resync")
    assert code == 0
    [line] = out.splitlines()
    assert line.startswith(f"{url}: not synced: unreachable (")
    assert line.count(url) == 1


@contextlib.asynccontextmanager
async def _keyed(capsys: pytest.CaptureFixture[str]) -> AsyncIterator[Cli]:
    async with virtual_dev_server(signing_key=KEY, event_key="team-events") as server:
        yield Cli(server, capsys)


async def test_a_keyed_server_says_which_key_to_set(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INNGEST_SIGNING_KEY", raising=False)
    monkeypatch.delenv("INNGEST_EVENT_KEY", raising=False)
    async with _keyed(capsys) as cli:
        code, _, err = await cli("runs")
        assert code == 2
        assert "(HTTP 401): this dev server needs its signing key: set INNGEST_SIGNING_KEY" in err
        code, _, err = await cli("runs", "--signing-key", "signkey-test-" + "cd" * 32)
        assert code == 2
        assert "signing key given (--signing-key or INNGEST_SIGNING_KEY) is not" in err
        code, _, err = await cli("send", "app/go")
        assert code == 2
        assert "needs its event key: set INNGEST_EVENT_KEY or pass --event-key" in err
        assert len(err.strip().splitlines()) == 1

        monkeypatch.setenv("INNGEST_EVENT_KEY", "team-events")
        reply = await cli.json("send", "app/go", "--data", '{"n": 1}')
        [event_id] = reply["ids"]
        monkeypatch.setenv("INNGEST_SIGNING_KEY", KEY)
        code, out, err = await cli("events")
        assert code == 0, err
        assert event_id in out
        assert cli.clocked.store.count_events() == 1


@contextlib.asynccontextmanager
async def _other_server(body: str, status: int) -> AsyncIterator[str]:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=body, status=status, content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", page)
    async with on_loopback(app) as url:
        yield url


@pytest.mark.parametrize(
    ("status", "reason"), [(200, "HTTP 200 OK"), (404, "HTTP 404 Not Found"), (401, "HTTP 401")]
)
@pytest.mark.parametrize("command", [["runs"], ["send", "app/go"], ["apps", "remove", "x"]])
async def test_an_answer_that_is_not_the_dev_servers_is_one_line(
    cli: Cli, status: int, reason: str, command: list[str]
) -> None:
    async with _other_server("<html><body>Welcome</body></html>", status) as url:
        code, out, err = await cli(*command, "--url", url, url=False)
    assert code == 2
    assert out == ""
    [line] = err.strip().splitlines()
    assert f"{url}/" in line
    assert reason in line
    assert "not with the dev server's JSON" in line


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ('{"total": NaN}', "--data is not valid JSON: NaN is not JSON"),
        ('{"total": -Infinity}', "--data is not valid JSON: -Infinity is not JSON"),
        ('{"total": 1e400}', "beyond the range of a JSON number"),
        ('{"a":' * 5000 + "1" + "}" * 5000, "--data is not valid JSON: JSON nested too deeply"),
        ("[" * 100_000, "--data is not valid JSON"),
        ("[1]", "--data must be a JSON object"),
    ],
    ids=["nan", "infinity", "huge", "deep-object", "deep-array", "array"],
)
@pytest.mark.parametrize("command", ["send", "invoke"])
async def test_data_that_is_not_a_plain_json_object_is_one_line(
    cli: Cli, clocked: ClockedServer, command: str, data: str, problem: str
) -> None:
    code, out, err = await cli(command, "app/go" if command == "send" else "fn", "--data", data)
    assert code == 2
    assert out == ""
    [line] = err.strip().splitlines()
    assert problem in line
    assert clocked.store.count_events() == 0


async def test_data_keeps_big_integers_exact(cli: Cli, clocked: ClockedServer) -> None:
    big = 2**70 + 1
    await cli.json("send", "app/go", "--data", f'{{"n": {big}}}')
    [event] = clocked.store.list_events()
    assert event.body["data"]["n"] == big
