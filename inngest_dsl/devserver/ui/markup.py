"""Small HTML building blocks for the dev server UI: escaping, the page frame, values.

Everything that reaches the page from outside (event names and data, function names, errors,
ids) goes through `esc` or `json_block`; markup is only ever built from these pieces.
"""

from __future__ import annotations

import datetime
import html
import json
from collections.abc import Iterable
from typing import Any

__all__ = [
    "PREVIEW_CHARS",
    "badge",
    "esc",
    "format_duration",
    "format_time",
    "json_block",
    "json_preview",
    "page",
    "pretty_json",
    "table",
]

PREVIEW_CHARS = 1200
"""Pretty JSON longer than this is cut, with the whole value one click away."""

NAV = (("/", "Runs"), ("/events", "Events"), ("/functions", "Functions"), ("/send", "Send event"))

# Swaps in the fresh <main> of the same URL while the page says it is live (data-live), keeping
# open <details> open; stops by itself once the server renders the page as no longer live.
LIVE_SCRIPT = """
(function () {
  var main = document.getElementById("main");
  if (!main || !main.dataset.live) return;
  var delay = Number(main.dataset.live) || 1000;
  function tick() {
    fetch(location.href, {headers: {"Accept": "text/html"}, cache: "no-store"})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (text === null) { setTimeout(tick, delay * 3); return; }
        var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("main");
        if (!fresh) return;
        if (fresh.innerHTML !== main.innerHTML) {
          var open = {};
          main.querySelectorAll("details[id][open]").forEach(function (d) { open[d.id] = 1; });
          main.innerHTML = fresh.innerHTML;
          main.querySelectorAll("details[id]").forEach(function (d) {
            if (open[d.id]) d.open = true;
          });
        }
        if (fresh.dataset.live) setTimeout(tick, delay);
        else delete main.dataset.live;
      })
      .catch(function () { setTimeout(tick, delay * 3); });
  }
  setTimeout(tick, delay);
})();
"""


def esc(value: object) -> str:
    """Text made safe for element content and quoted attribute values."""
    return html.escape(str(value), quote=True)


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def json_preview(value: Any, limit: int = 90) -> str:
    """One line of compact JSON, cut to `limit` characters (escaped)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return esc(text)


def json_block(value: Any, *, block_id: str = "", limit: int = PREVIEW_CHARS) -> str:
    """Pretty JSON in a <pre>; a long value is cut, with a <details> holding all of it."""
    text = pretty_json(value)
    if len(text) <= limit:
        return f'<pre class="json">{esc(text)}</pre>'
    size = len(text.encode())
    shown = f"{size / 1024:.1f} KB" if size >= 1024 else f"{size} bytes"
    ident = f' id="{esc(block_id)}"' if block_id else ""
    return (
        f'<pre class="json cut">{esc(text[:limit])}…</pre>'
        f'<details class="all"{ident}><summary>Show all ({shown})</summary>'
        f'<pre class="json">{esc(text)}</pre></details>'
    )


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "&ndash;"
    seconds = max(seconds, 0.0)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def format_time(value: float | None) -> str:
    """A UTC time as `<time>`: the clock time shown, the full instant in the tooltip."""
    if value is None:
        return '<span class="muted">&ndash;</span>'
    moment = datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    full = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    shown = moment.strftime("%Y-%m-%d %H:%M:%S")
    return f'<time datetime="{full}" title="{full}">{shown}</time>'


def badge(status: str) -> str:
    return f'<span class="badge badge-{esc(status.lower())}">{esc(status)}</span>'


def table(headers: Iterable[str], rows: Iterable[str], *, empty: str, css: str = "") -> str:
    """A table of pre-rendered `<tr>` rows, or the `empty` note when there are none."""
    body = "".join(rows)
    if not body:
        return f'<p class="empty">{empty}</p>'
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def page(title: str, body: str, *, active: str = "", live_ms: int | None = None) -> str:
    """A whole page: navigation, then `body` in <main>, polling itself while `live_ms` is set."""
    links = "".join(
        f'<a href="{href}"{" class=active" if href == active else ""}>{esc(label)}</a>'
        for href, label in NAV
    )
    live = f' data-live="{int(live_ms)}"' if live_ms else ""
    fallback = (
        f'<noscript><meta http-equiv="refresh" content="{max(1, live_ms // 1000)}"></noscript>'
        if live_ms
        else ""
    )
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} · inngest-dsl dev</title>"
        f'<link rel="stylesheet" href="/ui/style.css">{fallback}</head>'
        '<body><header><a class="brand" href="/">inngest-dsl <b>dev</b></a>'
        f"<nav>{links}</nav></header>"
        f'<main id="main"{live}>{body}</main>'
        f"<script>{LIVE_SCRIPT}</script></body></html>"
    )
