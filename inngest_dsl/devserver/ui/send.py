"""The UI's `/send` form: one event, through the same validation and ingestion as `/e/{key}`.

A post from another site's page is refused.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from aiohttp import web

from inngest_dsl.devserver.core.events import EventValidationError, normalise_events
from inngest_dsl.devserver.http.access import cross_site
from inngest_dsl.devserver.http.keys import ENGINE, STORE
from inngest_dsl.devserver.http.responses import read_form
from inngest_dsl.devserver.ui.markup import esc, page
from inngest_dsl.devserver.ui.pages import html_response

__all__ = ["send", "send_form"]

_DATA_PLACEHOLDER = '{\n  "user_id": 42\n}'


def _send_form(request: web.Request, name: str = "", data: str = "", error: str = "") -> str:
    names = sorted(
        {
            str(t.get("event"))
            for f in request.app[STORE].list_functions()
            for t in f.config.get("triggers") or []
            if isinstance(t, dict) and t.get("event")
        }
    )
    options = "".join(f'<option value="{esc(n)}"></option>' for n in names)
    problem = f'<p class="error" id="form-error" role="alert">{esc(error)}</p>' if error else ""
    return (
        "<h1>Send an event</h1>"
        '<form method="post" action="/send" class="send">'
        f"{problem}"
        '<label for="event-name">Name</label>'
        f'<input id="event-name" name="name" required list="event-names" '
        f'placeholder="app/user.signed_up" value="{esc(name)}" autocomplete="off">'
        f'<datalist id="event-names">{options}</datalist>'
        '<label for="event-data">Data (a JSON object)</label>'
        f'<textarea id="event-data" name="data" rows="12" spellcheck="false" '
        f'placeholder="{esc(_DATA_PLACEHOLDER)}">{esc(data)}</textarea>'
        '<button type="submit" id="send-button">Send event</button>'
        "</form>"
    )


async def send_form(request: web.Request) -> web.Response:
    form = _send_form(request, request.query.get("name", ""), request.query.get("data", ""))
    return html_response(page("Send event", form, active="/send"))


async def send(request: web.Request) -> web.Response:
    if cross_site(request):
        return html_response(
            page("Refused", '<p class="error">Cross-site form post refused.</p>'), 403
        )
    form = await read_form(request)
    name = str(form.get("name", "")).strip()
    data_text = str(form.get("data", ""))
    try:
        data: Any = json.loads(data_text) if data_text.strip() else {}
    except json.JSONDecodeError as exc:
        error = f"Data is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        return _form_error(request, name, data_text, error)
    if not isinstance(data, dict):
        return _form_error(request, name, data_text, "Data must be a JSON object ({...}).")
    try:
        events = normalise_events({"name": name, "data": data})
    except EventValidationError as exc:
        return _form_error(request, name, data_text, f"The event was refused: {exc}.")
    ids = await request.app[ENGINE].runs.ingest_grouped(events)
    raise web.HTTPSeeOther(f"/events/{urllib.parse.quote(ids[0])}")


def _form_error(request: web.Request, name: str, data: str, error: str) -> web.Response:
    return html_response(
        page("Send event", _send_form(request, name, data, error), active="/send"), 400
    )
