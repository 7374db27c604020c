"""The UI's pages over the store's read API: runs, a run's timeline, events, functions.

`/` runs (filter by status or function), `/runs/{id}` a run's step timeline, `/events` and
`/events/{id}` events with the runs they started, `/functions` functions and their triggers.
Pages that can change poll themselves (see `markup.LIVE_SCRIPT`); nothing loads from a CDN.
"""

from __future__ import annotations

import functools
import json
import urllib.parse
from collections.abc import Iterable
from importlib import resources

from aiohttp import web

from inngest_dsl.devserver.http import json_api
from inngest_dsl.devserver.http.keys import CLOCK, STORE
from inngest_dsl.devserver.store.records import EventRecord, FunctionRecord, RunRecord, RunStatus
from inngest_dsl.devserver.ui.markup import (
    badge,
    esc,
    format_duration,
    format_time,
    json_block,
    json_preview,
    page,
    table,
)
from inngest_dsl.devserver.ui.timeline import render_timeline

__all__ = [
    "event",
    "events",
    "functions",
    "home",
    "html_response",
    "run",
    "runs",
    "stylesheet",
]

LIST_LIMIT = 200
LIVE_MS = 1000
_RUN_HEADERS = ("Run", "Function", "Status", "Started", "Duration", "Trigger")


def html_response(body: str, status: int = 200) -> web.Response:
    return web.Response(
        text=body,
        status=status,
        content_type="text/html",
        headers={"Cache-Control": "no-store", "X-Inngest-Server-Kind": "dev"},
    )


def _not_found(what: str, ident: str) -> web.Response:
    body = (
        f"<h1>{esc(what)} not found</h1>"
        f'<p class="error">No {esc(what.lower())} with id <code>{esc(ident)}</code>.</p>'
        '<p><a href="/">Back to runs</a></p>'
    )
    return html_response(page(f"{what} not found", body), 404)


def _qs(**params: str | None) -> str:
    kept = {k: v for k, v in params.items() if v}
    return "?" + urllib.parse.urlencode(kept) if kept else ""


@functools.cache
def _stylesheet() -> bytes:
    return (resources.files("inngest_dsl.devserver.ui") / "static" / "ui.css").read_bytes()


def _run_duration(run: RunRecord, now: float) -> str:
    start = run.started_at
    if start is None:
        return '<span class="muted">queued</span>'
    if run.ended_at is None:
        return f'{format_duration(now - start)} <span class="muted">so far</span>'
    return format_duration(run.ended_at - start)


def _trigger_cell(run: RunRecord) -> str:
    events = run.events
    if not events:
        return '<span class="muted">&ndash;</span>'
    first = events[0]
    name = str(first.get("name", ""))
    link = f'<a href="/events/{esc(urllib.parse.quote(str(first.get("id", ""))))}">{esc(name)}</a>'
    more = f' <span class="muted">+{len(events) - 1}</span>' if len(events) > 1 else ""
    return link + more


def _function_names(request: web.Request) -> dict[str, str]:
    return {f.id: f.name for f in request.app[STORE].list_functions()}


def _run_rows(request: web.Request, runs: Iterable[RunRecord]) -> list[str]:
    names = _function_names(request)
    now = request.app[CLOCK].now()
    rows = []
    for run in runs:
        name = names.get(run.function_id, run.function_id)
        rows.append(
            f'<tr class="run-row status-{esc(run.status.lower())}">'
            f'<td><a class="mono" href="/runs/{esc(run.run_id)}">{esc(run.run_id)}</a></td>'
            f'<td><a href="/{_qs(function=run.function_id)}" title="{esc(run.function_id)}">'
            f"{esc(name)}</a></td>"
            f"<td>{badge(run.status)}</td>"
            f"<td>{format_time(run.started_at or run.queued_at)}</td>"
            f"<td>{_run_duration(run, now)}</td>"
            f"<td>{_trigger_cell(run)}</td></tr>"
        )
    return rows


# -- runs --------------------------------------------------------------------------------


async def home(request: web.Request) -> web.Response:
    """The runs page for browsers; the JSON index (`/v1`) for clients not asking for HTML."""
    if "text/html" in request.headers.get("Accept", ""):
        return await runs(request)
    return await json_api.index(request)


