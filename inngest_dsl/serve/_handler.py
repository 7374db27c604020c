"""The serve path's protocol, framework-free: one HTTP request in, one response out.

`GET` introspection, `PUT` sync (out-of-band through `POST {api}/fn/register`, or in-band when
the request asks for it), `POST` calls and the trust probe. In cloud mode requests must carry a
valid `X-Inngest-Signature` (current or fallback key, at most five minutes old); in dev mode
nothing is checked. A web framework's shell turns its request into a `Request`, and the `Response`
back into its own (`inngest_dsl.aiohttp`, `inngest_dsl.asgi` and `inngest_dsl.wsgi` do), and
nothing else: every answer, bad input included, is decided here, so the shells answer alike.
Bad input (another method, an oversized, unreadable, undecodable or too deeply nested body) gets
a 4xx JSON error; a bug of ours a 500 JSON error naming only the exception's type, never a
traceback. In cloud mode a call's signature is checked before its body is parsed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

import attrs

from inngest_dsl.client import API_ERRORS, Inngest
from inngest_dsl.errors import ConfigError
from inngest_dsl.serve._bodies import (
    FRAMEWORK,
    app_url,
    in_band_body,
    introspection,
    register_body,
)
from inngest_dsl.serve._call import (
    ServedFunctions,
    answer_call,
    encode_body,
    error_body,
    functions_to_serve,
    sdk_headers,
    served_functions,
)
from inngest_dsl.spec._function import FunctionSpec
from inngest_dsl.wire._calls import (
    CallRequest,
    WireError,
    decode_call_request,
    decode_events,
    with_call_headers,
)
from inngest_dsl.wire._json import loads
from inngest_dsl.wire._signing import sign, verify

__all__ = [
    "ALLOWED_METHODS",
    "DEFAULT_PATH",
    "MAX_BODY_SIZE",
    "BodyTooLarge",
    "BodyUnreadable",
    "Handler",
    "Headers",
    "Request",
    "Response",
    "first_values",
    "read_limited",
    "same_path",
    "serving",
]

_log = logging.getLogger("inngest_dsl.serve")

ALLOWED_METHODS = ("GET", "PUT", "POST")

DEFAULT_PATH = "/api/inngest"
"""Where `serve()` answers unless given another `path`."""

MAX_BODY_SIZE = 64 * 1024 * 1024
"""The largest request body the serve path reads (64 MiB); a larger one gets `413`.

Inngest sends a run's events and step results in the call body up to its own limits and
switches to `use_api` past them, so a body this large is not from Inngest.
"""


class BodyTooLarge(Exception):
    """Raised by a shell's `read` when the body exceeds the handler's `max_body_size`."""


class BodyUnreadable(Exception):
    """Raised by a shell's `read` when the body cannot be read: a `Content-Encoding` that does
    not decode, a broken chunked body. The message says which, in one line."""


class Headers(Mapping[str, str]):
    """Request headers looked up case-insensitively; the first of repeated names wins."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in pairs:
            self._items.setdefault(name.lower(), (name, value))

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)


def first_values(query_string: str) -> dict[str, str]:
    """A query string's parameters, the first value of each (as aiohttp's `query.get`)."""
    params: dict[str, str] = {}
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        params.setdefault(name, value)
    return params


async def read_limited(chunks: Iterable[bytes] | AsyncIterable[bytes], limit: int) -> bytes:
    """Join a body's chunks (an iterable or an async iterable), raising `BodyTooLarge` as soon
    as they add up to more than `limit` bytes."""
    parts: list[bytes] = []
    size = 0

    def add(chunk: bytes) -> None:
        nonlocal size
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        parts.append(chunk)

    if isinstance(chunks, AsyncIterable):
        async for chunk in chunks:
            add(chunk)
    else:
        for chunk in chunks:
            add(chunk)
    return b"".join(parts)


def same_path(path: str, served: str) -> bool:
    """Whether a request's path is the serve path, with or without a trailing slash."""
    return (path.rstrip("/") or "/") == (served.rstrip("/") or "/")


