"""The `inngest-dsl` command line: errors are one line with exit status 2; dev/send/runs work."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from inngest_dsl.devserver.cli import main
from tests.loopback import free_port, on_loopback

pytestmark = [pytest.mark.slow, pytest.mark.realtime]
ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inngest_dsl.devserver", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def _interrupt(process: subprocess.Popen[str]) -> None:
    """Stop `process` as Ctrl-C does; kill it if it has not ended 10 s later."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def _dev(*args: str, stderr: list[str] | None = None) -> Iterator[str]:
    """`inngest-dsl dev` on a free port until the block ends; its log lines go to `stderr`."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "inngest_dsl.devserver", "dev", "--port", str(port), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while _cli("runs", "--url", url).returncode != 0:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "dev server did not start"
            time.sleep(0.1)
        yield url
    finally:
        _interrupt(process)
        if process.stdout is not None:
            process.stdout.close()
        if process.stderr is not None:
            if stderr is not None:
                stderr.extend(process.stderr.read().splitlines())
            process.stderr.close()


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("dev", "send", "runs"):
        assert command in out


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["dev", "-u", "localhost:3000"], "expected an http(s) URL"),
        (["dev", "--port", "99999"], "expected a port number"),
        (["dev", "--retry-interval", "-1"], "expected a positive number"),
        (["send", "app/x", "--data", "{bad"], "--data is not valid JSON"),
        (["send", "app/x", "--data", "[1]"], "--data must be a JSON object"),
        (["dev", "--app", "nomodule"], "--app must look like package.module:app"),
    ],
)
def test_bad_arguments_are_one_line_errors(
    argv: list[str],
    problem: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("INNGEST_DEV", raising=False)  # `dev --app` sets it
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 2
    assert problem in err
    assert len(err.strip().splitlines()) == 1


def test_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _cli("dev", "--port", str(port), "--db", ":memory:")
    assert result.returncode == 2
    assert f"port {port} is already in use" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


async def _until(condition: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await condition()
        if result:
            return result
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def _get_json(url: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return await response.json()


async def test_dev_started_before_its_app_syncs_it_once_it_is_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .cli_app import app as web_app

    app_port = free_port()
    app_url = f"http://127.0.0.1:{app_port}/api/inngest"
    log: list[str] = []
    with _dev("--db", str(tmp_path / "db"), "-u", app_url, stderr=log) as url:
        monkeypatch.setenv("INNGEST_DEV", url)  # where the app registers

        async def tried_twice() -> bool:
            apps = (await _get_json(f"{url}/v1/apps"))["data"]
            return bool(apps) and apps[0]["failures"] >= 2 and apps[0]["polled"]

        await _until(tried_twice)  # the server kept trying while the app was not up
        async with on_loopback(web_app, app_port):
            async def registered() -> bool:
                functions = (await _get_json(f"{url}/v1/functions"))["data"]
                return [f["id"] for f in functions] == ["cli-hello"]

            await _until(registered)
            async with (
                aiohttp.ClientSession() as session,
                session.post(f"{url}/e/key", json={"name": "cli/hello", "data": {"name": "A"}}),
            ):
                pass

            async def completed() -> Any:
                runs = (await _get_json(f"{url}/v1/runs?status=Completed"))["data"]
                return runs[0] if runs else None

            run = await _until(completed)
    assert run["output"] == {"hello": "A"}
    about_app = [line for line in log if app_url in line and " sync" in line]
    assert len(about_app) == 3, log  # when it was not up, when it was up, its registration
    assert "WARNING cannot sync" in about_app[0]
    # The app registers while it answers the ping, so that line may come first.
    assert any(f"app {app_url} is up: synced after " in line for line in about_app[1:])
    assert any("synced app cli" in line for line in about_app[1:])


def test_console_script_with_port_0_hosts_an_app_from_the_current_directory(
    tmp_path: Path,
) -> None:
    script = Path(sys.executable).with_name("inngest-dsl")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "INNGEST_DEV")}
    process = subprocess.Popen(
        [str(script), "dev", "-p", "0", "--app-port", "0", "--db", str(tmp_path / "db"),
         "--app", "tests.devserver.cli_app:app"],
        cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        url = ""
        for line in process.stderr:
            if "dev server listening on " in line:
                url = line.split("dev server listening on ")[1].split()[0]
                break
        assert url, "the dev server did not start"
        assert not url.endswith(":0")
        deadline = time.monotonic() + 30
        while "cli-hello" not in _cli("functions", "--url", url).stdout:
            assert time.monotonic() < deadline, "the hosted app did not register"
            time.sleep(0.1)
        sent = _cli("send", "cli/hello", "--data", '{"name": "B"}', "--url", url)
        assert sent.returncode == 0, sent.stderr
        while True:
            listing = _cli("runs", "--status", "Completed", "--url", url, "--json")
            runs = json.loads(listing.stdout)["data"] if listing.returncode == 0 else []
            if runs:
                break
            assert time.monotonic() < deadline, "the run did not complete"
            time.sleep(0.1)
        assert runs[0]["output"] == {"hello": "B"}
    finally:
        _interrupt(process)
        if process.stderr is not None:
            process.stderr.close()


def test_unreachable_dev_server_for_send() -> None:
    result = _cli("send", "app/x", "--url", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 2
    assert "cannot reach the dev server" in result.stderr


@pytest.mark.parametrize("app", ["cli_app", "cli_asgi_app"], ids=["aiohttp", "asgi"])
def test_dev_with_app_send_and_runs(tmp_path: Path, app: str) -> None:
    db = tmp_path / "nested" / "dev.db"
    app_port = free_port()
    with _dev(
        "--db", str(db), "--app", f"tests.devserver.{app}:app", "--app-port", str(app_port)
    ) as url:
        sent = _cli("send", "cli/hello", "--data", '{"name": "Ada"}', "--url", url)
        assert sent.returncode == 0, sent.stderr
        event_id = sent.stdout.strip()
        assert len(event_id) == 26  # a ULID
        deadline = time.monotonic() + 10
        while True:
            listing = _cli("runs", "--url", url, "--status", "Completed")
            if "cli-hello" in listing.stdout or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert listing.returncode == 0
        header, row = listing.stdout.strip().splitlines()
        assert header.split()[:3] == ["RUN", "ID", "FUNCTION"]
        assert "cli-hello" in row
        assert "Completed" in row
        rejected = _cli("runs", "--url", url, "--status", "Nope")
        assert rejected.returncode == 2
        assert "status: must be one of" in rejected.stderr
    assert db.exists()  # the db folder was created by the server


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_concurrency_must_be_a_positive_whole_number(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["dev", "--concurrency", value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"--concurrency: expected a whole number of at least 1, got {value!r}" in err
    assert err.count("\n") == 1


_LOADED_BY = """
import sys
from inngest_dsl.devserver.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = ("aiohttp", "asyncio", "urllib.request", "inngest_dsl.devserver.core",
         "inngest_dsl.devserver.store", "inngest_dsl.devserver.http")
print(" ".join(sorted(m for m in sys.modules if m.startswith(heavy))), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["runs", "--help"]])
def test_version_and_help_load_no_engine_no_http_and_no_asyncio(argv: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _LOADED_BY, *argv],
        capture_output=True, text=True, timeout=30, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""
