"""The `inngest-dsl` commands that act on a running dev server, in process.

The dev server runs on a virtual clock in this test's event loop; each command runs `main()`
in a thread (its HTTP client blocks), and its `--json` output is parsed back.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import web

from inngest_dsl.devserver.cli import main
from inngest_dsl.devserver.cli.parsers import MAX_LIMIT, STATUSES
from inngest_dsl.devserver.cli.target import DEFAULT_URL, server_url
from inngest_dsl.devserver.cli.usage import UsageError
from inngest_dsl.devserver.http import params
from inngest_dsl.devserver.store.records import RunStatus

from .clocked import ClockedServer
from .conftest import APP_ID, function_config, op, ops_response, raw_app, register, send

FN = f"{APP_ID}-fn"


class Cli:
    """Runs `inngest-dsl ARGS --url SERVER` in a thread; output and exit status."""

    def __init__(self, clocked: ClockedServer, capsys: pytest.CaptureFixture[str]) -> None:
        self.clocked = clocked
        self.capsys = capsys

    async def __call__(self, *args: str, url: bool = True) -> tuple[int, str, str]:
        argv = [*args, "--url", self.clocked.url] if url else list(args)
        self.capsys.readouterr()
        code = await asyncio.to_thread(main, argv)
        await self.clocked.settle()
        out, err = self.capsys.readouterr()
        return code, out, err

    async def json(self, *args: str) -> Any:
        code, out, err = await self(*args, "--json")
        assert code == 0, err
        return json.loads(out)


async def _steps(step_id: str, body: dict[str, Any]) -> web.Response:
    steps = body["steps"]
    for name in ("a", "b"):
        if name not in steps:
            return ops_response(op("StepRun", name, data=name))
    return ops_response(op("Sleep", "nap", opts={"duration": "1h"}))


@pytest.fixture
def cli(clocked: ClockedServer, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(clocked, capsys)


async def test_runs_run_cancel_rerun_and_invoke(clocked: ClockedServer, cli: Cli) -> None:
    async with raw_app(_steps) as app:
        await register(clocked.server, app, function_config(app, "fn", event="app/go"))
        [event_id] = (await send(clocked.server, {"name": "app/go"}))["ids"]
        await clocked.settle()

        listed = await cli.json("runs", "--status", "running", "--function", FN)
        [run] = listed["data"]
        assert run["status"] == "Running"
        assert listed["cursor"] is None
        code, out, _ = await cli("runs", "--event", event_id)
        assert code == 0
        assert run["run_id"] in out
        assert "RUN ID" in out

        shown = await cli.json("run", run["run_id"])
        assert [s["id"] for s in shown["data"]["steps"]] == ["a", "b", "nap"]
        code, out, _ = await cli("run", run["run_id"])
        assert f"run {run['run_id']} of {FN}: Running" in out

        cancelled = await cli.json("cancel", run["run_id"])
        assert cancelled["data"]["status"] == "Cancelled"

        rerun = await cli.json("rerun", run["run_id"], "--from", "b")
        assert [s["id"] for s in rerun["data"]["steps"]] == ["a"]
        code, out, _ = await cli("rerun", run["run_id"])
        assert code == 0
        assert len(out.strip()) == 26  # the new run's id

        invoked = await cli.json("invoke", "fn", "--data", '{"x": 1}')
        assert invoked["data"]["run"]["function_id"] == FN

        all_runs = await cli.json("runs", "--limit", "2")
        assert len(all_runs["data"]) == 2
        rest = await cli.json("runs", "--limit", "2", "--cursor", all_runs["cursor"])
        assert len(rest["data"]) == 2
        assert rest["cursor"] is None

        bulk = await cli.json(
            "bulk-cancel", "fn", "--after", "2025-01-01T00:00:00Z", "--before", "2027-01-01"
        )
        assert bulk["cancelled"] == 3


async def test_errors_are_one_line_with_exit_status_2(clocked: ClockedServer, cli: Cli) -> None:
    for args, problem in (
        (("run", "nope"), "(HTTP 404): run not found"),
        (("cancel", "nope"), "run 'nope' not found"),
        (("rerun", "nope", "--from", "x"), "run 'nope' not found"),
        (("invoke", "nope"), "function 'nope' not found"),
        (("invoke", "fn", "--data", "[1]"), "--data must be a JSON object"),
        (("runs", "--status", "Nope"), "status: must be one of"),
        (("runs", "--after", "whenever"), "after: 'whenever' is not an RFC 3339 time"),
        (("apps", "remove", "http://127.0.0.1:1/x"), "not found"),
    ):
        code, out, err = await cli(*args)
        assert code == 2, args
        assert problem in err, (args, err)
        assert len(err.strip().splitlines()) == 1
        assert out == ""


async def test_events_functions_and_apps(clocked: ClockedServer, cli: Cli) -> None:
    async with raw_app(_steps) as app:
        await register(clocked.server, app, function_config(app, "fn", event="app/go"))
        await send(clocked.server, {"name": "app/go"})
        await clocked.settle()
        await cli("cancel", clocked.store.list_runs()[0].run_id)

        events = await cli.json("events")
        assert [e["name"] for e in events["data"]] == ["app/go"]
        internal = await cli.json("events", "--internal")
        assert {e["name"] for e in internal["data"]} >= {"inngest/function.cancelled"}

        functions = await cli.json("functions")
        assert [f["id"] for f in functions["data"]] == [FN]
        code, out, _ = await cli("functions")
        assert FN in out
        assert "app/go" in out

        listed = await cli.json("apps")
        assert [a["url"] for a in listed["data"]] == [app.url]
        code, out, err = await cli("apps", "resync", app.url)
        assert code == 2  # a raw app does not answer sync pings
        assert "cannot sync" in err
        removed = await cli.json("apps", "remove", app.url)
        assert removed["data"] == {"url": app.url, "removed": True}
        code, out, _ = await cli("apps")
        assert out.strip() == "no apps"
        code, out, err = await cli("apps", "add", "http://127.0.0.1:1/api/inngest")
        assert code == 2
        assert "unreachable" in err


async def test_inngest_dev_names_the_server(
    clocked: ClockedServer, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INNGEST_DEV", clocked.url)
    code, out, _ = await cli("runs", url=False)
    assert code == 0
    assert out.strip() == "no runs"


def test_where_the_dev_server_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INNGEST_DEV", raising=False)
    monkeypatch.delenv("INNGEST_BASE_URL", raising=False)
    assert server_url(None) == DEFAULT_URL
    monkeypatch.setenv("INNGEST_BASE_URL", "http://127.0.0.1:9000/")
    assert server_url(None) == "http://127.0.0.1:9000"
    monkeypatch.setenv("INNGEST_DEV", "1")  # dev mode, no URL: the base URL still says where
    assert server_url(None) == "http://127.0.0.1:9000"
    monkeypatch.setenv("INNGEST_DEV", "http://127.0.0.1:7000")
    assert server_url(None) == "http://127.0.0.1:7000"
    assert server_url("http://127.0.0.1:1") == "http://127.0.0.1:1"
    monkeypatch.setenv("INNGEST_DEV", "localhost:7000")
    with pytest.raises(UsageError, match="INNGEST_DEV: expected an http"):
        server_url(None)


def test_runs_help_names_every_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert STATUSES == RunStatus.ALL
    assert MAX_LIMIT == params.MAX_LIMIT  # --limit refuses what the API would
    with pytest.raises(SystemExit):
        main(["runs", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert ", ".join(RunStatus.ALL) in out


@pytest.mark.parametrize(
    "command", ["runs", "run", "cancel", "rerun", "invoke", "events", "functions", "apps"]
)
def test_every_command_has_json_and_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--json" in out
    assert "--url" in out
