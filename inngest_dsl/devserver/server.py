"""Wiring and lifecycle: one aiohttp server, the store, the executor, cron and app sync."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

import aiohttp
import attrs
from aiohttp import web

from inngest_dsl.devserver.api import DEV_SERVER, build_routes, error_middleware
from inngest_dsl.devserver.clock import Clock, WallClock
from inngest_dsl.devserver.cron import NextFire
from inngest_dsl.devserver.engine import Engine
from inngest_dsl.devserver.executor import HttpTransport
from inngest_dsl.devserver.store import Store
from inngest_dsl.devserver.sync import AppSyncer
from inngest_dsl.devserver.ui import build_ui_routes
from inngest_dsl.spec import _cron

__all__ = ["DEFAULT_DB", "DevServer", "DevServerConfig"]

DEFAULT_DB = ".inngest-dsl/dev.db"


@attrs.frozen
class DevServerConfig:
    """Everything `inngest-dsl dev` can be told. `port=0` picks a free port."""

    host: str = "127.0.0.1"
    port: int = 8288
    db: str = DEFAULT_DB
    app_urls: Sequence[str] = ()
    signing_key: str | None = None
    event_key: str | None = None
    retry_interval: float | None = None
    poll_interval: float = 5.0
    concurrency: int = 64
    call_timeout: float = 300.0
    next_fire: NextFire = _cron.next_fire


class DevServer:
    """The embedded dev server. Use `async with DevServer(config) as server:` or start/stop."""

    def __init__(self, config: DevServerConfig | None = None) -> None:
        self.config = config or DevServerConfig()
        self.clock: Clock = WallClock()
        self.port = self.config.port
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:8288` (what `INNGEST_DEV` should be set to)."""
        return f"http://{self.config.host}:{self.port}"

    async def start(self) -> None:
        """Open the store, bind the port, resume due work, and begin syncing apps.

        Raises `OSError` if the port cannot be bound.
        """
        config = self.config
        self.store = Store(config.db)
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=config.call_timeout),
            connector=aiohttp.TCPConnector(limit=config.concurrency * 2),
        )
        self.engine = Engine(
            self.store,
            HttpTransport(self._session, self.clock, config.signing_key),
            self.clock,
            retry_interval=config.retry_interval,
            concurrency=config.concurrency,
            next_fire=config.next_fire,
        )
        self.registry = self.engine.registry
        self.runs = self.engine.runs
        self.executor = self.engine.executor
        self.cron = self.engine.cron
        self.syncer = AppSyncer(
            self.store,
            self.registry,
            self._session,
            signing_key=config.signing_key,
            interval=config.poll_interval,
            clock=self.clock,
        )
        self.syncer.add(config.app_urls)
        app = web.Application(middlewares=[error_middleware], client_max_size=64 * 1024 * 1024)
        app[DEV_SERVER] = self
        app.add_routes(build_routes(self))
        app.add_routes(build_ui_routes(self))
        self.app = app
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, config.host, config.port)
        try:
            await site.start()
        except OSError:
            await self._close()
            raise
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self.engine.start()
        self.syncer.start()

    async def stop(self) -> None:
        """Stop syncing, scheduling and calling, then close the port and the store."""
        await self.syncer.stop()
        await self.engine.stop()
        await self._close()

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        self.store.close()

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
