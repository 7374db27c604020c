"""The `/v1/apps` routes: list, add, re-sync and remove the apps the dev server syncs."""

from __future__ import annotations

from aiohttp import web

from inngest_dsl.devserver.http.keys import STORE, SYNCER
from inngest_dsl.devserver.http.responses import error_response, json_response, read_json
from inngest_dsl.devserver.http.sync import SyncError
from inngest_dsl.devserver.store.shapes import instant

__all__ = ["add_app", "list_apps"]


async def list_apps(request: web.Request) -> web.Response:
    apps = request.app[STORE].list_apps()
    return json_response(
        {
            "data": [
                {
                    "url": a.url,
                    "name": a.name,
                    "sdk": a.sdk,
                    "framework": a.framework,
                    "synced_at": instant(a.synced_at),
                    "error": a.error,
                }
                for a in apps
            ]
        }
    )


async def add_app(request: web.Request) -> web.Response:
    body = await read_json(request)
    url = body.get("url") if isinstance(body, dict) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return error_response(400, "url: must be the app's http(s) serve URL")
    try:
        await request.app[SYNCER].sync(url)
    except SyncError as exc:
        return error_response(502, str(exc))
    return json_response({"ok": True, "url": url})
