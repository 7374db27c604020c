"""The runs and events search forms: query strings read into the store's queries.

Bad values are named back to the user on the page, never a stack trace; times are UTC.
"""

from __future__ import annotations

import datetime
import urllib.parse
from collections.abc import Mapping

import attrs

from inngest_dsl.devserver.store.records import RunStatus
from inngest_dsl.devserver.store.search import EventQuery, RunQuery

__all__ = ["RANGES", "Parsed", "event_query", "instant", "page_url", "run_query"]

RANGES = (
    ("", "Any time"),
    ("15m", "Last 15 minutes"),
    ("1h", "Last hour"),
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
)
_RANGE_SECONDS = {"15m": 900.0, "1h": 3600.0, "24h": 86400.0, "7d": 7 * 86400.0}
PAGE_SIZE = 50


@attrs.frozen
class Parsed:
    """A query read from the page's parameters, and the problems found reading them."""

    query: RunQuery | EventQuery
    problems: tuple[str, ...]


def instant(text: str, field: str, problems: list[str]) -> float | None:
    """A `datetime-local` value (or ISO 8601), taken as UTC when it names no offset."""
    if not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        problems.append(f"{field}: {text!r} is not a date and time (YYYY-MM-DDTHH:MM).")
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def _window(
    params: Mapping[str, str], now: float, problems: list[str]
) -> tuple[float | None, float | None]:
    since = instant(params.get("from", ""), "From", problems)
    until = instant(params.get("to", ""), "To", problems)
    last = params.get("range", "")
    if last:
        if last not in _RANGE_SECONDS:
            problems.append(f"Range: {last!r} is not one of {', '.join(_RANGE_SECONDS)}.")
        elif since is None:
            since = now - _RANGE_SECONDS[last]
    return since, until


def run_query(params: Mapping[str, str], statuses: list[str], now: float) -> Parsed:
    """The runs search of `/runs?function=&status=&range=&from=&to=&before=` (`q`, a run or
    event id, is looked up by the page)."""
    problems: list[str] = []
    chosen = []
    for status in statuses:
        if not status:
            continue
        name = status.capitalize()
        if name in RunStatus.ALL:
            chosen.append(name)
        else:
            problems.append(f"Status: {status!r} is not one of {', '.join(RunStatus.ALL)}.")
    since, until = _window(params, now, problems)
    function_id = params.get("function") or None
    query = RunQuery(
        function_ids=[function_id] if function_id else None,
        statuses=chosen or None,
        since=since,
        until=until,
        cursor=params.get("before") or None,
        limit=PAGE_SIZE,
    )
    return Parsed(query, tuple(problems))


def event_query(params: Mapping[str, str], now: float) -> Parsed:
    """The events search of `/events?name=&internal=1&range=&from=&to=&before=`."""
    problems: list[str] = []
    since, until = _window(params, now, problems)
    before = params.get("before", "")
    if before and not before.isdigit():
        problems.append(f"Page: {before!r} is not a page of this list.")
    query = EventQuery(
        name=params.get("name") or None,
        internal=params.get("internal") == "1",
        since=since,
        until=until,
        cursor=before if before.isdigit() else None,
        limit=PAGE_SIZE,
    )
    return Parsed(query, tuple(problems))


def page_url(path: str, params: Mapping[str, str | list[str]], **changes: str | None) -> str:
    """`path` with the page's parameters, some changed (None drops one, empty ones go)."""
    merged: dict[str, str | list[str]] = dict(params)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    pairs = [
        (key, item)
        for key, value in merged.items()
        for item in (value if isinstance(value, list) else [value])
        if item
    ]
    return path + ("?" + urllib.parse.urlencode(pairs) if pairs else "")
