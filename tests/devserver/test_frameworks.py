"""End to end on the dev server: FastAPI, Starlette, Django (ASGI) and Flask (WSGI) apps.

Each app serves the same step + sleep + wait_for_event function through `inngest_dsl.asgi` or
`inngest_dsl.wsgi`, behind a real server on a loopback port (uvicorn in this event loop,
waitress in a thread). The dev server runs on a virtual clock, so the hour-long sleep takes no
time and nothing depends on timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

import inngest_dsl.asgi
import inngest_dsl.wsgi
from inngest_dsl import Context, InngestFunction, sleep, step, wait_for_event
from inngest_dsl.devserver.store.records import RunStatus

from .clocked import ClockedServer, virtual_dev_server
from .conftest import dev_client, send

pytestmark = pytest.mark.realtime  # real web servers over HTTP (on virtual dev-server time)


class Flow(InngestFunction, id="flow", event="fw/start"):
    @step("double")
    def double(self, ctx: Context) -> int:
        return int(ctx.event.data["n"]) * 2

    sleep("1h", id="nap")
    reply = wait_for_event("fw/reply", timeout="1d", match="data.n")

    @step("finish")
    async def finish(self, ctx: Context) -> dict[str, Any]:
        answer = ctx[self.reply]
        return {"double": ctx.data["double"], "reply": answer.data if answer else None}


def _socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.asynccontextmanager
async def _uvicorn(app: Any, lifespan: str = "auto") -> AsyncIterator[int]:
    """`app` served by uvicorn in this event loop on a free loopback port."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            yield

    sock = _socket()
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan=lifespan)
    server = Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done(), task.result()
            await asyncio.sleep(0.01)
        yield port
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextlib.asynccontextmanager
async def _waitress(app: Any) -> AsyncIterator[int]:
    """`app` served by waitress (threads) on a free loopback port.

    Waitress stops once every connection is closed: leave this only after the clients
    (the dev server) are closed.
    """
    import waitress.server

    server: Any = waitress.server.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield int(server.effective_port)
    finally:
        server.close()
        server.task_dispatcher.shutdown()
        await asyncio.to_thread(thread.join, 10)


async def _run_flow(clocked: ClockedServer, url: str, app_id: str) -> None:
    server = clocked.server
    await server.syncer.sync(url)
    assert f"{app_id}-flow" in server.registry.functions
    await send(server, {"name": "fw/start", "data": {"n": 21}})
    await clocked.run_until(lambda: bool(server.store.pauses_for_event("fw/reply")), within="2h")
    await send(server, {"name": "fw/reply", "data": {"n": 21, "ok": True}})
    run = await clocked.finished_run(f"{app_id}-flow")
    assert run.status == RunStatus.COMPLETED, run
    assert {k: run.output[k] for k in ("double", "reply")} == {
        "double": 42,
        "reply": {"n": 21, "ok": True},
    }
    kinds = [(s.display_name, s.kind) for s in server.store.list_steps(run.run_id)]
    assert kinds == [
        ("double", "Run"),
        ("nap", "Sleep"),
        ("fw/reply", "WaitForEvent"),
        ("finish", "Run"),
    ]


async def test_fastapi_app_on_uvicorn() -> None:
    from fastapi import FastAPI

    async with virtual_dev_server() as clocked:
        inngest = inngest_dsl.asgi.serve(dev_client("fastapi-app", clocked.url), [Flow])
        app = FastAPI()

        @app.get("/")
        async def home() -> dict[str, str]:
            return {"hello": "world"}

        app.mount("/api/inngest", inngest)
        try:
            async with _uvicorn(app) as port:
                # Mounted at the serve path, the app answers `<path>/` (Starlette redirects
                # the bare path there).
                await _run_flow(clocked, f"http://127.0.0.1:{port}/api/inngest/", "fastapi-app")
        finally:
            await inngest.close()


async def test_starlette_app_on_uvicorn() -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Mount, Route

    async with virtual_dev_server() as clocked:
        inngest = inngest_dsl.asgi.serve(dev_client("starlette-app", clocked.url), [Flow])
        app = Starlette(
            routes=[
                Route("/", lambda request: PlainTextResponse("home")),
                Mount("/api/inngest", app=inngest),
            ]
        )
        try:
            async with _uvicorn(app) as port:
                await _run_flow(clocked, f"http://127.0.0.1:{port}/api/inngest/", "starlette-app")
        finally:
            await inngest.close()


def _django_asgi() -> Any:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            ALLOWED_HOSTS=["127.0.0.1"],
            ROOT_URLCONF=__name__,
            SECRET_KEY="test-only",
            INSTALLED_APPS=[],
            MIDDLEWARE=[],
        )
        django.setup()
    from django.core.asgi import get_asgi_application

    return get_asgi_application()


def _django_home(request: Any) -> Any:
    from django.http import HttpResponse

    return HttpResponse("home")


def __getattr__(name: str) -> Any:
    # Django reads `urlpatterns` from this module (its ROOT_URLCONF) only when it routes.
    if name == "urlpatterns":
        from django.urls import path

        return [path("", _django_home)]
    raise AttributeError(name)


async def test_django_asgi_app_on_uvicorn() -> None:
    async with virtual_dev_server() as clocked:
        django_app = _django_asgi()
        app = inngest_dsl.asgi.serve(dev_client("django-app", clocked.url), [Flow], app=django_app)
        async with _uvicorn(app, lifespan="off") as port:
            await _run_flow(clocked, f"http://127.0.0.1:{port}/api/inngest", "django-app")
            home = await _get(f"http://127.0.0.1:{port}/")
            assert home == (200, b"home")
        await app.close()


async def _get(url: str) -> tuple[int, bytes]:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.read()


async def test_flask_app_on_waitress() -> None:
    import flask

    app = flask.Flask(__name__)
    app.add_url_rule("/", "home", lambda: "home")
    served: list[inngest_dsl.wsgi.InngestWSGI] = []

    def late(environ: Any, start_response: Any) -> Any:
        return served[0](environ, start_response)  # made once the dev server's URL is known

    async with _waitress(late) as port:
        async with virtual_dev_server() as clocked:
            client = dev_client("flask-app", clocked.url)
            served.append(inngest_dsl.wsgi.serve(client, [Flow], app=app.wsgi_app))
            await _run_flow(clocked, f"http://127.0.0.1:{port}/api/inngest", "flask-app")
            assert await _get(f"http://127.0.0.1:{port}/") == (200, b"home")
        await asyncio.to_thread(served[0].close)
