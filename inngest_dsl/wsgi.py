"""Serve functions to Inngest from a WSGI stack: Flask, Django, any WSGI server.

```python
from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from inngest_dsl import Inngest
from inngest_dsl.wsgi import serve

client = Inngest(app_id="shop")
app = Flask(__name__)
app.wsgi_app = serve(client, [SignUpFlow], app=app.wsgi_app)
```

`serve()` returns a WSGI application that answers the serve path (`path`, by default
`/api/inngest`, with or without a trailing slash; `SCRIPT_NAME` counts, so it can be mounted
under a prefix) and hands every other request to `app=`, or answers it `404`.

The protocol is asynchronous; WSGI is not. The application runs the async handler on an event
loop of its own, one loop in one background thread, started on the first request and reused
by every request from every server thread (`asyncio.run_coroutine_threadsafe`), so it is safe
under a threaded WSGI server. Sync blocks run in the loop's worker threads, async blocks on the
loop. `close()` stops the loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Protocol, TypeVar

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

__all__ = ["InngestWSGI", "StartResponse", "WSGIApp", "serve"]

_T = TypeVar("_T")

Environ = dict[str, Any]


class StartResponse(Protocol):
    """WSGI's `start_response(status, headers, exc_info=None)`."""

    def __call__(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = ..., /
    ) -> Callable[[bytes], object]: ...


class WSGIApp(Protocol):
    """A WSGI application: `app(environ, start_response)` returns the body's chunks."""

    def __call__(self, environ: Environ, start_response: StartResponse, /) -> Iterable[bytes]: ...


_REASONS = {
    200: "OK",
    201: "Created",
    206: "Partial Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    500: "Internal Server Error",
}


class _LoopThread:
    """One event loop in a daemon thread, started on first use, shared by every caller."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run `coroutine` on the loop and wait for its result (from any thread but the loop's)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._running()).result()

    def _running(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                started = threading.Event()
                thread = threading.Thread(
                    target=self._forever, args=(loop, started), name="inngest-dsl-wsgi", daemon=True
                )
                thread.start()
                started.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    @staticmethod
    def _forever(loop: asyncio.AbstractEventLoop, started: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(started.set)
        loop.run_forever()

    def stop(self, last: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `last()` on the loop, then stop it and close it; the next use starts a new one."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(last(), loop).result()
            asyncio.run_coroutine_threadsafe(loop.shutdown_default_executor(), loop).result()
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()


def _read_body(environ: Environ, limit: int) -> bytes:
    """The request body, at most `limit` bytes (past that, `BodyTooLarge`)."""
    stream = environ.get("wsgi.input")
    length = (environ.get("CONTENT_LENGTH") or "").strip()
    if stream is None:
        return b""
    if length.isdigit():
        if int(length) > limit:
            raise BodyTooLarge
        return bytes(stream.read(int(length)))
    if not environ.get("wsgi.input_terminated"):
        return b""  # no length and no end marker: PEP 3333 allows no body
    body = bytes(stream.read(limit + 1))
    if len(body) > limit:
        raise BodyTooLarge
    return body


def _full_path(environ: Environ) -> str:
    raw = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    # WSGI hands paths over as latin-1 decoded bytes; the URL is UTF-8.
    return raw.encode("latin-1").decode("utf-8", "replace") or "/"


def _url(environ: Environ, path: str) -> str:
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST")
    if not host:
        host = environ.get("SERVER_NAME", "localhost")
        port = environ.get("SERVER_PORT")
        if port and port != ("443" if scheme == "https" else "80"):
            host = f"{host}:{port}"
    query = environ.get("QUERY_STRING", "")
    return f"{scheme}://{host}{path}" + (f"?{query}" if query else "")


def _headers(environ: Environ) -> Headers:
    pairs = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            pairs.append((key[5:].replace("_", "-").title(), value))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            pairs.append((key.replace("_", "-").title(), value))
    return Headers(pairs)


class InngestWSGI:
    """The WSGI application `serve()` returns. `served` says what it serves."""

    def __init__(self, handler: Handler, app: WSGIApp | None) -> None:
        self.handler = handler
        self.served: ServedFunctions = handler.served
        self.app = app
        self._loop = _LoopThread()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """Answer one request: the serve path here, the rest by `app` (or `404`)."""
        path = _full_path(environ)
        if not same_path(path, self.served.path):
            if self.app is not None:
                return self.app(environ, start_response)
            return self._respond(start_response, self.handler.not_found(path))
        try:
            body = _read_body(environ, self.handler.max_body_size)
            problem: BodyTooLarge | None = None
        except BodyTooLarge as exc:
            body, problem = b"", exc

        async def read() -> bytes:
            if problem is not None:
                raise problem
            return body

        request = Request(
            method=str(environ.get("REQUEST_METHOD", "GET")).upper(),
            url_of=lambda: _url(environ, path),
            headers=_headers(environ),
            query=first_values(environ.get("QUERY_STRING", "")),
            read=read,
        )
        return self._respond(start_response, self._loop.run(self.handler.handle(request)))

    def close(self) -> None:
        """Close the client's HTTP session and stop the event loop (a later request restarts
        both)."""
        self._loop.stop(self.served.client.close)

    @staticmethod
    def _respond(start_response: StartResponse, response: Response) -> list[bytes]:
        headers = list(response.headers.items())
        headers.append(("Content-Length", str(len(response.body))))
        reason = _REASONS.get(response.status, "")
        start_response(f"{response.status} {reason}".rstrip(), headers)
        return [response.body]


def serve(
    client: Inngest,
    functions: type | FunctionSpec | Iterable[type | FunctionSpec],
    *,
    path: str = DEFAULT_PATH,
    max_body_size: int = MAX_BODY_SIZE,
    app: WSGIApp | None = None,
) -> InngestWSGI:
    """A WSGI application serving `functions` (classes or their specs) to Inngest at `path`.

    With `app=`, other requests go to `app`. A function's `@on_failure` handler is served with
    it; a request body over `max_body_size` bytes gets `413`. Raises `ConfigError` in cloud
    mode without a signing key, and when two functions share a wire id.
    """
    return InngestWSGI(
        serving(client, functions, path, framework="wsgi", max_body_size=max_body_size), app
    )


present(__name__, globals())
