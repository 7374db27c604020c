"""The events pages: the list (internal events hidden unless asked for), and one event with
the runs it started, or the run a debounce or batch took it into."""

from __future__ import annotations

import json
import urllib.parse

from aiohttp import web

from inngest_dsl.devserver.http.keys import CLOCK, STORE
from inngest_dsl.devserver.store.records import RunStatus
from inngest_dsl.devserver.store.search import EventQuery
from inngest_dsl.devserver.ui.fates import fate_of
from inngest_dsl.devserver.ui.markup import render
from inngest_dsl.devserver.ui.run_page import not_found
from inngest_dsl.devserver.ui.runs_page import function_names
from inngest_dsl.devserver.ui.search_form import RANGES, event_query, page_url

__all__ = ["event", "events"]


async def events(request: web.Request) -> web.Response:
    store = request.app[STORE]
    parsed = event_query(request.query, request.app[CLOCK].now())
    query = parsed.query
    assert isinstance(query, EventQuery)
    page = store.search_events(query)
    params = {k: v for k, v in request.query.items() if k != "done"}
    first_page = {k: v for k, v in params.items() if k != "before"}
    context = {
        "active": "/events",
        "live": not query.cursor,
        "events": [(e, fate_of(store, e.internal_id)) for e in page.events],
        "names": function_names(request),
        "params": request.query,
        "ranges": RANGES,
        "problems": parsed.problems,
        "internal_url": page_url("/events", first_page, internal=None if query.internal else "1"),
        "internal": query.internal,
        "next_url": page_url("/events", params, before=page.cursor) if page.cursor else None,
        "first_url": page_url("/events", first_page) if query.cursor else None,
    }
    return render(request, "events.html", context)


async def event(request: web.Request) -> web.Response:
    store = request.app[STORE]
    ident = request.match_info["event_id"]
    record = store.get_event(ident)
    if record is None:
        return not_found(request, "Event", ident)
    fate = fate_of(store, record.internal_id)
    body = record.body
    data = body.get("data", {})
    about = data.get("run_id") if isinstance(data, dict) else None
    internal = record.name.startswith("inngest/")
    resend = "/send?" + urllib.parse.urlencode(
        {"name": record.name, "data": json.dumps(data, indent=2)}
    )
    context = {
        "event": record,
        "fate": fate,
        "names": function_names(request),
        "now": request.app[CLOCK].now(),
        "about_run": about if internal and isinstance(about, str) else None,
        "resend_url": None if internal else resend,
        "body": body,
        "live": fate.held is not None or any(r.status not in RunStatus.FINAL for r in fate.runs),
    }
    return render(request, "event.html", context)
