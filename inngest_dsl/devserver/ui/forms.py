"""What every form post of the UI goes through: refusing posts from other sites' pages, and
answering a refused action with its reason."""

from __future__ import annotations

import urllib.parse

from aiohttp import web

from inngest_dsl.devserver.ui.markup import render

__all__ = ["cross_site", "refused"]


def cross_site(request: web.Request) -> bool:
    """A browser POST from another site's page: refuse it.

    Browsers name the page's origin, or send `null` from sandboxed frames and `data:`
    pages, which are never this server's own form; `Sec-Fetch-Site` says it outright.
    """
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return True
    origin = request.headers.get("Origin")
    if not origin:
        return False
    return origin == "null" or urllib.parse.urlsplit(origin).netloc != request.host


def refused(request: web.Request, problem: str, status: int, back: str) -> web.Response:
    """The page saying why an action was refused, with the way back."""
    return render(request, "refused.html", {"problem": problem, "back": back}, status=status)
