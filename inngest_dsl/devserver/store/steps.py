"""The `steps` table: each op of a run, and the memos replayed to the app in stack order."""

from __future__ import annotations

from inngest_dsl.devserver.store.database import Database
from inngest_dsl.devserver.store.records import StepRecord

__all__ = ["StepTable"]

_STEP_COLUMNS = (
    "run_id, step_id, position, kind, display_name, status, memo, error, opts, attempts, "
    "started_at, ended_at"
)


class StepTable(Database):
    """Steps: opened, retried, memoised."""

    def memos(self, run_id: str) -> list[tuple[str, str]]:
        """`(step_id, memo_json)` of finished steps, in stack (completion) order."""
        return self._all(
            "SELECT step_id, COALESCE(memo, 'null') FROM steps "
            "WHERE run_id = ? AND position IS NOT NULL ORDER BY position",
            (run_id,),
        )

    def get_step(self, run_id: str, step_id: str) -> StepRecord | None:
        row = self._one(
            f"SELECT {_STEP_COLUMNS} FROM steps WHERE run_id = ? AND step_id = ?",
            (run_id, step_id),
        )
        return None if row is None else StepRecord(*row)

    def list_steps(self, run_id: str) -> list[StepRecord]:
        """Finished steps in stack order, then unfinished ones by start time."""
        rows = self._all(
            f"SELECT {_STEP_COLUMNS} FROM steps WHERE run_id = ? "
            "ORDER BY position IS NULL, position, started_at",
            (run_id,),
        )
        return [StepRecord(*row) for row in rows]

    def open_step(
        self,
        run_id: str,
        step_id: str,
        *,
        kind: str,
        display_name: str,
        status: str,
        opts_json: str | None,
        now: float,
    ) -> None:
        """Record a step the app reported but which has not finished (planned, sleeping...)."""
        self._db.execute(
            f"INSERT INTO steps ({_STEP_COLUMNS}) "
            "VALUES (?, ?, NULL, ?, ?, ?, NULL, NULL, ?, 0, ?, NULL) "
            "ON CONFLICT (run_id, step_id) DO UPDATE SET status = excluded.status, "
            "kind = excluded.kind, display_name = excluded.display_name, opts = excluded.opts",
            (run_id, step_id, kind, display_name, status, opts_json, now),
        )

    def record_attempt(
        self,
        run_id: str,
        step_id: str,
        *,
        kind: str,
        display_name: str,
        error_json: str | None,
        started_at: float,
    ) -> None:
        """Count a failed attempt of a step that will be retried."""
        self._db.execute(
            f"INSERT INTO steps ({_STEP_COLUMNS}) "
            "VALUES (?, ?, NULL, ?, ?, 'Retrying', NULL, ?, NULL, 1, ?, NULL) "
            "ON CONFLICT (run_id, step_id) DO UPDATE SET status = 'Retrying', "
            "error = excluded.error, attempts = attempts + 1, "
            "started_at = COALESCE(started_at, excluded.started_at)",
            (run_id, step_id, kind, display_name, error_json, started_at),
        )

    def memoise_step(
        self,
        run_id: str,
        step_id: str,
        *,
        kind: str,
        display_name: str,
        status: str,
        memo_json: str,
        error_json: str | None,
        started_at: float,
        now: float,
    ) -> bool:
        """Finish a step: its memo joins the run's stack. False if it was already finished."""
        finished, position = self._one(
            "SELECT EXISTS (SELECT 1 FROM steps WHERE run_id = ? AND step_id = ? "
            "AND position IS NOT NULL), "
            "(SELECT COALESCE(MAX(position) + 1, 0) FROM steps WHERE run_id = ?)",
            (run_id, step_id, run_id),
        )
        if finished:
            return False
        self._db.execute(
            f"INSERT INTO steps ({_STEP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, 1, ?, ?) "
            "ON CONFLICT (run_id, step_id) DO UPDATE SET position = excluded.position, "
            "status = excluded.status, memo = excluded.memo, "
            "error = COALESCE(excluded.error, error), attempts = attempts + 1, "
            "ended_at = excluded.ended_at, "
            "kind = CASE WHEN kind = 'Unknown' THEN excluded.kind ELSE kind END, "
            "display_name = CASE WHEN display_name = '' THEN excluded.display_name "
            "ELSE display_name END",
            (
                run_id,
                step_id,
                position,
                kind,
                display_name,
                status,
                memo_json,
                error_json,
                started_at,
                now,
            ),
        )
        return True

    def end_open_steps(self, run_id: str, status: str, now: float) -> None:
        """Close the steps a run that ended left open (sleeping, waiting, invoking, planned or
        awaiting a retry): they end as `status` at `now`."""
        self._db.execute(
            "UPDATE steps SET status = ?, ended_at = ? WHERE run_id = ? AND position IS NULL "
            "AND status IN ('Planned', 'Sleeping', 'Waiting', 'Invoking', 'Retrying')",
            (status, now, run_id),
        )
