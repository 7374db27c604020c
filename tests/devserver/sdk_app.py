"""Serving official-SDK (`inngest` 0.5.19) Flask apps on a loopback port, in a thread."""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import flask
from werkzeug.serving import make_server

with warnings.catch_warnings():
    # inngest 0.5.19 still declares pydantic models the pydantic-1 way.
    warnings.simplefilter("ignore", DeprecationWarning)
    import inngest
    import inngest.flask


@contextlib.contextmanager
def serve_sdk_app(
    client: inngest.Inngest,
    functions: list[inngest.Function[Any]],
    step_ids: list[str] | None = None,
) -> Iterator[str]:
    """Serve the functions with `inngest.flask.serve`; yields the app's `/api/inngest` URL.

    Given `step_ids`, the `stepId` of every call the app receives is appended to it.
    """
    app = flask.Flask(__name__)
    if step_ids is not None:

        @app.before_request
        def record() -> None:
            if flask.request.method == "POST":
                step_ids.append(flask.request.args.get("stepId", ""))

    inngest.flask.serve(app, client, functions)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # `shutdown()` waits for the serving loop to notice; poll often so that takes no time.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/inngest"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        _close_http_clients(client)


def _close_http_clients(client: inngest.Inngest) -> None:
    """The SDK keeps an httpx client (to the dev server) open for its lifetime; close it."""
    import httpx

    http = getattr(client, "_http_client", None)
    for value in vars(http).values() if http is not None else ():
        if isinstance(value, httpx.Client):
            value.close()


def sdk_client(server_url: str, app_id: str = "sdk-app", **options: Any) -> inngest.Inngest:
    """An official-SDK client in dev mode, talking to the dev server at `server_url`."""
    options.setdefault("is_production", False)
    return inngest.Inngest(
        app_id=app_id, api_base_url=server_url, event_api_base_url=server_url, **options
    )
