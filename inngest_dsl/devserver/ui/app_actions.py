"""The apps page's buttons: add an app, re-sync one, remove one. Each goes through the app
syncer, as the `/v1/apps` routes do, and comes back to the apps page saying what happened."""

from __future__ import annotations

from aiohttp import web

from inngest_dsl.devserver.http.keys import STORE, SYNCER
from inngest_dsl.devserver.http.responses import read_form
from inngest_dsl.devserver.http.sync import SyncError
from inngest_dsl.devserver.ui.forms import cross_site, refused

__all__ = ["add_app", "remove_app", "resync_app"]


async def _url(request: web.Request) -> str | web.Response:
    if cross_site(request):
        return refused(request, "Cross-site form post refused.", 403, "/apps")
    url = str((await read_form(request)).get("url", "")).strip()
    if not url.startswith(("http://", "https://")):
        return refused(request, "URL: give the app's http(s) serve URL.", 400, "/apps")
    return url


async def add_app(request: web.Request) -> web.Response:
    url = await _url(request)
    if isinstance(url, web.Response):
        return url
    try:
        await request.app[SYNCER].sync(url)
    except SyncError as exc:
        return refused(request, f"The app did not sync: {exc}", 502, "/apps")
    raise web.HTTPSeeOther("/apps?done=app-added")


async def resync_app(request: web.Request) -> web.Response:
    url = await _url(request)
    if isinstance(url, web.Response):
        return url
    syncer = request.app[SYNCER]
    if request.app[STORE].get_app(url) is None and syncer.state(url) is None:
        return refused(request, f"No app at {url}.", 404, "/apps")
    try:
        await syncer.sync(url)
    except SyncError as exc:
        return refused(request, f"The app did not sync: {exc}", 502, "/apps")
    raise web.HTTPSeeOther("/apps?done=app-synced")


async def remove_app(request: web.Request) -> web.Response:
    url = await _url(request)
    if isinstance(url, web.Response):
        return url
    if not request.app[SYNCER].remove(url):
        return refused(request, f"No app at {url}.", 404, "/apps")
    raise web.HTTPSeeOther("/apps?done=app-removed")
