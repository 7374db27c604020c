"""The dev server as one aiohttp application.

Each part starts and stops in its own cleanup context, under a typed key (`http.keys`): the
store, the HTTP session, the engine (runs, executor, cron) on that session, then the app syncer.
They start in that order when the application starts and stop in the reverse order when it is
cleaned up, after the server stopped answering. Handlers read the parts they need from
`request.app[...]`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from inngest_dsl.devserver.config import DevServerConfig
from inngest_dsl.devserver.core.clock import Clock
from inngest_dsl.devserver.core.engine import Engine
from inngest_dsl.devserver.http.access import access_middleware
from inngest_dsl.devserver.http.keys import CLOCK, CONFIG, ENGINE, SESSION, STORE, SYNCER
from inngest_dsl.devserver.http.responses import error_middleware
from inngest_dsl.devserver.http.routes import api_routes
from inngest_dsl.devserver.http.sync import AppSyncer
from inngest_dsl.devserver.http.transport import HttpTransport, client_session
from inngest_dsl.devserver.store import Store
from inngest_dsl.devserver.ui.login import login_routes
from inngest_dsl.devserver.ui.routes import install_ui

__all__ = ["build_app"]

MAX_BODY = 64 * 1024 * 1024


def build_app(config: DevServerConfig, clock: Clock) -> web.Application:
    """The application: the parts' cleanup contexts, the API's routes, then the UI's; every
    request through the error middleware, then the access middleware (`http.access`)."""
    app = web.Application(
        middlewares=[error_middleware, access_middleware], client_max_size=MAX_BODY
    )
    app[CONFIG] = config
    app[CLOCK] = clock
    app.cleanup_ctx.extend((open_store, open_session, run_engine, run_syncer))
    app.add_routes(api_routes())
    install_ui(app)
    app.add_routes(login_routes())
    return app


async def open_store(app: web.Application) -> AsyncIterator[None]:
    """The SQLite store, open while the application runs."""
    store = Store(app[CONFIG].db)
    app[STORE] = store
    yield
    store.close()


async def open_session(app: web.Application) -> AsyncIterator[None]:
    """The HTTP client session for calls and sync pings to apps."""
    config = app[CONFIG]
    async with client_session(timeout=config.call_timeout, limit=config.concurrency * 2) as session:
        app[SESSION] = session
        yield


async def run_engine(app: web.Application) -> AsyncIterator[None]:
    """The run engine on the store, calling apps over the session: resumes the stored queue and
    the cron schedule; stops firing timers and cancels the calls in flight at the end."""
    config, clock = app[CONFIG], app[CLOCK]
    transport = HttpTransport(app[SESSION], clock, config.signing_key)
    engine = Engine(
        app[STORE],
        transport,
        clock,
        retry_interval=config.retry_interval,
        concurrency=config.concurrency,
        next_fire=config.next_fire,
        cron_random=config.cron_random,
        retain=config.retain,
    )
    app[ENGINE] = engine
    engine.start()
    yield
    await engine.stop()


async def run_syncer(app: web.Application) -> AsyncIterator[None]:
    """Pings the configured app URLs, and every app added later, every `poll_interval`."""
    config = app[CONFIG]
    syncer = AppSyncer(
        app[STORE],
        app[ENGINE].registry,
        app[SESSION],
        signing_key=config.signing_key,
        interval=config.poll_interval,
        clock=app[CLOCK],
    )
    syncer.add(config.app_urls)
    app[SYNCER] = syncer
    syncer.start()
    yield
    await syncer.stop()
