"""Every route of the UI, in one table, and the template environment it renders with."""

from __future__ import annotations

import functools
from importlib import resources

from aiohttp import web

from inngest_dsl.devserver.ui import (
    actions,
    app_actions,
    apps_page,
    events_page,
    functions_page,
    run_page,
    runs_page,
    send,
)
from inngest_dsl.devserver.ui.markup import setup_templates

__all__ = ["install_ui", "ui_routes"]

_STATIC = {"style.css": "text/css", "live.js": "text/javascript"}


@functools.cache
def _static(name: str) -> bytes:
    return (resources.files("inngest_dsl.devserver.ui") / "static" / name).read_bytes()


async def _asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _STATIC:
        raise web.HTTPNotFound()
    return web.Response(
        body=_static("ui.css" if name == "style.css" else name),
        content_type=_STATIC[name],
        headers={"Cache-Control": "max-age=60"},
    )


def ui_routes() -> list[web.RouteDef]:
    """The UI's routes; `/` is the runs page (or, to a client not asking for HTML, the index)."""
    return [
        web.get("/", runs_page.home),
        web.get("/runs", runs_page.runs),
        web.get("/runs/{run_id}", run_page.run),
        web.post("/runs/{run_id}/cancel", actions.cancel),
        web.post("/runs/{run_id}/rerun", actions.rerun),
        web.get("/events", events_page.events),
        web.get("/events/{event_id}", events_page.event),
        web.get("/functions", functions_page.functions),
        web.get("/functions/{function_id}", functions_page.function),
        web.post("/functions/{function_id}/invoke", actions.invoke),
        web.post("/functions/{function_id}/cancel", actions.bulk_cancel),
        web.get("/apps", apps_page.apps),
        web.post("/apps", app_actions.add_app),
        web.post("/apps/resync", app_actions.resync_app),
        web.post("/apps/remove", app_actions.remove_app),
        web.get("/send", send.send_form),
        web.post("/send", send.send),
        web.get("/ui/{name}", _asset),
    ]


def install_ui(app: web.Application) -> None:
    """The UI on the application: its templates and its routes."""
    setup_templates(app)
    app.add_routes(ui_routes())
