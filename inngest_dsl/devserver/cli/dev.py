"""`inngest-dsl dev`: the dev server, and the app it hosts with `--app` (aiohttp or ASGI)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import inspect
import logging
import os
import signal
import socket
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from inngest_dsl.devserver.cli.db_lock import locked_db
from inngest_dsl.devserver.cli.usage import UsageError, bind_problem, listen_problem
from inngest_dsl.devserver.config import DevServerConfig
from inngest_dsl.devserver.server import DevServer

__all__ = ["run_dev"]


def _is_asgi(target: Any) -> bool:
    """An ASGI application: a callable of `(scope, receive, send)`, not a factory."""
    with contextlib.suppress(TypeError, ValueError):
        return callable(target) and len(inspect.signature(target).parameters) == 3
    return False


def _app_spec(spec: str) -> tuple[str, str]:
    """`package.module:app` as (module, attribute), or a `UsageError` naming the form."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise UsageError(f"--app must look like package.module:app, got {spec!r}")
    return module_name, attribute


def _why(exc: BaseException) -> str:
    """An exception in one line, `Name: message`, with where the user's code raised it."""
    where = ""
    frame = exc.__traceback__
    while frame is not None:  # the innermost frame outside the import machinery
        name = frame.tb_frame.f_code.co_filename
        if not name.startswith("<frozen"):
            where = f" ({name}, line {frame.tb_lineno})"
        frame = frame.tb_next
    text = str(exc).splitlines()[0] if str(exc) else ""
    if isinstance(exc, SyntaxError):  # its own file and line, not the importer's
        text, where = exc.msg or text, f" ({exc.filename}, line {exc.lineno})"
    return f"{type(exc).__name__}: {text}{where}" if text else f"{type(exc).__name__}{where}"


def _load_app(spec: str) -> Any:
    module_name, attribute = _app_spec(spec)
    # `python -m` puts the current directory on the path and the console script does not:
    # the module is looked for there either way, as uvicorn and gunicorn do.
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise UsageError(
                f"--app: no module {module_name!r} (looked in {cwd} and on sys.path)"
            ) from None
        raise UsageError(f"--app: importing {module_name!r} failed: {_why(exc)}") from None
    except Exception as exc:  # the module's own code failed: say so, in its words
        raise UsageError(f"--app: importing {module_name!r} failed: {_why(exc)}") from None
    try:
        target: Any = getattr(module, attribute)
    except AttributeError:
        raise UsageError(f"--app: module {module_name!r} has no attribute {attribute!r}") from None
    if not isinstance(target, web.Application) and callable(target) and not _is_asgi(target):
        try:
            target = target()
        except Exception as exc:
            raise UsageError(f"--app: calling {spec} failed: {_why(exc)}") from None
    if not isinstance(target, web.Application) and not _is_asgi(target):
        raise UsageError(f"--app: {spec!r} is not an aiohttp.web.Application nor ASGI app")
    return target


Stop = Callable[[], Awaitable[None]]


async def _serve_app(app: Any, port: int) -> tuple[Stop, int]:
    """Serve the app on loopback; how to stop it, and the port it got (`port` 0: any free)."""
    if not isinstance(app, web.Application):
        return await _serve_asgi(app, port)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
    except OSError as exc:
        await runner.cleanup()
        raise UsageError(bind_problem("--app-port", port, exc)) from None
    return runner.cleanup, int(runner.addresses[0][1])


async def _serve_asgi(app: Any, port: int) -> tuple[Stop, int]:
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
        raise UsageError(bind_problem("--app-port", port, exc)) from None
    bound = int(sock.getsockname()[1])
    server = Server(uvicorn.Config(app, log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():  # noqa: ASYNC110 (no event to await)
        await asyncio.sleep(0.01)

    async def stop() -> None:
        server.should_exit = True
        await task

    return stop, bound


async def run_dev(args: argparse.Namespace) -> None:
    """Run the dev server (and the `--app`) until SIGINT or SIGTERM.

    The server starts first, so that `-p 0` can tell the hosted app the port it got. Apps
    given with `-u` need not be up yet: they are synced as soon as they answer (the syncer
    retries with backoff and logs each change of their state).
    """
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
        retain=args.retain,
    )
    if args.app:
        _app_spec(args.app)  # a malformed --app is refused before a port is taken
    with locked_db(config.db):
        await _run(args, config)


async def _run(args: argparse.Namespace, config: DevServerConfig) -> None:
    # Before anything is logged: a SIGTERM sent once the server says it listens stops it
    # cleanly, never with the default action (dying without closing the store).
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    server = DevServer(config)
    try:
        await server.start()
    except OSError as exc:
        raise UsageError(listen_problem(config.host, config.port, exc)) from None
    except sqlite3.Error as exc:
        problem = f"--db {config.db}: cannot use it as the dev server's database: {exc}"
        raise UsageError(problem) from None
    app_runner: Stop | None = None
    try:
        urls = list(args.urls)
        if args.app:
            # The hosted app must talk to this server, whatever the shell said.
            os.environ["INNGEST_DEV"] = server.url
            app_runner, app_port = await _serve_app(_load_app(args.app), args.app_port)
            urls.append(f"http://127.0.0.1:{app_port}/api/inngest")
        server.syncer.add(urls)
        logging.getLogger("inngest_dsl.devserver").info(
            "dev server listening on %s (db %s)", server.url, config.db
        )
        await stop.wait()
    finally:
        if app_runner is not None:
            await app_runner()
        await server.stop()
