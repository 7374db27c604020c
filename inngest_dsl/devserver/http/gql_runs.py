"""`runs(first, after, orderBy, filter)`: a page of runs as a `RunsV2Connection`, filtered by a
time range (`filter.from`, `filter.until` on `filter.timeField`), statuses and functions, the
way Inngest's dev server lists them; cursors are offsets.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Protocol

from graphql import GraphQLError

from inngest_dsl.devserver.store import Store
from inngest_dsl.devserver.store.records import RunRecord, RunStatus

__all__ = ["RunReader", "runs_connection"]


class RunReader(Protocol):
    """What listing runs needs of the root value (`gql_resolvers.Queries`)."""

    @property
    def store(self) -> Store: ...

    def function_ids(self, given: list[str]) -> list[str]: ...

    def run_v2(self, run: RunRecord) -> dict[str, Any]: ...


MAX_PAGE = 1000
_COLUMNS = {"QUEUED_AT": "queued_at", "STARTED_AT": "started_at", "ENDED_AT": "ended_at"}
_STATUSES = {
    "QUEUED": RunStatus.QUEUED,
    "RUNNING": RunStatus.RUNNING,
    "COMPLETED": RunStatus.COMPLETED,
    "FAILED": RunStatus.FAILED,
    "CANCELLED": RunStatus.CANCELLED,
    "SKIPPED": RunStatus.SKIPPED,
}


def _instant(value: Any, field: str) -> float:
    try:
        parsed = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise GraphQLError(f"{field}: not an RFC 3339 time: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


def _offset(after: str | None) -> int:
    if after is None:
        return 0
    if not after.isdigit():
        raise GraphQLError(f"after: not a cursor of this list: {after!r}")
    return int(after) + 1


def runs_connection(
    queries: RunReader,
    first: int,
    after: str | None,
    order_by: list[Mapping[str, Any]],
    filters: Mapping[str, Any],
) -> dict[str, Any]:
    if not 1 <= first <= MAX_PAGE:
        raise GraphQLError(f"first: must be from 1 to {MAX_PAGE}")
    if filters.get("query"):
        raise GraphQLError("filter.query: CEL filters of runs are not supported")
    column = _COLUMNS[filters.get("timeField") or "QUEUED_AT"]
    if order_by:
        column = _COLUMNS[order_by[0]["field"]]
    descending = not order_by or order_by[0]["direction"] == "DESC"
    until = filters.get("until")
    statuses = filters.get("status")
    function_ids = filters.get("functionIDs")
    offset = _offset(after)
    runs, total = queries.store.filter_runs(
        time_column=column,
        since=_instant(filters["from"], "filter.from"),
        until=None if until is None else _instant(until, "filter.until"),
        statuses=None if statuses is None else [_STATUSES[s] for s in statuses],
        function_ids=None if function_ids is None else queries.function_ids(function_ids),
        descending=descending,
        limit=first,
        offset=offset,
    )
    edges = [
        {"node": queries.run_v2(run), "cursor": str(offset + index)}
        for index, run in enumerate(runs)
    ]
    return {
        "edges": edges,
        "pageInfo": {
            "hasNextPage": offset + len(runs) < total,
            "hasPreviousPage": offset > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
        "totalCount": total,
    }
