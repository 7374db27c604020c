"""The UI's login: the signing key in, a session cookie out (see `http.access`).

A page of its own, so that it needs nothing a logged-out browser may not see. The cookie holds
`access.session_token(key)`, never the key; it is HttpOnly, SameSite=Strict, and Secure when
the page was served over HTTPS. Without a signing key there is nothing to log in to.
"""

from __future__ import annotations

import html

from aiohttp import web

from inngest_dsl.devserver.http.access import (
    LOGIN_PATH,
    LOGOUT_PATH,
    SESSION_COOKIE,
    cross_site,
    key_matches,
    session_token,
)
from inngest_dsl.devserver.http.keys import CONFIG
from inngest_dsl.devserver.http.responses import read_form

__all__ = ["login", "login_form", "login_routes", "logout"]

SESSION_DAYS = 30

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · inngest-dsl dev</title><link rel="stylesheet" href="/ui/style.css"></head>
<body><main id="main">
<h1>Log in</h1>
<p>This dev server was started with a signing key: enter it to use the UI.</p>
<form method="post" action="{action}" class="send">{problem}
<input type="hidden" name="next" value="{next}">
<label for="signing-key">Signing key</label>
<input id="signing-key" name="key" type="password" required autofocus autocomplete="off">
<button type="submit" id="login-button">Log in</button>
</form></main></body></html>
"""


def _next(target: object) -> str:
    """Where to go after logging in: a path on this server, never another site."""
    text = str(target or "/")
    if not text.startswith("/") or text.startswith("//") or "\\" in text:
        return "/"
    return text


def _page(target: str, problem: str = "", status: int = 200) -> web.Response:
    shown = f'<p class="error" id="form-error" role="alert">{html.escape(problem)}</p>'
    body = _PAGE.format(
        action=LOGIN_PATH,
        next=html.escape(target),
        problem=shown if problem else "",
    )
    return web.Response(
        text=body,
        status=status,
        content_type="text/html",
        headers={"Cache-Control": "no-store", "X-Inngest-Server-Kind": "dev"},
    )


async def login_form(request: web.Request) -> web.Response:
    target = _next(request.query.get("next"))
    if not request.app[CONFIG].signing_key:
        raise web.HTTPSeeOther(target)
    return _page(target)


async def login(request: web.Request) -> web.Response:
    signing_key = request.app[CONFIG].signing_key
    form = await read_form(request)
    target = _next(form.get("next"))
    if not signing_key:
        raise web.HTTPSeeOther(target)
    if cross_site(request):
        return _page(target, "Cross-site login refused.", 403)
    if not key_matches(str(form.get("key", "")), signing_key):
        return _page(target, "That is not the signing key of this server.", 401)
    response = web.HTTPSeeOther(target)
    response.set_cookie(
        SESSION_COOKIE,
        session_token(signing_key),
        max_age=SESSION_DAYS * 24 * 3600,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
    raise response


async def logout(request: web.Request) -> web.Response:
    response = web.HTTPSeeOther(LOGIN_PATH)
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


def login_routes() -> list[web.RouteDef]:
    """`GET`/`POST /login` and `POST /logout` (open routes: see `access.OPEN_ROUTES`)."""
    return [
        web.get(LOGIN_PATH, login_form),
        web.post(LOGIN_PATH, login),
        web.post(LOGOUT_PATH, logout),
    ]
