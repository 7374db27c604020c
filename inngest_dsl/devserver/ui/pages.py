"""The dev server's web UI: server-rendered pages over the store's read API.

`/` runs (filter by status or function), `/runs/{id}` a run's step timeline, `/events` and
`/events/{id}` events with the runs they started, `/functions` functions and their triggers,
`/send` a form that sends an event through the same validation and ingestion as `/e/{key}`.
Pages that can change poll themselves (see `ui_html.LIVE_SCRIPT`); nothing loads from a CDN.
"""

from __future__ import annotations

import functools
import json
import urllib.parse
from collections.abc import Iterable
from importlib import resources
from typing import TYPE_CHECKING, Any

from aiohttp import web

from inngest_dsl.devserver.core.events import EventValidationError, normalise_events
from inngest_dsl.devserver.http.json_api import Api
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

if TYPE_CHECKING:
    from inngest_dsl.devserver.server import DevServer

__all__ = ["build_ui_routes"]

LIST_LIMIT = 200
LIVE_MS = 1000
_RUN_HEADERS = ("Run", "Function", "Status", "Started", "Duration", "Trigger")
_DATA_PLACEHOLDER = '{\n  "user_id": 42\n}'


def _html(body: str, status: int = 200) -> web.Response:
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
    return _html(page(f"{what} not found", body), 404)


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


