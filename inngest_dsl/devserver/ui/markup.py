"""The UI's templates: the Jinja2 environment (autoescape on), its filters, and rendering.

Templates live in `templates/`; everything from outside (event names and data, function
names, errors, ids) reaches the page escaped by Jinja. The filters here format values
(times, durations, JSON) and return markup only built from escaped text.
"""

from __future__ import annotations

import datetime
import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from markupsafe import Markup

from inngest_dsl.devserver.http.keys import CONFIG

__all__ = [
    "LIVE_MS",
    "PREVIEW_CHARS",
    "format_duration",
    "format_time",
    "json_block",
    "json_preview",
    "pretty_json",
    "render",
    "setup_templates",
]

PREVIEW_CHARS = 1200
"""Pretty JSON longer than this is cut, with the whole value one click away."""
LIVE_MS = 1000
"""How often a page that can still change polls for its fresh content."""

NAV = (
    ("/runs", "Runs"),
    ("/events", "Events"),
    ("/functions", "Functions"),
    ("/apps", "Apps"),
    ("/send", "Send event"),
)


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def json_preview(value: Any, limit: int = 90) -> str:
    """One line of compact JSON, cut to `limit` characters (plain text: Jinja escapes it)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text[: limit - 1] + "…" if len(text) > limit else text


def json_block(value: Any, block_id: str = "", limit: int = PREVIEW_CHARS) -> Markup:
    """Pretty JSON in a <pre>; a long value is cut, with a <details> holding all of it."""
    text = pretty_json(value)
    if len(text) <= limit:
        return Markup('<pre class="json">{}</pre>').format(text)
    size = len(text.encode())
    shown = f"{size / 1024:.1f} KB" if size >= 1024 else f"{size} bytes"
    ident = Markup(' id="{}"').format(block_id) if block_id else ""
    return Markup(
        '<pre class="json cut">{}…</pre><details class="all"{}><summary>Show all ({})</summary>'
        '<pre class="json">{}</pre></details>'
    ).format(text[:limit], ident, shown, text)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "\u2013"
    seconds = max(seconds, 0.0)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"
    if seconds < 60:
        return f"{int(seconds)} s" if seconds.is_integer() else f"{seconds:.2f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s" if secs else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h" if hours else f"{days}d"


def format_time(value: float | None) -> Markup:
    """A UTC time as `<time>`: the clock time shown, the full instant in the tooltip."""
    if value is None:
        return Markup('<span class="muted">\u2013</span>')
    moment = datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    full = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    shown = moment.strftime("%Y-%m-%d %H:%M:%S")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(full, full, shown)


def badge(status: str) -> Markup:
    return Markup('<span class="badge badge-{}">{}</span>').format(status.lower(), status)


NOTICES = {
    "cancelled": "Run cancelled.",
    "not-cancelled": "The run had already ended: nothing to cancel.",
    "rerun": "A new run started with the same events.",
    "rerun-from": "A new run started from the chosen step; the steps before it kept their results.",
    "invoked": "The function was invoked.",
    "bulk-cancelled": "Matching runs cancelled.",
    "app-added": "App added and synced.",
    "app-synced": "App synced.",
    "app-removed": "App removed.",
}
"""What an action's redirect says it did (`?done=`): only these, never text from the URL."""


def setup_templates(app: web.Application) -> None:
    """Install the template environment on the application (autoescape on)."""
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("inngest_dsl.devserver.ui", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        json_block=json_block,
        json_preview=json_preview,
        time=format_time,
        duration=format_duration,
        badge=badge,
        pretty_json=pretty_json,
        q=lambda value: urllib.parse.quote(str(value), safe=""),
    )
    env.globals.update(nav=NAV, live_ms=LIVE_MS)


def render(
    request: web.Request, template: str, context: Mapping[str, Any], status: int = 200
) -> web.Response:
    """A page from `template`, never cached (pages show live state)."""
    values = {
        "notice": NOTICES.get(request.query.get("done", ""), ""),
        "keyed": bool(request.app[CONFIG].signing_key),  # a login, so a way to log out
        **context,
    }
    response = aiohttp_jinja2.render_template(template, request, values, status=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Inngest-Server-Kind"] = "dev"
    return response
