"""The `runs` table: each run's status, events, outcome and progress."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from inngest_dsl.devserver.store.database import Database
from inngest_dsl.devserver.store.records import RunRecord

__all__ = ["RunTable"]

_RUN_COLUMNS = (
    "run_id, function_id, status, events, output, error, queued_at, started_at, ended_at, "
    "outstanding, force_plan, version, correlation_id, priority, flow, singleton, reason, "
    "rerun_of, rerun_from"
)


def _run(row: Sequence[Any]) -> RunRecord:
    (
        run_id,
        function_id,
        status,
        events,
        output,
        error,
        queued,
        started,
        ended,
        outstanding,
        force_plan,
        version,
        correlation_id,
        priority,
        flow,
        singleton,
        reason,
        rerun_of,
        rerun_from,
    ) = row
    return RunRecord(
        run_id=run_id,
        function_id=function_id,
        status=status,
        events_json=events,
        output_json=output,
        error_json=error,
        queued_at=queued,
        started_at=started,
        ended_at=ended,
        outstanding=outstanding,
        force_plan=bool(force_plan),
        version=version,
        correlation_id=correlation_id,
        priority=priority,
        flow_json=flow,
        singleton=singleton,
        reason=reason,
        rerun_of=rerun_of,
        rerun_from=rerun_from,
    )


class RunTable(Database):
    """Runs: started, progressed, finished, listed."""

    def insert_run(
        self,
        run_id: str,
        function_id: str,
        events_json: str,
        now: float,
        correlation_id: str | None = None,
        *,
        priority: int = 0,
        flow_json: str | None = None,
        singleton: str | None = None,
    ) -> None:
        self._db.execute(
            "INSERT INTO runs (run_id, function_id, status, events, queued_at, correlation_id, "
            "priority, flow, singleton) VALUES (?, ?, 'Queued', ?, ?, ?, ?, ?, ?)",
            (run_id, function_id, events_json, now, correlation_id, priority, flow_json, singleton),
        )

    def insert_skipped_run(
        self,
        run_id: str,
        function_id: str,
        events_json: str,
        now: float,
        reason: str,
        correlation_id: str | None = None,
    ) -> None:
        """Record a run that flow control dropped before it started (never called)."""
        self._db.execute(
            "INSERT INTO runs (run_id, function_id, status, events, queued_at, ended_at, "
            "correlation_id, reason) VALUES (?, ?, 'Skipped', ?, ?, ?, ?, ?)",
            (run_id, function_id, events_json, now, now, correlation_id, reason),
        )

    def set_run_reason(self, run_id: str, reason: str | None) -> None:
        """Why a run is waiting, was skipped or was cancelled (shown by the API and the UI)."""
        self._db.execute("UPDATE runs SET reason = ? WHERE run_id = ?", (reason, run_id))

    def set_rerun_of(self, run_id: str, origin_id: str, from_step: str | None) -> None:
        """Record that `run_id` reruns `origin_id` (from the step `from_step`, if given)."""
        self._db.execute(
            "UPDATE runs SET rerun_of = ?, rerun_from = ? WHERE run_id = ?",
            (origin_id, from_step, run_id),
        )

    def reruns_of(self, run_id: str) -> list[RunRecord]:
        """The runs that rerun `run_id`, oldest first."""
        rows = self._all(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE rerun_of = ? ORDER BY run_id", (run_id,)
        )
        return [_run(row) for row in rows]

    def singleton_holders(self, singleton: str) -> list[str]:
        """Runs holding a singleton key: queued or running ones."""
        rows = self._all(
            "SELECT run_id FROM runs WHERE singleton = ? AND status IN ('Queued', 'Running') "
            "ORDER BY run_id",
            (singleton,),
        )
        return [run_id for (run_id,) in rows]

    def get_run(self, run_id: str) -> RunRecord | None:
        row = self._one(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,))
        return None if row is None else _run(row)

    def list_runs(
        self, status: str | None = None, limit: int = 100, function_id: str | None = None
    ) -> list[RunRecord]:
        """Newest first."""
        where, args = [], []
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if function_id is not None:
            where.append("function_id = ?")
            args.append(function_id)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._all(
            f"SELECT {_RUN_COLUMNS} FROM runs {clause}ORDER BY run_id DESC LIMIT ?",
            (*args, limit),
        )
        return [_run(row) for row in rows]

    def filter_runs(
        self,
        *,
        time_column: str,
        since: float,
        until: float | None = None,
        statuses: Sequence[str] | None = None,
        function_ids: Sequence[str] | None = None,
        descending: bool = True,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[RunRecord], int]:
        """Runs whose `time_column` (`queued_at`, `started_at` or `ended_at`) is in
        `[since, until)`, ordered by it: one page, and how many match in all."""
        if time_column not in ("queued_at", "started_at", "ended_at"):
            raise ValueError(f"not a time column: {time_column}")
        where: list[str] = [f"{time_column} >= ?"]
        args: list[Any] = [since]
        if until is not None:
            where.append(f"{time_column} < ?")
            args.append(until)
        for column, values in (("status", statuses), ("function_id", function_ids)):
            if values is not None:
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                args.extend(values)
        clause = " AND ".join(where)
        total = int(self._one(f"SELECT COUNT(*) FROM runs WHERE {clause}", args)[0])
        order = "DESC" if descending else "ASC"
        rows = self._all(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE {clause} "
            f"ORDER BY {time_column} {order}, run_id {order} LIMIT ? OFFSET ?",
            (*args, limit, offset),
        )
        return [_run(row) for row in rows], total

    def count_runs(self, function_id: str | None = None) -> dict[str, int]:
        """Runs by status, of one function or of all."""
        if function_id is None:
            rows = self._all("SELECT status, COUNT(*) FROM runs GROUP BY status")
        else:
            rows = self._all(
                "SELECT status, COUNT(*) FROM runs WHERE function_id = ? GROUP BY status",
                (function_id,),
            )
        return {status: int(n) for status, n in rows}

    def mark_running(self, run_id: str, now: float) -> None:
        self._db.execute(
            "UPDATE runs SET status = 'Running', started_at = COALESCE(started_at, ?), "
            "reason = NULL WHERE run_id = ?",
            (now, run_id),
        )

    def update_progress(
        self, run_id: str, *, outstanding: int, force_plan: bool, version: int
    ) -> None:
        self._db.execute(
            "UPDATE runs SET outstanding = ?, force_plan = ?, version = ? WHERE run_id = ?",
            (outstanding, int(force_plan), version, run_id),
        )

    def finish_run(
        self,
        run_id: str,
        status: str,
        now: float,
        output_json: str | None = None,
        error_json: str | None = None,
        reason: str | None = None,
    ) -> None:
        self._db.execute(
            "UPDATE runs SET status = ?, output = ?, error = ?, ended_at = ?, outstanding = 0, "
            "started_at = COALESCE(started_at, ?), reason = ? WHERE run_id = ?",
            (status, output_json, error_json, now, now, reason, run_id),
        )

    def runs_for_event(self, internal_id: str) -> list[RunRecord]:
        rows = self._all(
            f"SELECT {', '.join('r.' + c.strip() for c in _RUN_COLUMNS.split(','))} "
            "FROM event_runs e JOIN runs r ON r.run_id = e.run_id "
            "WHERE e.internal_id = ? ORDER BY r.run_id",
            (internal_id,),
        )
        return [_run(row) for row in rows]
