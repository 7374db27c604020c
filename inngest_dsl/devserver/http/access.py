"""Who may use a dev server started with a key: one middleware, deciding per route.

Without a signing key or an event key every route is open, as on Inngest's dev server. With a
signing key, a request passes only on an open route (`/health`, the login page, the UI's
static files) or with a credential:

- `Authorization: Bearer <signing key>`: the key as given, or hashed as the official SDKs send
  it to Inngest's API (PROTOCOL.md §3), with or without its `signkey-<env>-` prefix;
- the UI's session cookie, set by the login page (`ui.login`): an HMAC of a fixed label under
  the key, never the key. It is HttpOnly and SameSite=Strict; a request that changes state on
  its strength must also come from this server's own pages (`Origin`, `Sec-Fetch-Site`), since
  a page on another port of the same host is the same *site* to a browser.

`POST /e/{key}` takes the event key in its path when one is configured (a signing key's bearer
also passes); else, with a signing key, a credential as above. A refused browser asking for a
page is sent to the login page; anything else gets a 401 JSON error.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import urllib.parse
from collections.abc import Awaitable, Callable

from aiohttp import web

from inngest_dsl.devserver.http.keys import CONFIG
from inngest_dsl.devserver.http.responses import error_response, json_response
from inngest_dsl.wire import _signing

__all__ = [
    "LOGIN_PATH",
    "LOGOUT_PATH",
    "OPEN_ROUTES",
    "SESSION_COOKIE",
    "access_middleware",
    "cross_site",
    "key_matches",
    "session_token",
]

LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
SESSION_COOKIE = "inngest_dsl_session"

OPEN_ROUTES = frozenset({"/health", LOGIN_PATH, LOGOUT_PATH, "/ui/{name}"})
"""Routes that answer without a credential (by their route's pattern): the UI's stylesheet
and script are static, and the login page needs the stylesheet."""

EVENT_ROUTE = "/e/{key}"
GRAPHQL_ROUTE = "/v0/gql"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_SESSION_LABEL = b"inngest-dsl dev server: UI session, v1"

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Credential(enum.Enum):
    """How a request proved it holds the signing key."""

    BEARER = "bearer"
    COOKIE = "cookie"


def _same(given: str, expected: str) -> bool:
    # Header text may hold anything; compare bytes in constant time.
    return hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    )


def key_matches(given: str, signing_key: str) -> bool:
    """Whether `given` is the signing key or its hash, with or without the key's prefix."""
    given = _signing.normalize_key(given.strip())
    hashed = _signing.hash_signing_key(signing_key)
    plain = _signing.normalize_key(signing_key)
    # Both compared, always: how long this takes says nothing about which one matched.
    return bool(_same(given, hashed) | _same(given, plain))


def session_token(signing_key: str) -> str:
    """The UI session cookie's value: an HMAC under the key, so the key never leaves here."""
    material = _signing.normalize_key(signing_key).encode()
    return hmac.new(material, _SESSION_LABEL, hashlib.sha256).hexdigest()


def _credential(request: web.Request, signing_key: str) -> Credential | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token and key_matches(token, signing_key):
        return Credential.BEARER
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and _same(cookie, session_token(signing_key)):
        return Credential.COOKIE
    return None


def cross_site(request: web.Request) -> bool:
    """A browser request made from another origin's page.

    Browsers name the page's origin, or send `null` from sandboxed frames and `data:` pages,
    which are never this server's own; `Sec-Fetch-Site` says it outright. A request naming
    neither (curl, a script) is not a browser's cross-site request.
    """
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return True
    origin = request.headers.get("Origin")
    if not origin:
        return False
    return origin == "null" or urllib.parse.urlsplit(origin).netloc != request.host


def _route(request: web.Request) -> str | None:
    """The pattern of the route the request matched (`/v1/runs/{run_id}`), None if none did."""
    resource = request.match_info.route.resource
    return None if resource is None else resource.canonical


def _wants_page(request: web.Request) -> bool:
    return request.method in ("GET", "HEAD") and "text/html" in request.headers.get("Accept", "")


def _refused(request: web.Request, route: str | None) -> web.StreamResponse:
    if _wants_page(request):
        target = urllib.parse.urlencode({"next": request.raw_path})
        raise web.HTTPSeeOther(f"{LOGIN_PATH}?{target}")
    message = (
        "this dev server needs its signing key: send Authorization: Bearer <signing key> "
        f"(or its hash), or log in at {LOGIN_PATH}"
    )
    extra = {"errors": [{"message": message}]} if route == GRAPHQL_ROUTE else {}
    response = error_response(401, message, **extra)
    response.headers["WWW-Authenticate"] = 'Bearer realm="inngest-dsl dev server"'
    return response


def _event_key_refused() -> web.Response:
    # The body Inngest's event API answers with (PROTOCOL.md §9).
    return json_response({"status": 401, "message": "", "error": "Event key not found"}, 401)


def _refusal(request: web.Request) -> web.StreamResponse | None:
    """Why the request may not reach its route, as the answer to give; None if it may."""
    config = request.app[CONFIG]
    route = _route(request)
    if route in OPEN_ROUTES:
        return None
    signing_key = config.signing_key
    credential = _credential(request, signing_key) if signing_key else None
    if route == EVENT_ROUTE:
        if config.event_key and not _same(request.match_info["key"], config.event_key):
            return None if credential is Credential.BEARER else _event_key_refused()
        if signing_key and not config.event_key and credential is not Credential.BEARER:
            return _refused(request, route)
        return None
    if not signing_key:
        return None
    if credential is None:
        return _refused(request, route)
    unsafe = request.method not in SAFE_METHODS
    if credential is Credential.COOKIE and unsafe and cross_site(request):
        return error_response(403, "cross-site request refused")
    return None


@web.middleware
async def access_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Let a request through to its route, or refuse it (see the module's docstring)."""
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    return await handler(request)
