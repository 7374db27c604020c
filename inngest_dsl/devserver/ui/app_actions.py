"""The apps page's buttons: add an app, re-sync one, remove one. Each goes through the app
syncer, as the `/v1/apps` routes do, and comes back to the apps page saying what happened."""

from __future__ import annotations

from aiohttp import web

from inngest_dsl.devserver.http.keys import STORE, SYNCER
from inngest_dsl.devserver.http.responses import read_form
from inngest_dsl.devserver.http.sync import SyncError
from inngest_dsl.devserver.ui.confirm import ask, confirmed
from inngest_dsl.devserver.ui.forms import cross_site, refused

__all__ = ["add_app", "remove_app", "resync_app"]


async def _form(request: web.Request) -> tuple[str, dict[str, str]] | web.Response:
    """The app's URL and the whole form, or the page refusing the post."""
    if cross_site(request):
        return refused(request, "Cross-site form post refused.", 403, "/apps")
    form = {k: str(v) for k, v in (await read_form(request)).items()}
    url = form.get("url", "").strip()
    if not url.startswith(("http://", "https://")):
        return refused(request, "URL: give the app's http(s) serve URL.", 400, "/apps")
    return url, form


async def _url(request: web.Request) -> str | web.Response:
    posted = await _form(request)
    return posted if isinstance(posted, web.Response) else posted[0]


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
    posted = await _form(request)
    if isinstance(posted, web.Response):
        return posted
    url, form = posted
    app = request.app[STORE].get_app(url)
    if app is None and request.app[SYNCER].state(url) is None:
        return refused(request, f"No app at {url}.", 404, "/apps")
    if not confirmed(form):
        functions = [f for f in request.app[STORE].list_functions() if f.app_url == url]
        return ask(
            request,
            question=f"Remove the app {app.name if app else url}?",
            consequence=(
                f"Its {len(functions)} function(s) stop being registered, so events no longer "
                f"start them; their runs stay. Sync the app again to bring it back. ({url})"
            ),
            form=form,
            yes="Yes, remove the app",
            back="/apps",
            items=[(f.name, f"/functions/{f.id}") for f in functions],
        )
    if not request.app[SYNCER].remove(url):
        return refused(request, f"No app at {url}.", 404, "/apps")
    raise web.HTTPSeeOther("/apps?done=app-removed")