async def runs(request: web.Request) -> web.Response:
    store = request.app[STORE]
    status = request.query.get("status") or None
    if status is not None:
        status = status.capitalize()
    function_id = request.query.get("function") or None
    problem = ""
    if status is not None and status not in RunStatus.ALL:
        problem = (
            f'<p class="error">Unknown status {esc(status)}: choose one of '
            f"{esc(', '.join(RunStatus.ALL))}.</p>"
        )
        status = None
    counts = store.count_runs(function_id)
    tabs = [
        f'<a href="/{_qs(function=function_id)}"{" class=active" if status is None else ""}>'
        f"All <span class=count>{sum(counts.values())}</span></a>"
    ]
    for name in RunStatus.ALL:
        active = " class=active" if name == status else ""
        tabs.append(
            f'<a href="/{_qs(status=name, function=function_id)}"{active}>{esc(name)} '
            f"<span class=count>{counts.get(name, 0)}</span></a>"
        )
    runs = store.list_runs(status, LIST_LIMIT, function_id)
    scope = ""
    if function_id:
        scope = (
            f"<p>Function <code>{esc(function_id)}</code> · "
            f'<a href="/{_qs(status=status)}">all functions</a></p>'
        )
    body = f'<h1>Runs</h1>{problem}<nav class="tabs">{"".join(tabs)}</nav>{scope}' + table(
        _RUN_HEADERS,
        _run_rows(request, runs),
        empty='No runs yet. <a href="/send">Send an event</a> to start one.',
        css="runs",
    )
    return html_response(page("Runs", body, active="/", live_ms=LIVE_MS))


async def run(request: web.Request) -> web.Response:
    store = request.app[STORE]
    run_id = request.match_info["run_id"]
    run = store.get_run(run_id)
    if run is None:
        return _not_found("Run", run_id)
    steps = store.list_steps(run.run_id)
    now = request.app[CLOCK].now()
    names = _function_names(request)
    final = run.status in RunStatus.FINAL
    facts = [
        (
            "Function",
            f'<a href="/{_qs(function=run.function_id)}">'
            f"{esc(names.get(run.function_id, run.function_id))}</a> "
            f'<code class="muted">{esc(run.function_id)}</code>',
        ),
        ("Status", badge(run.status)),
        ("Queued", format_time(run.queued_at)),
        ("Started", format_time(run.started_at)),
        ("Ended", format_time(run.ended_at)),
        ("Duration", _run_duration(run, now)),
        ("Trigger", _trigger_cell(run)),
    ]
    if run.correlation_id:
        facts.append(("Invoked by", f"<code>{esc(run.correlation_id)}</code>"))
    if run.priority:
        facts.append(("Priority", f"{run.priority:+d}s"))
    if run.reason:
        facts.append(("Reason", f'<span class="reason">{esc(run.reason)}</span>'))
    dl = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in facts)
    outcome = ""
    if run.status == RunStatus.FAILED or run.error is not None:
        outcome = (
            '<h2>Error</h2><div class="outcome failed">'
            + json_block(run.error, block_id="run-error")
            + "</div>"
        )
    elif run.status == RunStatus.COMPLETED:
        outcome = (
            '<h2>Output</h2><div class="outcome">'
            + json_block(run.output, block_id="run-output")
            + "</div>"
        )
    events = run.events
    trigger = ""
    if events:
        trigger = f"<h2>Event{'s' if len(events) > 1 else ''}</h2>" + json_block(
            events if len(events) > 1 else events[0], block_id="run-event"
        )
    body = (
        f'<h1>Run <span class="mono">{esc(run.run_id)}</span></h1>'
        f'<dl class="facts">{dl}</dl>'
        f"<h2>Timeline</h2>{render_timeline(run, steps, now)}"
        f"{outcome}{trigger}"
    )
    return html_response(page(f"Run {run.run_id}", body, live_ms=None if final else LIVE_MS))


# -- events ------------------------------------------------------------------------------


def _event_rows(request: web.Request, events: Iterable[EventRecord]) -> list[str]:
    store = request.app[STORE]
    rows = []
    for event in events:
        runs = store.runs_for_event(event.internal_id)
        started = (
            " ".join(
                f'<a class="run-link" href="/runs/{esc(r.run_id)}">{badge(r.status)} '
                f"{esc(r.function_id)}</a>"
                for r in runs
            )
            or '<span class="muted">none</span>'
        )
        rows.append(
            "<tr>"
            f'<td><a href="/events/{esc(event.internal_id)}">{esc(event.name)}</a></td>'
            f"<td>{format_time(event.received_at)}</td>"
            f'<td class="data">{json_preview(event.body.get("data", {}), 70)}</td>'
            f"<td>{started}</td></tr>"
        )
    return rows


