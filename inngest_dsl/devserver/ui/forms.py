"""What every form post of the UI goes through: refusing posts from other sites' pages (the
check `http.access` also applies to every request a login cookie authorises), and answering a
refused action with its reason."""

from __future__ import annotations

from aiohttp import web

from inngest_dsl.devserver.http.access import cross_site
from inngest_dsl.devserver.ui.markup import render

__all__ = ["cross_site", "refused"]


def refused(request: web.Request, problem: str, status: int, back: str) -> web.Response:
    """The page saying why an action was refused, with the way back."""
    return render(request, "refused.html", {"problem": problem, "back": back}, status=status)
