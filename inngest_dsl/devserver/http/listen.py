"""The dev server's listening sockets, bound before any part of it starts.

A port in use fails `start()` before the store is opened; and once the engine resumes calls
and the syncer pings apps, an app calling back finds the port listening (its connection waits
in the backlog until the server accepts).
"""

from __future__ import annotations

import asyncio
import socket
import sys

__all__ = ["listening_sockets"]

BACKLOG = 128


async def listening_sockets(host: str, port: int) -> list[socket.socket]:
    """Listening sockets on every address `host` resolves to (all interfaces for "").

    Bound as asyncio's `create_server` binds them; raises `OSError` (with the errno of the
    failed bind, e.g. `EADDRINUSE`) if one cannot be bound.
    """
    infos = await asyncio.get_running_loop().getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            if sys.platform != "win32":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, True)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, True)
            try:
                sock.bind(address)
            except OSError as err:
                problem = (err.strerror or str(err)).lower()
                message = f"error while attempting to bind on address {address!r}: {problem}"
                raise OSError(err.errno, message) from None
            sock.listen(BACKLOG)
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets
