"""Servers and ports on loopback, for every test folder: tests never reach past 127.0.0.1."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator

from aiohttp import web

HOST = "127.0.0.1"


def free_port() -> int:
    """A loopback port nothing listens on now (for a server started later, or for an address
    that must refuse connections)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def on_loopback(app: web.Application, port: int = 0) -> AsyncIterator[str]:
    """Serve `app` on loopback (on `port`, by default a free one); yields its origin,
    `http://127.0.0.1:<port>`. Leaving the block stops it (and runs the app's cleanup)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, HOST, port).start()
        yield f"http://{HOST}:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
