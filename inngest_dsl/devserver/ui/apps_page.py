"""The apps page: every synced app with its last sync and error, and forms to add, re-sync
and remove apps."""

from __future__ import annotations

from aiohttp import web

from inngest_dsl.devserver.http.keys import STORE, SYNCER
from inngest_dsl.devserver.ui.markup import render

__all__ = ["apps"]


async def apps(request: web.Request) -> web.Response:
    store = request.app[STORE]
    functions = store.list_functions()
    syncer = request.app[SYNCER]
    listed = [
        (app, [f for f in functions if f.app_url == app.url], syncer.state(app.url))
        for app in store.list_apps()
    ]
    return render(request, "apps.html", {"active": "/apps", "apps": listed, "live": True})
