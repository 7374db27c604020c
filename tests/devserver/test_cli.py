"""The `inngest-dsl` command line: errors are one line with exit status 2; dev/send/runs work."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from inngest_dsl.devserver.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.realtime]
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inngest_dsl.devserver", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@contextmanager
def _dev(*args: str) -> Iterator[str]:
    port = _free_port()
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
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        if process.stderr is not None:
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


def test_port_in_use_and_unreachable_app_are_one_line_errors(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _cli("dev", "--port", str(port), "--db", ":memory:")
    assert result.returncode == 2
    assert f"port {port} is already in use" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    closed = _free_port()
    result = _cli(
        "dev", "--port", str(_free_port()), "--db", str(tmp_path / "db"),
        "-q", "-u", f"http://127.0.0.1:{closed}/api/inngest",
    )  # fmt: skip
    assert result.returncode == 2
    assert "cannot sync" in result.stderr
    assert "unreachable" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreachable_dev_server_for_send() -> None:
    result = _cli("send", "app/x", "--url", f"http://127.0.0.1:{_free_port()}")
    assert result.returncode == 2
    assert "cannot reach the dev server" in result.stderr


@pytest.mark.parametrize("app", ["cli_app", "cli_asgi_app"], ids=["aiohttp", "asgi"])
def test_dev_with_app_send_and_runs(tmp_path: Path, app: str) -> None:
    db = tmp_path / "nested" / "dev.db"
    app_port = _free_port()
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
