"""The `pauses` table: runs waiting for an event (waits, cancellations, invoked runs)."""

from __future__ import annotations

from inngest_dsl.devserver.store.database import Database
from inngest_dsl.devserver.store.records import PauseRecord

__all__ = ["PauseTable"]

_PAUSE_COLUMNS = (
    "id, run_id, step_id, kind, event_name, expression, correlation_id, expires, trigger"
)


class PauseTable(Database):
    """Pauses, indexed by event name and correlation id."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        # Event names that may have pauses (a superset): most events skip the pause query.
        self._pause_names: set[str] = {
            name
            for (name,) in self._all(
                "SELECT DISTINCT event_name FROM pauses WHERE event_name IS NOT NULL"
            )
        }

    def insert_pause(
        self,
        run_id: str,
        step_id: str,
        kind: str,
        *,
        event_name: str | None,
        expression: str | None,
        correlation_id: str | None,
        expires: float,
        trigger_json: str,
    ) -> PauseRecord:
        if event_name is not None:
            self._pause_names.add(event_name)
        cur = self._db.execute(
            "INSERT INTO pauses (run_id, step_id, kind, event_name, expression, correlation_id, "
            "expires, trigger) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, step_id, kind, event_name, expression, correlation_id, expires, trigger_json),
        )
        return PauseRecord(
            int(cur.lastrowid or 0),
            run_id,
            step_id,
            kind,
            event_name,
            expression,
            correlation_id,
            expires,
            trigger_json,
        )

    def get_pause(self, pause_id: int) -> PauseRecord | None:
        row = self._one(f"SELECT {_PAUSE_COLUMNS} FROM pauses WHERE id = ?", (pause_id,))
        return None if row is None else PauseRecord(*row)

    def pauses_for_event(self, event_name: str) -> list[PauseRecord]:
        if event_name not in self._pause_names:
            return []
        rows = self._all(
            f"SELECT {_PAUSE_COLUMNS} FROM pauses WHERE event_name = ? ORDER BY id",
            (event_name,),
        )
        return [PauseRecord(*row) for row in rows]

    def pause_for_correlation(self, correlation_id: str) -> PauseRecord | None:
        row = self._one(
            f"SELECT {_PAUSE_COLUMNS} FROM pauses WHERE correlation_id = ? ORDER BY id LIMIT 1",
            (correlation_id,),
        )
        return None if row is None else PauseRecord(*row)

    def pauses_of_run(self, run_id: str) -> list[PauseRecord]:
        rows = self._all(
            f"SELECT {_PAUSE_COLUMNS} FROM pauses WHERE run_id = ? ORDER BY id", (run_id,)
        )
        return [PauseRecord(*row) for row in rows]

    def delete_pause(self, pause_id: int) -> bool:
        if self._db.execute("DELETE FROM pauses WHERE id = ?", (pause_id,)).rowcount != 1:
            return False
        self._db.execute("DELETE FROM queue WHERE kind = 'expire' AND ref = ?", (pause_id,))
        return True