async def events(request: web.Request) -> web.Response:
    name = request.query.get("name") or None
    events = request.app[STORE].list_events(LIST_LIMIT, name)
    scope = (
        f'<p>Named <code>{esc(name)}</code> · <a href="/events">all events</a></p>' if name else ""
    )
    body = (
        '<h1>Events <a class="button small" href="/send">Send event</a></h1>'
        + scope
        + table(
            ("Event", "Received", "Data", "Runs started"),
            _event_rows(request, events),
            empty='No events yet. <a href="/send">Send one</a>.',
            css="events",
        )
    )
    return html_response(page("Events", body, active="/events", live_ms=LIVE_MS))


async def event(request: web.Request) -> web.Response:
    store = request.app[STORE]
    ident = request.match_info["event_id"]
    event = store.get_event(ident)
    if event is None:
        return _not_found("Event", ident)
    runs = store.runs_for_event(event.internal_id)
    body_value = event.body
    resend = _qs(name=event.name, data=json.dumps(body_value.get("data", {}), indent=2))
    facts = [
        ("Name", f'<a href="/events{_qs(name=event.name)}">{esc(event.name)}</a>'),
        ("Internal id", f"<code>{esc(event.internal_id)}</code>"),
        ("Event id", f"<code>{esc(event.id)}</code>"),
        ("Received", format_time(event.received_at)),
        ("Timestamp", format_time(event.ts / 1000)),
    ]
    about = body_value.get("data", {}).get("run_id")
    if event.name.startswith("inngest/") and isinstance(about, str):
        facts.append(("About run", f'<a href="/runs/{esc(about)}">{esc(about)}</a>'))
        resend_link = ""
    else:
        resend_link = f'<a class="button small" href="/send{esc(resend)}">Edit and send again</a>'
    dl = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in facts)
    final = all(r.status in RunStatus.FINAL for r in runs)
    body = (
        f'<h1>Event <span class="ev-name">{esc(event.name)}</span> '
        f"{resend_link}</h1>"
        f'<dl class="facts">{dl}</dl>'
        "<h2>Runs started</h2>"
        + table(
            _RUN_HEADERS,
            _run_rows(request, runs),
            empty="This event started no runs (no function is triggered by it).",
            css="runs",
        )
        + "<h2>Payload</h2>"
        + json_block(body_value, block_id="event-body")
    )
    return html_response(page(f"Event {event.name}", body, live_ms=None if final else LIVE_MS))


# -- functions ---------------------------------------------------------------------------


def _triggers(function: FunctionRecord) -> str:
    items = []
    for trigger in function.config.get("triggers") or []:
        if not isinstance(trigger, dict):
            continue
        if trigger.get("cron"):
            text = f'<span class="trigger cron">cron <code>{esc(trigger["cron"])}</code>'
            if trigger.get("jitter"):
                text += f' <span class="muted">jitter {esc(trigger["jitter"])}</span>'
            text += "</span>"
        else:
            event = str(trigger.get("event", ""))
            text = f'<span class="trigger"><a href="/events{_qs(name=event)}">{esc(event)}</a>'
            if trigger.get("expression"):
                text += f' <code class="expr">if {esc(trigger["expression"])}</code>'
            text += "</span>"
        items.append(text)
    return " ".join(items) or '<span class="muted">none (invoke only)</span>'


async def functions(request: web.Request) -> web.Response:
    store = request.app[STORE]
    rows = [
        f'<tr id="fn-{esc(f.id)}"><td><b>{esc(f.name)}</b><br>'
        f'<code class="muted">{esc(f.id)}</code></td>'
        f"<td>{_triggers(f)}</td>"
        f"<td><code>{esc(f.app_url)}</code></td>"
        f'<td><a href="/{_qs(function=f.id)}">runs</a></td></tr>'
        for f in store.list_functions()
    ]
    apps = [
        f"<tr><td><b>{esc(a.name)}</b></td><td><code>{esc(a.url)}</code></td>"
        f"<td>{esc(a.sdk)}</td><td>{format_time(a.synced_at)}</td>"
        f"<td>{'<span class=error>' + esc(a.error) + '</span>' if a.error else 'ok'}</td></tr>"
        for a in store.list_apps()
    ]
    body = (
        "<h1>Functions</h1>"
        + table(
            ("Function", "Triggers", "App URL", ""),
            rows,
            empty="No functions yet: start the dev server with <code>--app URL</code> "
            "or let your app register itself.",
            css="functions",
        )
        + "<h2>Apps</h2>"
        + table(("App", "URL", "SDK", "Synced", "Sync"), apps, empty="No apps synced.")
    )
    return html_response(page("Functions", body, active="/functions"))


async def stylesheet(request: web.Request) -> web.Response:
    return web.Response(
        body=_stylesheet(), content_type="text/css", headers={"Cache-Control": "max-age=60"}
    )