class Ui:
    """Page handlers bound to one dev server."""

    def __init__(self, server: DevServer) -> None:
        self.server = server
        self._api = Api(server)

    def _function_names(self) -> dict[str, str]:
        return {f.id: f.name for f in self.server.store.list_functions()}

    def _run_rows(self, runs: Iterable[RunRecord]) -> list[str]:
        names = self._function_names()
        now = self.server.clock.now()
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

    async def home(self, request: web.Request) -> web.Response:
        """The runs page for browsers; the JSON index (`/v1`) for clients not asking for HTML."""
        if "text/html" in request.headers.get("Accept", ""):
            return await self.runs(request)
        return await self._api.index(request)

    async def runs(self, request: web.Request) -> web.Response:
        store = self.server.store
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
            self._run_rows(runs),
            empty='No runs yet. <a href="/send">Send an event</a> to start one.',
            css="runs",
        )
        return _html(page("Runs", body, active="/", live_ms=LIVE_MS))

    async def run(self, request: web.Request) -> web.Response:
        store = self.server.store
        run_id = request.match_info["run_id"]
        run = store.get_run(run_id)
        if run is None:
            return _not_found("Run", run_id)
        steps = store.list_steps(run.run_id)
        now = self.server.clock.now()
        names = self._function_names()
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
        return _html(page(f"Run {run.run_id}", body, live_ms=None if final else LIVE_MS))

    # -- events ------------------------------------------------------------------------------

    def _event_rows(self, events: Iterable[EventRecord]) -> list[str]:
        store = self.server.store
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

    async def events(self, request: web.Request) -> web.Response:
        name = request.query.get("name") or None
        events = self.server.store.list_events(LIST_LIMIT, name)
        scope = (
            f'<p>Named <code>{esc(name)}</code> · <a href="/events">all events</a></p>'
            if name
            else ""
        )
        body = (
            '<h1>Events <a class="button small" href="/send">Send event</a></h1>'
            + scope
            + table(
                ("Event", "Received", "Data", "Runs started"),
                self._event_rows(events),
                empty='No events yet. <a href="/send">Send one</a>.',
                css="events",
            )
        )
        return _html(page("Events", body, active="/events", live_ms=LIVE_MS))

    async def event(self, request: web.Request) -> web.Response:
        store = self.server.store
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
            resend_link = (
                f'<a class="button small" href="/send{esc(resend)}">Edit and send again</a>'
            )
        dl = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in facts)
        final = all(r.status in RunStatus.FINAL for r in runs)
        body = (
            f'<h1>Event <span class="ev-name">{esc(event.name)}</span> '
            f"{resend_link}</h1>"
            f'<dl class="facts">{dl}</dl>'
            "<h2>Runs started</h2>"
            + table(
                _RUN_HEADERS,
                self._run_rows(runs),
                empty="This event started no runs (no function is triggered by it).",
                css="runs",
            )
            + "<h2>Payload</h2>"
            + json_block(body_value, block_id="event-body")
        )
        return _html(page(f"Event {event.name}", body, live_ms=None if final else LIVE_MS))

    # -- functions ---------------------------------------------------------------------------

    @staticmethod
    def _triggers(function: FunctionRecord) -> str:
        items = []
        for trigger in function.config.get("triggers") or []:
            if not isinstance(trigger, dict):
                continue
            if trigger.get("cron"):
                text = f'<span class="trigger cron">cron <code>{esc(trigger["cron"])}</code></span>'
            else:
                event = str(trigger.get("event", ""))
                text = f'<span class="trigger"><a href="/events{_qs(name=event)}">{esc(event)}</a>'
                if trigger.get("expression"):
                    text += f' <code class="expr">if {esc(trigger["expression"])}</code>'
                text += "</span>"
            items.append(text)
        return " ".join(items) or '<span class="muted">none (invoke only)</span>'

    async def functions(self, request: web.Request) -> web.Response:
        store = self.server.store
        rows = [
            f'<tr id="fn-{esc(f.id)}"><td><b>{esc(f.name)}</b><br>'
            f'<code class="muted">{esc(f.id)}</code></td>'
            f"<td>{self._triggers(f)}</td>"
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
        return _html(page("Functions", body, active="/functions"))

    # -- sending an event --------------------------------------------------------------------

    def _send_form(self, name: str = "", data: str = "", error: str = "") -> str:
        names = sorted(
            {
                str(t.get("event"))
                for f in self.server.store.list_functions()
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

    async def send_form(self, request: web.Request) -> web.Response:
        form = self._send_form(request.query.get("name", ""), request.query.get("data", ""))
        return _html(page("Send event", form, active="/send"))

    def _cross_site(self, request: web.Request) -> bool:
        """A browser POST from another site's page: refuse it.

        Browsers name the page's origin, or send `null` from sandboxed frames and `data:`
        pages, which are never this server's own form; `Sec-Fetch-Site` says it outright.
        """
        fetch_site = request.headers.get("Sec-Fetch-Site")
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            return True
        origin = request.headers.get("Origin")
        if not origin:
            return False
        return origin == "null" or urllib.parse.urlsplit(origin).netloc != request.host

    async def send(self, request: web.Request) -> web.Response:
        if self._cross_site(request):
            return _html(page("Refused", '<p class="error">Cross-site form post refused.</p>'), 403)
        form = await request.post()
        name = str(form.get("name", "")).strip()
        data_text = str(form.get("data", ""))
        try:
            data: Any = json.loads(data_text) if data_text.strip() else {}
        except json.JSONDecodeError as exc:
            error = f"Data is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            return self._form_error(name, data_text, error)
        if not isinstance(data, dict):
            return self._form_error(name, data_text, "Data must be a JSON object ({...}).")
        try:
            events = normalise_events({"name": name, "data": data})
        except EventValidationError as exc:
            return self._form_error(name, data_text, f"The event was refused: {exc}.")
        ids = await self.server.runs.ingest_grouped(events)
        raise web.HTTPSeeOther(f"/events/{urllib.parse.quote(ids[0])}")

    def _form_error(self, name: str, data: str, error: str) -> web.Response:
        return _html(page("Send event", self._send_form(name, data, error), active="/send"), 400)

    async def stylesheet(self, request: web.Request) -> web.Response:
        return web.Response(
            body=_stylesheet(), content_type="text/css", headers={"Cache-Control": "max-age=60"}
        )


def build_ui_routes(server: DevServer) -> list[web.RouteDef]:
    """The UI's routes; `/` is the runs page (or, to a client not asking for HTML, the index)."""
    ui = Ui(server)
    return [
        web.get("/", ui.home),
        web.get("/runs/{run_id}", ui.run),
        web.get("/events", ui.events),
        web.get("/events/{event_id}", ui.event),
        web.get("/functions", ui.functions),
        web.get("/send", ui.send_form),
        web.post("/send", ui.send),
        web.get("/ui/style.css", ui.stylesheet),
    ]
