"""The `pauses` table: runs waiting for an event (waits, cancellations, invoked runs)."""

from __future__ import annotations

from inngest_dsl.devserver.store.database import Database
from inngest_dsl.devserver.store.records import PauseRecord

__all__ = ["PauseTable"]

_PAUSE_COLUMNS = (
    "id, run_id, step_id, kind, event_name, expression, correlation_id, expires, trigger"
)


class PauseTable(Database):
    """Pauses, indexed by event name and correlation id, and by the value they wait for.

    A pause with a `match_path` matches only events whose field there has the key
    `match_value` (see `core.pause_index`); one without is evaluated against every event of
    its name.
    """

    def __init__(self, path: str) -> None:
        super().__init__(path)
        # The match paths (None: unindexed) that pauses of each event name may have, a
        # superset: most events skip the pause queries, the rest make one per path.
        self._pause_paths: dict[str, set[str | None]] = {}
        for name, match_path in self._all(
            "SELECT DISTINCT event_name, match_path FROM pauses WHERE event_name IS NOT NULL"
        ):
            self._pause_paths.setdefault(name, set()).add(match_path)

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
        match: tuple[str, str] | None = None,
    ) -> PauseRecord:
        """Arm a pause; `match` is its `(match path, match value)` index entry, if any."""
        match_path, match_value = match or (None, None)
        if event_name is not None:
            self._pause_paths.setdefault(event_name, set()).add(match_path)
        fields = (run_id, step_id, kind, event_name, expression, correlation_id, expires)
        cur = self._db.execute(
            "INSERT INTO pauses (run_id, step_id, kind, event_name, expression, correlation_id, "
            "expires, trigger, match_path, match_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*fields, trigger_json, match_path, match_value),
        )
        return PauseRecord(int(cur.lastrowid or 0), *fields, trigger_json)

    def get_pause(self, pause_id: int) -> PauseRecord | None:
        row = self._one(f"SELECT {_PAUSE_COLUMNS} FROM pauses WHERE id = ?", (pause_id,))
        return None if row is None else PauseRecord(*row)

    def pause_paths(self, event_name: str) -> frozenset[str | None]:
        """The match paths pauses for `event_name` may be indexed under (None: unindexed)."""
        return frozenset(self._pause_paths.get(event_name, ()))

    def pauses_for_event(self, event_name: str) -> list[PauseRecord]:
        """Every pause waiting for `event_name`, indexed or not."""
        if event_name not in self._pause_paths:
            return []
        return self._pauses("event_name = ?", (event_name,))

    def unindexed_pauses(self, event_name: str) -> list[PauseRecord]:
        """The pauses for `event_name` that every such event must be evaluated against."""
        return self._pauses("event_name = ? AND match_path IS NULL", (event_name,))

    def indexed_pauses(self, event_name: str, path: str, value: str) -> list[PauseRecord]:
        """The pauses for `event_name` waiting for the field at `path` to have key `value`."""
        return self._pauses(
            "event_name = ? AND match_path = ? AND match_value = ?", (event_name, path, value)
        )

    def pause_for_correlation(self, correlation_id: str) -> PauseRecord | None:
        row = self._one(
            f"SELECT {_PAUSE_COLUMNS} FROM pauses WHERE correlation_id = ? ORDER BY id LIMIT 1",
            (correlation_id,),
        )
        return None if row is None else PauseRecord(*row)

    def pauses_of_run(self, run_id: str) -> list[PauseRecord]:
        return self._pauses("run_id = ?", (run_id,))

    def _pauses(self, where: str, params: tuple[str, ...]) -> list[PauseRecord]:
        rows = self._all(f"SELECT {_PAUSE_COLUMNS} FROM pauses WHERE {where} ORDER BY id", params)
        return [PauseRecord(*row) for row in rows]

    def delete_pause(self, pause_id: int) -> bool:
        if self._db.execute("DELETE FROM pauses WHERE id = ?", (pause_id,)).rowcount != 1:
            return False
        self._db.execute("DELETE FROM queue WHERE kind = 'expire' AND ref = ?", (pause_id,))
        return True
