"""Searching runs and events: one query each, newest first, a page at a time.

A page ends with a cursor: the last item's id (a run's ULID, an event's sequence number).
The next page is what comes strictly before it, so paging never skips or repeats an item
while new ones arrive, and there is no cap on how far one pages. The JSON API, the CLI and
the UI all search through here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import attrs

from inngest_dsl.devserver.store.database import Database
from inngest_dsl.devserver.store.events import _EVENT_COLUMNS
from inngest_dsl.devserver.store.records import EventRecord, RunRecord
from inngest_dsl.devserver.store.runs import _RUN_COLUMNS, _run

__all__ = ["EventQuery", "EventSearch", "RunQuery", "RunSearch", "SearchQueries"]

INTERNAL_PREFIX = "inngest/"
_RUN_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
"""A run id as the dev server makes them (a ULID): what a runs cursor must be."""


@attrs.frozen
class RunQuery:
    """Which runs to find; every field given narrows the search. Times are epoch seconds of
    when the run was queued, `since` included, `until` not."""

    run_id: str | None = None
    event_id: str | None = None
    """An event's internal id or its own `id`: the runs it started."""
    function_ids: Sequence[str] | None = None
    statuses: Sequence[str] | None = None
    since: float | None = None
    until: float | None = None
    cursor: str | None = None
    """The last run of the previous page."""
    limit: int = 100


@attrs.frozen
class EventQuery:
    """Which events to find. Internal events (`inngest/...`) only with `internal`; times are
    epoch seconds of when the event was received."""

    name: str | None = None
    internal: bool = False
    since: float | None = None
    until: float | None = None
    cursor: str | None = None
    """The last event of the previous page (its sequence number)."""
    limit: int = 100


@attrs.frozen
class RunSearch:
    """One page of runs, and the cursor of the next (None: this was the last)."""

    runs: list[RunRecord]
    cursor: str | None


@attrs.frozen
class EventSearch:
    """One page of events, and the cursor of the next (None: this was the last)."""

    events: list[EventRecord]
    cursor: str | None


class SearchQueries(Database):
    """Run and event search over the store's tables."""

    def search_runs(self, query: RunQuery) -> RunSearch:
        """One page of the runs `query` finds; ValueError if its cursor is not one."""
        where: list[str] = []
        args: list[Any] = []
        if query.run_id is not None:
            where.append("run_id = ?")
            args.append(query.run_id)
        if query.event_id is not None:
            where.append(
                "run_id IN (SELECT r.run_id FROM event_runs r JOIN events e "
                "ON e.internal_id = r.internal_id WHERE e.internal_id = ? OR e.event_id = ?)"
            )
            args += [query.event_id, query.event_id]
        for column, values in (("function_id", query.function_ids), ("status", query.statuses)):
            if values is not None:
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                args += list(values)
        _range(where, args, "queued_at", query.since, query.until)
        if query.cursor is not None:
            if not _RUN_ID.fullmatch(query.cursor):
                raise ValueError(f"cursor: {query.cursor!r} is not one this search returned")
            where.append("run_id < ?")
            args.append(query.cursor)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._all(
            f"SELECT {_RUN_COLUMNS} FROM runs {clause}ORDER BY run_id DESC LIMIT ?",
            (*args, query.limit + 1),
        )
        runs = [_run(row) for row in rows[: query.limit]]
        more = len(rows) > query.limit
        return RunSearch(runs, runs[-1].run_id if more and runs else None)

    def search_events(self, query: EventQuery) -> EventSearch:
        where: list[str] = []
        args: list[Any] = []
        if query.name is not None:
            where.append("name = ?")
            args.append(query.name)
        elif not query.internal:
            # `inngest/` < name < `inngest0`: the range an index on name could use.
            where.append("NOT (name >= ? AND name < ?)")
            args += [INTERNAL_PREFIX, "inngest0"]
        _range(where, args, "received_at", query.since, query.until)
        if query.cursor is not None:
            if not query.cursor.isdigit():
                raise ValueError(f"cursor: {query.cursor!r} is not one this search returned")
            where.append("seq < ?")
            args.append(int(query.cursor))
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._all(
            f"SELECT {_EVENT_COLUMNS} FROM events {clause}ORDER BY seq DESC LIMIT ?",
            (*args, query.limit + 1),
        )
        events = [EventRecord(*row) for row in rows[: query.limit]]
        more = len(rows) > query.limit
        return EventSearch(events, str(events[-1].seq) if more and events else None)


def _range(
    where: list[str], args: list[Any], column: str, since: float | None, until: float | None
) -> None:
    if since is not None:
        where.append(f"{column} >= ?")
        args.append(since)
    if until is not None:
        where.append(f"{column} < ?")
        args.append(until)
