"""The `/v1/apps` routes: list, add, re-sync and remove the apps the dev server syncs."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from inngest_dsl.devserver.http import params
from inngest_dsl.devserver.http.keys import STORE, SYNCER
from inngest_dsl.devserver.http.responses import (
    BadRequest,
    error_response,
    json_response,
    read_json,
)
from inngest_dsl.devserver.http.sync import AppSyncer, SyncError
from inngest_dsl.devserver.store.records import AppRecord
from inngest_dsl.devserver.store.shapes import instant

__all__ = ["add_app", "list_apps", "remove_app", "resync_apps"]


def _app_json(app: AppRecord, syncer: AppSyncer) -> dict[str, Any]:
    state = syncer.state(app.url)
    return {
        "url": app.url,
        "name": app.name,
        "sdk": app.sdk,
        "framework": app.framework,
        "synced_at": instant(app.synced_at),
        "error": app.error,
        "polled": state is not None,
        "failures": 0 if state is None else state.failures,
        "next_sync_at": None if state is None else instant(state.next_attempt),
    }


async def list_apps(request: web.Request) -> web.Response:
    """Every app with its last sync time, its error (None if the last sync worked), and
    whether and when the syncer tries it next."""
    syncer = request.app[SYNCER]
    apps = request.app[STORE].list_apps()
    return json_response({"data": [_app_json(a, syncer) for a in apps]})


async def _url(request: web.Request) -> str:
    body = await params.optional_body(request)
    url = body.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise BadRequest("url: must be the app's http(s) serve URL")
    return url


async def add_app(request: web.Request) -> web.Response:
    """Sync an app now; 502 if it does not answer, in which case it is tried again with
    backoff and dropped if it never syncs (see `http.sync`)."""
    url = await _url(request)
    try:
        await request.app[SYNCER].sync(url)
    except SyncError as exc:
        return error_response(502, str(exc), url=url)
    return _one_app(request, url)


def _one_app(request: web.Request, url: str) -> web.Response:
    app = request.app[STORE].get_app(url)
    if app is None:  # removed while syncing
        return error_response(404, f"app {url!r} not found")
    return json_response({"data": _app_json(app, request.app[SYNCER])})


async def resync_apps(request: web.Request) -> web.Response:
    """`{"url": ...}`: sync one known app now (502 if it fails); no body: every app, with
    each one's outcome."""
    syncer = request.app[SYNCER]
    store = request.app[STORE]
    if await request.read():
        url = await _url(request)
        if store.get_app(url) is None and syncer.state(url) is None:
            return error_response(404, f"app {url!r} not found")
        try:
            await syncer.sync(url)
        except SyncError as exc:
            return error_response(502, str(exc), url=url)
        return _one_app(request, url)
    urls = list(dict.fromkeys([*syncer.urls, *(a.url for a in store.list_apps())]))
    results = []
    for url in urls:
        try:
            await syncer.sync(url)
            results.append({"url": url, "ok": True, "error": None})
        except SyncError as exc:
            results.append({"url": url, "ok": False, "error": str(exc)})
    return json_response({"data": results})


async def remove_app(request: web.Request) -> web.Response:
    """`DELETE /v1/apps?url=...`: stop syncing an app and forget it and its functions."""
    url = request.query.get("url")
    if not url:
        body = await read_json(request) if await request.read() else {}
        url = body.get("url") if isinstance(body, dict) else None
    if not isinstance(url, str) or not url:
        return error_response(400, "url: required (the app's serve URL)")
    if not request.app[SYNCER].remove(url):
        return error_response(404, f"app {url!r} not found")
    return json_response({"data": {"url": url, "removed": True}})
