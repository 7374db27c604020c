"""The UI's `/send` form: one event, through the same validation and ingestion as `/e/{key}`.

A post from another site's page is refused.
"""

from __future__ import annotations

import urllib.parse

from aiohttp import web

from inngest_dsl.devserver.core.events import EventValidationError, normalise_events
from inngest_dsl.devserver.core.payload import PayloadError, json_object
from inngest_dsl.devserver.http.keys import ENGINE, STORE
from inngest_dsl.devserver.http.responses import read_form
from inngest_dsl.devserver.ui.forms import cross_site, refused
from inngest_dsl.devserver.ui.markup import render

__all__ = ["send", "send_form"]


def _send_form(
    request: web.Request, name: str = "", data: str = "", error: str = "", status: int = 200
) -> web.Response:
    names = sorted(
        {
            str(t.get("event"))
            for f in request.app[STORE].list_functions()
            for t in f.config.get("triggers") or []
            if isinstance(t, dict) and t.get("event")
        }
    )
    context = {"active": "/send", "names": names, "name": name, "data": data, "error": error}
    return render(request, "send.html", context, status=status)


async def send_form(request: web.Request) -> web.Response:
    return _send_form(request, request.query.get("name", ""), request.query.get("data", ""))


async def send(request: web.Request) -> web.Response:
    if cross_site(request):
        return refused(request, "Cross-site form post refused.", 403, "/send")
    form = await read_form(request)
    name = str(form.get("name", "")).strip()
    data_text = str(form.get("data", ""))
    try:
        data = json_object(data_text, "Data")
    except PayloadError as exc:
        return _send_form(request, name, data_text, f"{exc}.", 400)
    try:
        events = normalise_events({"name": name, "data": data})
    except EventValidationError as exc:
        return _send_form(request, name, data_text, f"The event was refused: {exc}.", 400)
    ids = await request.app[ENGINE].runs.ingest_grouped(events)
    raise web.HTTPSeeOther(f"/events/{urllib.parse.quote(ids[0])}")
