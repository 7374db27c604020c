"""The `inngest-dsl` command: `dev` (run the dev server), `send` (an event), `runs` (list runs).

Every user error is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import importlib
import inspect
import json
import logging
import os
import signal
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn

from aiohttp import web

from inngest_dsl._version import __version__
from inngest_dsl.devserver.http.sync import SyncError
from inngest_dsl.devserver.server import DEFAULT_DB, DevServer, DevServerConfig

__all__ = ["main"]

DEFAULT_URL = "http://127.0.0.1:8288"


class UsageError(Exception):
    """A problem to report in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """Reports bad arguments in one line (plus a pointer to --help), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}")
    return int(text)


def _http_url(text: str) -> str:
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"expected an http(s) URL, got {text!r}")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="inngest-dsl",
        description="Run Inngest functions locally: a pure-Python dev server on SQLite.",
        epilog=(
            "examples:\n"
            "  inngest-dsl dev -u http://127.0.0.1:3000/api/inngest\n"
            "  inngest-dsl dev --app shop.web:app --app-port 3000\n"
            "  inngest-dsl send app/user.created --data '{\"id\": 1}'\n"
            "  inngest-dsl runs --status Failed"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"inngest-dsl {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    dev = commands.add_parser(
        "dev",
        help="start the dev server",
        description=(
            "Start the dev server: event API, function registration, executor, cron and a JSON "
            "API on one port. Point apps at it with INNGEST_DEV=http://127.0.0.1:8288."
        ),
    )
    dev.add_argument(
        "-u",
        "--sdk-url",
        dest="urls",
        action="append",
        default=[],
        type=_http_url,
        metavar="APP_URL",
        help="an app's serve URL to sync, e.g. http://127.0.0.1:3000/api/inngest (repeatable)",
    )
    dev.add_argument("--host", default="127.0.0.1", help="interface to listen on (%(default)s)")
    dev.add_argument("-p", "--port", type=_port, default=8288, help="port (%(default)s)")
    dev.add_argument(
        "--db",
        default=DEFAULT_DB,
        metavar="PATH",
        help="SQLite file, or :memory: for a throwaway server (%(default)s)",
    )
    dev.add_argument(
        "--signing-key",
        metavar="KEY",
        help="sign calls and sync pings with this key, and require its bearer on /fn/register "
        "and /v0 (default: no signing, like the Inngest dev server)",
    )
    dev.add_argument(
        "--event-key", metavar="KEY", help="accept events only for this key (default: any key)"
    )
    dev.add_argument(
        "--retry-interval",
        type=_positive,
        metavar="SECONDS",
        help="retry failed calls after this constant delay instead of the backoff table",
    )
    dev.add_argument(
        "--poll-interval",
        type=_positive,
        default=5.0,
        metavar="SECONDS",
        help="re-sync apps this often (%(default)s)",
    )
    dev.add_argument(
        "--app",
        metavar="MODULE:APP",
        help="import an aiohttp Application or an ASGI app (or a factory of one), serve it too",
    )
    dev.add_argument(
        "--app-port", type=_port, default=3000, metavar="PORT", help="port for --app (%(default)s)"
    )
    dev.add_argument(
        "--concurrency",
        type=_positive_int,
        default=64,
        metavar="N",
        help="calls to apps in flight at most (%(default)s)",
    )
    dev.add_argument("-q", "--quiet", action="store_true", help="log warnings only")

    send = commands.add_parser(
        "send", help="send an event", description="Send one event to a running dev server."
    )
    send.add_argument("name", help="event name, e.g. app/user.created")
    send.add_argument("--data", default="{}", help="event data as a JSON object (%(default)s)")
    send.add_argument("--id", help="event id (deduplication key)")
    send.add_argument("--url", default=DEFAULT_URL, type=_http_url, help="dev server (%(default)s)")
    send.add_argument("--event-key", default="dev", help="event key (%(default)s)")

    runs = commands.add_parser(
        "runs", help="list runs", description="List recent runs of a running dev server."
    )
    runs.add_argument("--url", default=DEFAULT_URL, type=_http_url, help="dev server (%(default)s)")
    runs.add_argument(
        "--status",
        help="only runs with this status (Queued, Running, Completed, Failed, Cancelled)",
    )
    runs.add_argument("--limit", type=int, default=20, help="how many (%(default)s)")
    return parser


# -- dev --------------------------------------------------------------------------------------


def _is_asgi(target: Any) -> bool:
    """An ASGI application: a callable of `(scope, receive, send)`, not a factory."""
    with contextlib.suppress(TypeError, ValueError):
        return callable(target) and len(inspect.signature(target).parameters) == 3
    return False


def _load_app(spec: str) -> Any:
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise UsageError(f"--app must look like package.module:app, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"--app: cannot import {module_name!r}: {exc}") from None
    try:
        target: Any = getattr(module, attribute)
    except AttributeError:
        raise UsageError(f"--app: {module_name!r} has no attribute {attribute!r}") from None
    if not isinstance(target, web.Application) and callable(target) and not _is_asgi(target):
        target = target()
    if not isinstance(target, web.Application) and not _is_asgi(target):
        raise UsageError(f"--app: {spec!r} is not an aiohttp.web.Application nor ASGI app")
    return target


Stop = Callable[[], Awaitable[None]]


async def _serve_app(app: Any, port: int) -> Stop:
    if not isinstance(app, web.Application):
        return await _serve_asgi(app, port)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
    except OSError as exc:
        await runner.cleanup()
        raise UsageError(_bind_problem("--app-port", port, exc)) from None
    return runner.cleanup


async def _serve_asgi(app: Any, port: int) -> Stop:
    try:
        import uvicorn
    except ImportError:
        raise UsageError("--app: an ASGI app needs uvicorn: pip install '.[asgi]'") from None

    class Server(uvicorn.Server):  # the dev server handles SIGINT and SIGTERM
        capture_signals = contextlib.nullcontext  # type: ignore[assignment]

    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise UsageError(_bind_problem("--app-port", port, exc)) from None
    server = Server(uvicorn.Config(app, log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():  # noqa: ASYNC110 (no event to await)
        await asyncio.sleep(0.01)

    async def stop() -> None:
        server.should_exit = True
        await task

    return stop


def _bind_problem(flag: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} is already in use (choose another with {flag})"
    return f"cannot listen on port {port}: {exc.strerror or exc}"


async def _dev(args: argparse.Namespace) -> None:
    urls = list(args.urls)
    app_runner: Stop | None = None
    app: Any = None
    if args.app:
        # The hosted app must talk to this server, whatever the shell said.
        os.environ["INNGEST_DEV"] = f"http://{args.host}:{args.port}"
        app = _load_app(args.app)
        urls.append(f"http://127.0.0.1:{args.app_port}/api/inngest")
    config = DevServerConfig(
        host=args.host,
        port=args.port,
        db=args.db,
        app_urls=(),
        signing_key=args.signing_key or None,
        event_key=args.event_key,
        retry_interval=args.retry_interval,
        poll_interval=args.poll_interval,
        concurrency=args.concurrency,
    )
    server = DevServer(config)
    try:
        await server.start()
    except OSError as exc:
        raise UsageError(_bind_problem("--port", args.port, exc)) from None
    try:
        if app is not None:
            app_runner = await _serve_app(app, args.app_port)
        for url in urls:
            try:
                await server.syncer.sync(url)
            except SyncError as exc:
                raise UsageError(str(exc)) from None
        logging.getLogger("inngest_dsl.devserver").info(
            "dev server listening on %s (db %s)", server.url, config.db
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        if app_runner is not None:
            await app_runner()
        await server.stop()


# -- client commands ---------------------------------------------------------------------------


def _request(url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        headers={"Content-Type": "application/json"},
        method="POST" if data else "GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error")
        except ValueError:
            message = exc.reason
        raise UsageError(
            f"the dev server refused the request (HTTP {exc.code}): {message}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UsageError(f"cannot reach the dev server at {url}: {reason}") from None


def _send(args: argparse.Namespace) -> None:
    try:
        data = json.loads(args.data)
    except ValueError as exc:
        raise UsageError(f"--data is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError("--data must be a JSON object, e.g. '{\"user_id\": 1}'")
    event: dict[str, Any] = {"name": args.name, "data": data}
    if args.id:
        event["id"] = args.id
    key = urllib.parse.quote(args.event_key, safe="")
    reply = _request(f"{args.url.rstrip('/')}/e/{key}", [event])
    print(reply["ids"][0])


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _runs(args: argparse.Namespace) -> None:
    query = {"limit": str(args.limit)}
    if args.status:
        query["status"] = args.status
    reply = _request(f"{args.url.rstrip('/')}/v1/runs?{urllib.parse.urlencode(query)}")
    rows = [["RUN ID", "FUNCTION", "STATUS", "STARTED", "DURATION"]]
    for run in reply["data"]:
        duration = run.get("duration_ms")
        rows.append(
            [
                run["run_id"],
                run["function_id"],
                run["status"],
                (run.get("started_at") or run.get("queued_at") or "")[:23],
                "" if duration is None else f"{duration / 1000:.3f}s",
            ]
        )
    if len(rows) == 1:
        print("no runs")
        return
    print(_table(rows))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `inngest-dsl`; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "dev":
            logging.basicConfig(
                level=logging.WARNING if args.quiet else logging.INFO,
                format="%(asctime)s %(levelname)s %(message)s",
            )
            logging.getLogger("aiohttp").setLevel(logging.WARNING)
            asyncio.run(_dev(args))
        elif args.command == "send":
            _send(args)
        else:
            _runs(args)
    except UsageError as exc:
        print(f"inngest-dsl {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
