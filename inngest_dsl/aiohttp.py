"""Serve functions to Inngest from an aiohttp application.

```python
from aiohttp import web
from inngest_dsl import Inngest
from inngest_dsl.aiohttp import serve

client = Inngest(app_id="shop")
app = web.Application()
serve(app, client, [SignUpFlow])
```

One path answers the whole protocol: `GET` introspection, `PUT` sync (out-of-band through
`POST {api}/fn/register`, or in-band in cloud mode), `POST` calls and the trust probe. In cloud
mode calls must carry a valid `X-Inngest-Signature` (current or fallback key, at most five
minutes old); in dev mode nothing is checked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

from inngest_dsl._public import present
from inngest_dsl.client import Inngest
from inngest_dsl.serve._call import ServedFunctions
from inngest_dsl.serve._handler import (
    DEFAULT_PATH as DEFAULT_PATH,
)
from inngest_dsl.serve._handler import (
    MAX_BODY_SIZE,
    BodyTooLarge,
    BodyUnreadable,
    Handler,
    Request,
    read_limited,
    serving,
)
from inngest_dsl.spec._function import FunctionSpec

__all__ = ["SERVED", "ServedFunctions", "serve"]

_UNREADABLE = "a Content-Encoding that does not decode, or a broken chunked body"


SERVED = web.AppKey("inngest_dsl.served", dict[str, ServedFunctions])
"""`app[SERVED][path]` describes what `serve()` mounted at `path`."""


def _route(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The aiohttp handler of the serve path: the request in, `Handler`'s response out.

    The body is read here rather than with `request.read()`, so the handler's size limit
    applies (and its JSON `413`), not the application's `client_max_size`.
    """

    async def answer(request: web.Request) -> web.Response:
        async def read() -> bytes:
            length = request.content_length
            try:
                if length is None:  # chunked: counted as it comes
                    return await read_limited(request.content.iter_any(), handler.max_body_size)
                if length > handler.max_body_size:
                    raise BodyTooLarge
                return await request.content.readexactly(length) if length else b""
            except web.RequestPayloadError:
                raise BodyUnreadable(_UNREADABLE) from None
            except asyncio.IncompleteReadError:
                raise BodyUnreadable("the body ended before its Content-Length") from None

        response = await handler.handle(
            Request(
                method=request.method,
                url_of=lambda: str(request.url),
                headers=request.headers,
                query=request.query,
                read=read,
            )
        )
        if "Content-Encoding" in request.headers and request.body_exists:
            # Read what the handler left: an encoding that does not decode is refused here,
            # not found by aiohttp while draining after the answer went out.
            try:
                async for _ in request.content.iter_any():
                    pass
            except web.RequestPayloadError:
                response = handler.unreadable(_UNREADABLE)
        return web.Response(status=response.status, body=response.body, headers=response.headers)

    return answer


def serve(
    app: web.Application,
    client: Inngest,
    functions: type | FunctionSpec | Iterable[type | FunctionSpec],
    path: str = DEFAULT_PATH,
    *,
    max_body_size: int = MAX_BODY_SIZE,
) -> ServedFunctions:
    """Mount `functions` (classes or their specs) on `app` at `path` for Inngest to call.

    A function's `@on_failure` handler is served with it, as `<wire id>-failure`. Raises
    `ConfigError` in cloud mode without a signing key, and when two functions share a wire id.
    """
    handler = serving(client, functions, path, max_body_size=max_body_size)
    served = handler.served
    answer = _route(handler)
    app.router.add_route("*", path, answer)  # the handler answers other methods with 405
    if SERVED not in app:
        app[SERVED] = {}
        app.on_cleanup.append(_close_clients)
    app[SERVED][path] = served
    return served


async def _close_clients(app: web.Application) -> None:
    # The handler opened the clients' HTTP sessions (sync, use_api); a later call reopens them.
    for served in app[SERVED].values():
        await served.client.close()


present(__name__, globals())
