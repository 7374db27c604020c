"""The `events` table (every accepted event), the runs each started, and event-id dedup."""

from __future__ import annotations

from inngest_dsl.devserver.store.database import Database
from inngest_dsl.devserver.store.records import EventRecord

__all__ = ["EventTables"]

_EVENT_COLUMNS = "seq, internal_id, event_id, name, body, ts, received_at"


class EventTables(Database):
    """Events, and which runs they started."""

    def insert_event(
        self, internal_id: str, event_id: str, name: str, body_json: str, ts: int, now: float
    ) -> int:
        cur = self._db.execute(
            "INSERT INTO events (internal_id, event_id, name, body, ts, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (internal_id, event_id, name, body_json, ts, now),
        )
        return int(cur.lastrowid or 0)

    def has_event(self, internal_id: str) -> bool:
        """Whether an event is stored under this internal id."""
        return self._one("SELECT 1 FROM events WHERE internal_id = ?", (internal_id,)) is not None

    def get_event(self, ident: str) -> EventRecord | None:
        """By internal id (what the event API returned), else by the event's own `id`."""
        row = self._one(f"SELECT {_EVENT_COLUMNS} FROM events WHERE internal_id = ?", (ident,))
        if row is None:
            row = self._one(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE event_id = ? ORDER BY seq LIMIT 1",
                (ident,),
            )
        return None if row is None else EventRecord(*row)

    def list_events(self, limit: int = 100, name: str | None = None) -> list[EventRecord]:
        """Newest first."""
        if name is None:
            rows = self._all(
                f"SELECT {_EVENT_COLUMNS} FROM events ORDER BY seq DESC LIMIT ?", (limit,)
            )
        else:
            rows = self._all(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE name = ? ORDER BY seq DESC LIMIT ?",
                (name, limit),
            )
        return [EventRecord(*row) for row in rows]

    def count_events(self) -> int:
        return int(self._one("SELECT COUNT(*) FROM events")[0])

    def link_event_run(self, internal_id: str, run_id: str) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO event_runs (internal_id, run_id) VALUES (?, ?)",
            (internal_id, run_id),
        )

    def event_ids_for_run(self, run_id: str) -> list[str]:
        """The internal ids of the events that started `run_id`, oldest first."""
        rows = self._all(
            "SELECT e.internal_id FROM event_runs r JOIN events e ON e.internal_id = r.internal_id "
            "WHERE r.run_id = ? ORDER BY e.seq",
            (run_id,),
        )
        return [internal_id for (internal_id,) in rows]

    def claim_event_id(self, function_id: str, event_id: str, run_id: str) -> bool:
        """Record that `event_id` started `run_id` of a function; False if it already did."""
        cur = self._db.execute(
            "INSERT OR IGNORE INTO dedup (function_id, event_id, run_id) VALUES (?, ?, ?)",
            (function_id, event_id, run_id),
        )
        return cur.rowcount == 1
