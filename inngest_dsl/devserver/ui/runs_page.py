"""The runs page: search by run or event id, function, status and time range; newest first,
one page at a time, as many pages as there are runs."""

from __future__ import annotations

import attrs
from aiohttp import web

from inngest_dsl.devserver.http import json_api
from inngest_dsl.devserver.http.keys import CLOCK, STORE
from inngest_dsl.devserver.store.records import RunStatus
from inngest_dsl.devserver.store.search import RunQuery, RunSearch
from inngest_dsl.devserver.ui.markup import render
from inngest_dsl.devserver.ui.search_form import RANGES, page_url, run_query

__all__ = ["function_names", "home", "runs", "wants_html"]


def wants_html(request: web.Request) -> bool:
    return "text/html" in request.headers.get("Accept", "")


def function_names(request: web.Request) -> dict[str, str]:
    return {f.id: f.name for f in request.app[STORE].list_functions()}


async def home(request: web.Request) -> web.Response:
    """The runs page for browsers; the JSON index (`/v1`) for clients not asking for HTML."""
    if wants_html(request):
        return await runs(request)
    return await json_api.index(request)


async def runs(request: web.Request) -> web.Response:
    store = request.app[STORE]
    now = request.app[CLOCK].now()
    params: dict[str, str | list[str]] = {
        key: request.query.getall(key) if key == "status" else request.query[key]
        for key in request.query
        if key != "done"  # what the last action did is said once, not carried along
    }
    statuses = request.query.getall("status", [])
    parsed = run_query(request.query, statuses, now)
    query = parsed.query
    assert isinstance(query, RunQuery)
    problems = list(parsed.problems)
    status = 200
    try:
        page = _search(request, query)
    except ValueError:  # a page cursor that is no run id: say so rather than show page one
        before = request.query.get("before", "")
        problems.append(f"Page: {before!r} is not a page of this list; start from the first.")
        page = RunSearch([], None)
        status = 400
    counts = store.count_runs(request.query.get("function") or None)
    first_page = {k: v for k, v in params.items() if k != "before"}
    tabs = [
        (
            "All",
            page_url("/runs", first_page, status=None),
            not query.statuses,
            sum(counts.values()),
        )
    ]
    tabs += [
        (
            name,
            page_url("/runs", first_page, status=name),
            list(query.statuses or ()) == [name],
            counts.get(name, 0),
        )
        for name in RunStatus.ALL
    ]
    context = {
        "active": "/runs",
        "live": not query.cursor,
        "runs": page.runs,
        "names": function_names(request),
        "functions": store.list_functions(),
        "now": now,
        "params": request.query,
        "statuses": query.statuses or (),
        "all_statuses": RunStatus.ALL,
        "tabs": tabs,
        "ranges": RANGES,
        "problems": problems,
        "next_url": page_url("/runs", params, before=page.cursor) if page.cursor else None,
        "first_url": page_url("/runs", first_page) if query.cursor else None,
    }
    return render(request, "runs.html", context, status=status)


def _search(request: web.Request, query: RunQuery) -> RunSearch:
    store = request.app[STORE]
    ident = request.query.get("q", "").strip()
    if not ident:
        return store.search_runs(query)
    # A run id, else the internal or own id of an event: the runs it started.
    page = store.search_runs(attrs.evolve(query, run_id=ident))
    if not page.runs:
        page = store.search_runs(attrs.evolve(query, event_id=ident))
    return page
