"""Every route of the UI, in one table."""

from __future__ import annotations

from aiohttp import web

from inngest_dsl.devserver.ui import pages, send

__all__ = ["ui_routes"]


def ui_routes() -> list[web.RouteDef]:
    """The UI's routes; `/` is the runs page (or, to a client not asking for HTML, the index)."""
    return [
        web.get("/", pages.home),
        web.get("/runs/{run_id}", pages.run),
        web.get("/events", pages.events),
        web.get("/events/{event_id}", pages.event),
        web.get("/functions", pages.functions),
        web.get("/send", send.send_form),
        web.post("/send", send.send),
        web.get("/ui/style.css", pages.stylesheet),
    ]
