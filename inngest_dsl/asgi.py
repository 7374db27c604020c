"""Serve functions to Inngest from any ASGI stack: FastAPI, Starlette, Litestar, Django, Quart.

```python
from fastapi import FastAPI
from inngest_dsl import Inngest
from inngest_dsl.asgi import serve

client = Inngest(app_id="shop")
app = FastAPI()
app.mount("/api/inngest", serve(client, [SignUpFlow]))
```

`serve()` returns a plain ASGI application with no framework dependency. It answers the serve
path (`path`, by default `/api/inngest`, with or without a trailing slash) wherever it is
mounted: the path it compares is the full one, the mount point (`root_path`) included. Given
`app=`, it answers the serve path and hands every other request, and the lifespan, to `app`
(how to serve alongside an application that cannot mount ASGI apps, such as Django's). The
protocol itself lives in `inngest_dsl.serve`; this module only converts ASGI messages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Protocol

from inngest_dsl._public import present
from inngest_dsl.client import Inngest
from inngest_dsl.serve._call import ServedFunctions
from inngest_dsl.serve._handler import (
    DEFAULT_PATH as DEFAULT_PATH,
)
from inngest_dsl.serve._handler import (
    MAX_BODY_SIZE,
    BodyTooLarge,
    Handler,
    Headers,
    Request,
    Response,
    first_values,
    same_path,
    serving,
)
from inngest_dsl.spec._function import FunctionSpec

__all__ = ["ASGIApp", "InngestASGI", "serve"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ASGIApp(Protocol):
    """An ASGI 3 application: `await app(scope, receive, send)`."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


class _Disconnected(Exception):
    """The client went away before its body arrived: nothing is answered."""


def _full_path(scope: Scope) -> str:
    """The request's path from the server's root, the mount point included.

    ASGI says `path` excludes `root_path`, but Starlette's mounts (and uvicorn's
    `--root-path`) keep it in: accept both, as Starlette does.
    """
    root = str(scope.get("root_path", ""))
    path = str(scope.get("path", "")) or "/"
    if root and not path.startswith(root):
        path = root + path
    return path


def _url(scope: Scope, headers: Headers, path: str) -> str:
    host = headers.get("Host")
    if not host:
        server = scope.get("server")
        if server and server[1] is not None:
            host = f"{server[0]}:{server[1]}"
        else:
            host = str(server[0]) if server else "localhost"
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{scope.get('scheme', 'http')}://{host}{path}" + (f"?{query}" if query else "")


class InngestASGI:
    """The ASGI application `serve()` returns. `served` says what it serves."""

    def __init__(self, handler: Handler, app: ASGIApp | None) -> None:
        self.handler = handler
        self.served: ServedFunctions = handler.served
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one ASGI connection (`http` on the serve path; the rest goes to `app`)."""
        kind = scope["type"]
        if kind == "http" and same_path(_full_path(scope), self.served.path):
            await self._http(scope, receive, send)
        elif self.app is not None:
            await self.app(scope, receive, self._closing(send) if kind == "lifespan" else send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "http":
            await self._send(send, self.handler.not_found(_full_path(scope)))
        # Anything else (websocket) is not ours: returning without accepting refuses it.

    async def close(self) -> None:
        """Close the client's HTTP session (opened by syncs); a later request reopens it.

        Done on lifespan shutdown; call it yourself when mounted where no lifespan arrives
        (Starlette and FastAPI do not pass theirs to mounted apps).
        """
        await self.served.client.close()

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in scope.get("headers", ())
        )

        async def read() -> bytes:
            parts: list[bytes] = []
            size = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _Disconnected
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.handler.max_body_size:
                    raise BodyTooLarge
                parts.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(parts)

        path = _full_path(scope)
        request = Request(
            method=str(scope["method"]).upper(),
            url_of=lambda: _url(scope, headers, path),
            headers=headers,
            query=first_values(scope.get("query_string", b"").decode("latin-1")),
            read=read,
        )
        try:
            response = await self.handler.handle(request)
        except _Disconnected:
            return
        await self._send(send, response)

    @staticmethod
    async def _send(send: Send, response: Response) -> None:
        headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()
        ]
        headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _closing(self, send: Send) -> Send:
        """`send` for the wrapped app's lifespan: the client closes before shutdown completes."""

        async def forward(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self.close()
            await send(message)

        return forward


def serve(
    client: Inngest,
    functions: type | FunctionSpec | Iterable[type | FunctionSpec],
    *,
    path: str = DEFAULT_PATH,
    max_body_size: int = MAX_BODY_SIZE,
    app: ASGIApp | None = None,
) -> InngestASGI:
    """An ASGI application serving `functions` (classes or their specs) to Inngest at `path`.

    Mount it (`app.mount(path, ...)`) or run it as is; with `app=`, other requests and the
    lifespan go to `app`. A function's `@on_failure` handler is served with it; a request body
    over `max_body_size` bytes gets `413`. Raises
    `ConfigError` in cloud mode without a signing key, and when two functions share a wire id.
    """
    return InngestASGI(
        serving(client, functions, path, framework="asgi", max_body_size=max_body_size), app
    )


present(__name__, globals())
