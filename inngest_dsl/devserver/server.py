"""`DevServer`: binds the port, starts the application's parts, serves, and stops them again."""

from __future__ import annotations

import socket
from types import TracebackType

from aiohttp import web

from inngest_dsl.devserver.app import build_app
from inngest_dsl.devserver.config import DEFAULT_DB, DevServerConfig
from inngest_dsl.devserver.core.clock import Clock, WallClock
from inngest_dsl.devserver.core.cron import CronScheduler
from inngest_dsl.devserver.core.engine import Engine
from inngest_dsl.devserver.core.executor import Executor
from inngest_dsl.devserver.core.functions import Registry
from inngest_dsl.devserver.core.runs import Runs
from inngest_dsl.devserver.http.keys import ENGINE, STORE, SYNCER
from inngest_dsl.devserver.http.listen import listening_sockets
from inngest_dsl.devserver.http.sync import AppSyncer
from inngest_dsl.devserver.store import Store

__all__ = ["DEFAULT_DB", "DevServer", "DevServerConfig"]


class DevServer:
    """The embedded dev server. Use `async with DevServer(config) as server:` or start/stop.

    Set `clock` before `start()` to run it on another clock (tests use a virtual one). While
    it runs, its parts are at hand: `store`, `engine` and the engine's `registry`, `runs`,
    `executor` and `cron`, and the app `syncer`.
    """

    def __init__(self, config: DevServerConfig | None = None) -> None:
        self.config = config or DevServerConfig()
        self.clock: Clock = WallClock()
        self.port = self.config.port
        self._app: web.Application | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:8288` (what `INNGEST_DEV` should be set to)."""
        return f"http://{self.config.host}:{self.port}"

    async def start(self) -> None:
        """Bind the port, open the store, resume due work, begin syncing apps, then serve.

        Raises `OSError` if the port cannot be bound.
        """
        config = self.config
        sockets = await listening_sockets(config.host, config.port)
        app = build_app(config, self.clock)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        try:
            await runner.setup()
            for sock in sockets:
                await web.SockSite(runner, sock).start()
        except BaseException:
            await runner.cleanup()
            _close(sockets)
            raise
        self._app, self._runner = app, runner
        self.port = runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop answering, then stop syncing, scheduling and calling, and close the store."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> DevServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- the parts, once started ------------------------------------------------------------

    @property
    def app(self) -> web.Application:
        """The aiohttp application (its parts under the keys of `http.keys`)."""
        if self._app is None:
            raise RuntimeError("the dev server has not been started")
        return self._app

    @property
    def store(self) -> Store:
        """The SQLite store."""
        return self.app[STORE]

    @property
    def engine(self) -> Engine:
        """The run engine: registry, runs, executor and cron on `clock`."""
        return self.app[ENGINE]

    @property
    def registry(self) -> Registry:
        """The registered functions."""
        return self.engine.registry

    @property
    def runs(self) -> Runs:
        """The run transitions (ingesting events, cancelling runs...)."""
        return self.engine.runs

    @property
    def executor(self) -> Executor:
        """The executor: the queue of due work and the calls in flight."""
        return self.engine.executor

    @property
    def cron(self) -> CronScheduler:
        """The cron schedule."""
        return self.engine.cron

    @property
    def syncer(self) -> AppSyncer:
        """The app syncer (`await server.syncer.sync(url)` adds an app)."""
        return self.app[SYNCER]


def _close(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()