@attrs.frozen
class Request:
    """An HTTP request to the serve path, as any framework can give it.

    `url_of` gives the full URL (only a sync needs it, so it is built only then); `headers`
    must look names up case-insensitively (as HTTP does); `read` returns the body, is awaited
    at most once and only when the body is needed, and raises `BodyTooLarge` past the
    handler's `max_body_size`.
    """

    method: str
    url_of: Callable[[], str]
    headers: Mapping[str, str]
    query: Mapping[str, str]
    read: Callable[[], Awaitable[bytes]]

    @property
    def url(self) -> str:
        """The full URL of the request."""
        return self.url_of()


@attrs.frozen
class Response:
    """The response to send: status, encoded JSON body, all headers."""

    status: int
    body: bytes
    headers: Mapping[str, str]


_error = error_body


def _require_json(raw: bytes) -> None:
    """`ValueError` unless the body is empty or JSON."""
    if raw.strip():
        loads(raw)


def _not_json(exc: ValueError) -> dict[str, str]:
    return _error(f"request body is not valid JSON: {exc}", "body_invalid")


class Handler:
    """The three methods on the serve path; everything per-spec is computed up front."""

    def __init__(
        self,
        served: ServedFunctions,
        *,
        framework: str = FRAMEWORK,
        max_body_size: int = MAX_BODY_SIZE,
    ) -> None:
        self.served = served
        self.client = served.client
        self.framework = framework
        self.max_body_size = max_body_size
        self.keys = tuple(
            k for k in (served.client.signing_key, served.client.signing_key_fallback) if k
        )
        self.base_headers = sdk_headers(served.client, framework)

    async def handle(self, request: Request) -> Response:
        """Answer any request to the serve path; only `GET`, `PUT` and `POST` are served."""
        if request.method not in ALLOWED_METHODS:
            return self.respond(
                405,
                _error(
                    f"method {request.method} is not allowed on the serve path "
                    f"(allowed: {', '.join(ALLOWED_METHODS)})",
                    "method_not_allowed",
                ),
                headers={"Allow": ", ".join(ALLOWED_METHODS)},
            )
        length = request.headers.get("Content-Length")
        if length is not None:
            if not length.strip().isdigit():
                return self.respond(
                    400, _error(f"invalid Content-Length {length!r}", "body_invalid")
                )
            if int(length) > self.max_body_size:
                return self.too_large()
        try:
            if request.method == "GET":
                return await self.get(request)
            if request.method == "PUT":
                return await self.put(request)
            return await self.post(request)
        except BodyTooLarge:
            return self.too_large()
        except BodyUnreadable as exc:
            return self.unreadable(str(exc))
        except Exception as exc:  # a bug of ours: say so in JSON, log the traceback
            # The type only: a message may name files or values the caller should not see.
            _log.exception("the serve path failed on %s %s", request.method, request.url)
            return self.respond(500, _error(f"internal error: {type(exc).__name__}", "internal"))

    def too_large(self) -> Response:
        return self.respond(
            413,
            _error(f"request body larger than {self.max_body_size} bytes", "body_too_large"),
        )

    def unreadable(self, why: str) -> Response:
        """The answer to a body that cannot be read (see `BodyUnreadable`)."""
        return self.respond(400, _error(f"request body unreadable: {why}", "body_invalid"))

    def not_found(self, path: str) -> Response:
        """The answer of a shell that owns more than the serve path, for another path."""
        return self.respond(
            404,
            _error(f"no route {path!r}: Inngest is served at {self.served.path!r}", "not_found"),
        )

    # -- responses ---------------------------------------------------------------------------

    def respond(
        self,
        status: int,
        body: Any,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """A JSON response with the SDK headers, signed with `key` when the request was."""
        status, payload = encode_body(status, body)
        all_headers = dict(self.base_headers)
        if headers:
            all_headers.update(headers)
        if key is not None:
            all_headers["X-Inngest-Signature"] = sign(payload, key)
        return Response(status=status, body=payload, headers=all_headers)

    def unauthorized(self, why: str) -> Response:
        return self.respond(401, _error(why, "sig_verification_failed"))

    def verified_key(self, request: Request, body: bytes) -> str | None:
        """The key the request's signature verifies with, over the body as received."""
        return verify(request.headers.get("X-Inngest-Signature"), body, self.keys)

    def signature_problem(self, request: Request) -> str:
        if not request.headers.get("X-Inngest-Signature"):
            return "missing X-Inngest-Signature: cloud mode requires signed requests"
        return "invalid X-Inngest-Signature: wrong key, tampered body or older than 5 minutes"

    # -- GET ---------------------------------------------------------------------------------

    async def get(self, request: Request) -> Response:
        """Introspection: the long form only for a validly signed request."""
        authenticated: bool | None = None
        key = None
        if "X-Inngest-Signature" in request.headers:
            key = self.verified_key(request, await request.read())
            authenticated = key is not None
        body = introspection(self.client, len(self.served.specs), authenticated, self.framework)
        return self.respond(200, body, key=key)

    # -- PUT ---------------------------------------------------------------------------------

    async def put(self, request: Request) -> Response:
        """Sync: answered in band with the config when the request asks for it (signed, in cloud
        mode); else registered out-of-band.

        In cloud mode a sync must be signed, with one exception: an unsigned out-of-band sync
        (`curl -X PUT` after a deploy) is accepted when the serve origin is configured, since
        then nothing in the request can change the URL that gets registered. In dev mode
        nothing is checked, as the Go SDK does; an in-band answer is signed when the request's
        signature verified with one of the client's keys.
        """
        url = app_url(request.url, self.client.serve_origin, self.client.serve_path)
        in_band = request.headers.get("X-Inngest-Sync-Kind") == "in_band"
        if self.client.is_dev:
            if in_band:
                return await self.sync_in_band_dev(request, url)
            return await self.sync_out_of_band(request, url)
        raw = await request.read()
        try:
            _require_json(raw)
        except ValueError as exc:
            return self.respond(400, _not_json(exc))
        key = self.verified_key(request, raw)
        if key is None:
            signed = "X-Inngest-Signature" in request.headers
            if signed or in_band:
                return self.unauthorized(self.signature_problem(request))
            if self.client.serve_origin is None:
                return self.unauthorized(
                    "unsigned sync refused in cloud mode: sync from Inngest (its requests are "
                    "signed), or set INNGEST_SERVE_ORIGIN so the registered URL cannot come "
                    "from the request"
                )
        if in_band:
            return self.sync_in_band(url, key)
        return await self.sync_out_of_band(request, url)

    def sync_in_band(self, url: str, key: str | None) -> Response:
        """The in-band answer: the app's configuration, signed with `key` when there is one."""
        return self.respond(
            200,
            in_band_body(self.client, self.served.specs, url, self.framework),
            key=key,
            headers={"X-Inngest-Sync-Kind": "in_band"},
        )

    async def sync_in_band_dev(self, request: Request, url: str) -> Response:
        """In-band in dev mode: nothing is checked; a signature that verifies signs the answer."""
        key = None
        if self.keys and "X-Inngest-Signature" in request.headers:
            key = self.verified_key(request, await request.read())
        return self.sync_in_band(url, key)

    async def sync_out_of_band(self, request: Request, url: str) -> Response:
        path = "fn/register"
        deploy_id = request.query.get("deployId")
        if deploy_id:
            path = f"{path}?{urlencode({'deployId': deploy_id})}"
        headers = {"X-Inngest-Framework": self.framework, "X-Inngest-Req-Version": "2"}
        server_kind = request.headers.get("X-Inngest-Server-Kind")
        if server_kind:
            headers["X-Inngest-Expected-Server-Kind"] = server_kind
        body = register_body(self.client, self.served.specs, url, self.framework)
        sync_headers = {"X-Inngest-Sync-Kind": "out_of_band"}
        target = f"{self.client.api_base_url}/fn/register"
        try:
            status, reply = await self.client.api_request("POST", path, body, headers=headers)
        except API_ERRORS as exc:
            message = f"could not reach Inngest at {target}: {exc or type(exc).__name__}"
            return self.respond(
                500,
                {"message": message, "modified": False, **_error(message, "registration_failed")},
                headers=sync_headers,
            )
        if not 200 <= status < 300:
            detail = reply.get("error") if isinstance(reply, dict) else reply
            message = f"Inngest refused the sync (HTTP {status} from {target}): {detail}"
            return self.respond(
                500,
                {"message": message, "modified": False, **_error(message, "registration_failed")},
                headers=sync_headers,
            )
        modified = bool(reply.get("modified")) if isinstance(reply, dict) else False
        return self.respond(
            200, {"message": "Successfully synced.", "modified": modified}, headers=sync_headers
        )

    # -- POST --------------------------------------------------------------------------------

    async def post(self, request: Request) -> Response:
        """A call (`fnId`, `stepId`) or the trust probe (`probe=trust`)."""
        cloud = not self.client.is_dev
        if cloud and not request.headers.get("X-Inngest-Signature"):
            return self.unauthorized(self.signature_problem(request))
        raw = await request.read()
        query = request.query
        if query.get("probe") == "trust":
            return await self.trust_probe(request, raw)
        key = None
        if cloud:
            # Before the body is parsed: a malformed or stale signature is refused unread.
            key = self.verified_key(request, raw)
            if key is None:
                return self.unauthorized(self.signature_problem(request))
        try:
            parsed = loads(raw, finite=True)
        except ValueError as exc:
            return self.respond(400, _not_json(exc))
        try:
            call = with_call_headers(decode_call_request(parsed), request.headers)
            if call.use_api:
                call = await self.fetch_payload(call)
        except WireError as exc:
            return self.respond(exc.status, _error(exc.message, exc.code), key=key)
        answer = await answer_call(self.served, call, query.get("fnId"), query.get("stepId"))
        return self.respond(answer.status, answer.body, key=key, headers=answer.headers)

    async def trust_probe(self, request: Request, raw: bytes) -> Response:
        if self.client.is_dev:
            return self.respond(200, None)
        try:
            _require_json(raw)
        except ValueError as exc:
            return self.respond(400, _not_json(exc))
        key = self.verified_key(request, raw)
        if key is None:
            return self.unauthorized(self.signature_problem(request))
        return self.respond(200, None, key=key)

    async def fetch_payload(self, call: CallRequest) -> CallRequest:
        """`use_api`: the body was too large to send, so fetch events and memo from the API."""
        run_id = call.ctx.run_id
        if not run_id:
            raise WireError("use_api is set but ctx.run_id is missing", "body_invalid")
        events_raw = await self._api_get(f"v0/runs/{run_id}/batch")
        steps = await self._api_get(f"v0/runs/{run_id}/actions")
        events = decode_events(events_raw)
        if not isinstance(steps, dict):
            raise WireError(
                f"GET v0/runs/{run_id}/actions returned {type(steps).__name__}, "
                "expected a JSON object",
                "api_payload_invalid",
                status=500,
            )
        return attrs.evolve(
            call,
            event=events[0] if events else call.event,
            events=events or call.events,
            steps=steps,
        )

    async def _api_get(self, path: str) -> Any:
        try:
            status, body = await self.client.api_request("GET", path)
        except API_ERRORS as exc:
            raise WireError(
                f"could not fetch {path} from Inngest: {exc or type(exc).__name__}",
                "api_fetch_failed",
                status=500,
            ) from None
        if status != 200:
            raise WireError(f"GET {path} answered HTTP {status}", "api_fetch_failed", status=500)
        return body


def serving(
    client: Inngest,
    functions: type | FunctionSpec | Iterable[type | FunctionSpec],
    path: str,
    *,
    framework: str = FRAMEWORK,
    max_body_size: int = MAX_BODY_SIZE,
) -> Handler:
    """The handler behind every adapter's `serve()`: `functions` (classes or their specs) at
    `path`. Raises `ConfigError` in cloud mode without a signing key, for a path that does not
    start with `/`, and when two functions share a wire id."""
    client.require_signing_key()
    if not path.startswith("/"):
        raise ConfigError(f"path must start with '/', got {path!r}")
    served = served_functions(client, functions_to_serve(functions), path)
    return Handler(served, framework=framework, max_body_size=max_body_size)
