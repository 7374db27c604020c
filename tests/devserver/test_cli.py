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


def _stop(process: subprocess.Popen[str], stderr: list[str] | None = None) -> None:
    """Stop a dev server as Ctrl-C does (killed if it does not stop); its log into `stderr`."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()
    if process.stderr is not None:
        if stderr is not None:
            stderr.extend(process.stderr.read().splitlines())
        process.stderr.close()


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
        _stop(process, stderr)


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
        (["runs", "--limit", "0"], "--limit: expected a whole number from 1 to 1000, got '0'"),
        (["events", "--limit", "5000"], "--limit: expected a whole number from 1 to 1000"),
        (["run", ""], "argument RUN_ID: expected a run id, got an empty string"),
        (["rerun", " ", "--from", "a"], "argument RUN_ID: expected a run id"),
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
        _stop(process)


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


def _script(
    *args: str, cwd: Path = ROOT, stdout: int = subprocess.PIPE
) -> subprocess.CompletedProcess[str]:
    """The `inngest-dsl` console script, as a user runs it."""
    script = Path(sys.executable).with_name("inngest-dsl")
    env = {k: v for k, v in os.environ.items() if not k.startswith("INNGEST_")}
    return subprocess.run(
        [str(script), *args], stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=60,
        cwd=cwd, env=env,
    )  # fmt: skip


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_output_into_a_pipe_nobody_reads_ends_quietly(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # as `| head -1` does once it has its line: every write fails
    try:
        with _dev("--db", str(tmp_path / "dev.db")) as url:
            assert _script("send", "app/x", "--url", url).returncode == 0
            for args in (["--help"], ["events", "--url", url], ["runs", "--help"]):
                result = _script(*args, stdout=write_end)
                assert (result.returncode, result.stderr) == (0, ""), args
    finally:
        os.close(write_end)


def test_a_second_dev_server_on_the_same_db_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "dev.db"
    with _dev("--db", str(db)) as url:
        holder = (tmp_path / "dev.db.lock").read_text().strip()
        assert holder.isdigit()
        line = _one_line(_script("dev", "-p", "0", "--db", str(db)))
        assert _script("runs", "--url", url).returncode == 0  # the first one is unharmed
    assert line.endswith(
        f"--db {db} is in use by another dev server (process {holder}): "
        "stop it, or give another --db"
    )
    other = _dev("--db", str(db))  # once the first has stopped, the file is free again
    with other as url:
        assert _script("runs", "--url", url).returncode == 0


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--db", "{tmp}/a-file/dev.db"], "cannot create its folder {tmp}/a-file: "),
        (["--db", "{tmp}"], "--db {tmp} is a folder: give the path of a file in it"),
        (["--db", "{tmp}/a-file"], "cannot use it as the dev server's database: file is not a"),
        (["--host", "no-such-host.invalid"], "--host no-such-host.invalid: no such host"),
        (["--host", "192.0.2.1"], "--host 192.0.2.1: cannot listen there, it is not an address"),
    ],
    ids=["db-under-a-file", "db-is-a-folder", "db-not-sqlite", "host-unknown", "host-not-ours"],
)
def test_a_bad_db_or_host_is_one_line(tmp_path: Path, args: list[str], problem: str) -> None:
    (tmp_path / "a-file").write_text("not a database, not a folder\n")
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    db = [] if "--db" in args else ["--db", ":memory:"]
    line = _one_line(_script("dev", "-p", "0", *db, *args))
    assert problem.replace("{tmp}", str(tmp_path)) in line


_APP_MODULES = {
    "raises.py": "TOTAL = 1 / 0\n",
    "needs.py": "import no_such_dependency_here\n",
    "typo.py": "def broken(:\n",
    "factory.py": "def make():\n    raise RuntimeError('SHOP_DB is not set')\n",
    "plain.py": "app = 42\n",
}


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("missing_module:app", "--app: no module 'missing_module' (looked in {tmp}"),
        ("plain:nope", "--app: module 'plain' has no attribute 'nope'"),
        ("raises:app", "--app: importing 'raises' failed: ZeroDivisionError: division by zero ("),
        (
            "needs:app",
            "--app: importing 'needs' failed: ModuleNotFoundError: "
            "No module named 'no_such_dependency_here'",
        ),
        (
            "typo:app",
            "--app: importing 'typo' failed: SyntaxError: invalid syntax ({tmp}/typo.py, line 1)",
        ),
        ("factory:make", "--app: calling factory:make failed: RuntimeError: SHOP_DB is not set"),
        ("plain:app", "--app: 'plain:app' is not an aiohttp.web.Application nor ASGI app"),
    ],
)
def test_an_app_that_cannot_be_loaded_is_one_line_naming_the_module(
    tmp_path: Path, spec: str, problem: str
) -> None:
    for name, source in _APP_MODULES.items():
        (tmp_path / name).write_text(source)
    result = _script("dev", "-p", "0", "--app-port", "0", "--db", ":memory:", "--app", spec,
                     cwd=tmp_path)  # fmt: skip
    assert problem.replace("{tmp}", str(tmp_path)) in _one_line(result)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_once_it_listens_stops_it_cleanly(tmp_path: Path, signum: int) -> None:
    script = Path(sys.executable).with_name("inngest-dsl")
    process = subprocess.Popen(
        [str(script), "dev", "-p", "0", "--db", str(tmp_path / "dev.db")],
        stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        assert "dev server listening on" in process.stderr.readline()
        process.send_signal(signum)  # at once: the handlers are in place before that line
        code = process.wait(timeout=30)
        rest = process.stderr.read()
    finally:
        _stop(process)
    assert (code, rest) == (0, "")  # a stop asked for, not a failure
    assert (tmp_path / "dev.db.lock").read_text() == ""  # released


def test_a_bad_retention_variable_is_named(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INNGEST_DEV_RETAIN", "fortnight")
    assert main(["dev", "--db", ":memory:"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("inngest-dsl dev: error: INNGEST_DEV_RETAIN: invalid duration")
    from inngest_dsl.devserver.cli import build_parser, retain_setting

    given = build_parser().parse_args(["dev", "--retain", "12h"])
    assert retain_setting(given) == 12 * 3600  # the flag wins over the variable
    monkeypatch.setenv("INNGEST_DEV_RETAIN", "forever")
    assert retain_setting(build_parser().parse_args(["dev"])) is None
    monkeypatch.delenv("INNGEST_DEV_RETAIN")
    assert retain_setting(build_parser().parse_args(["dev"])) == 7 * 86400
