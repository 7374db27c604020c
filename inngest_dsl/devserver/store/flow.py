"""Flow control state: limiter buckets, pending debounces and open batches."""

from __future__ import annotations

from inngest_dsl.devserver.store.database import Database
from inngest_dsl.devserver.store.records import BatchRecord, DebounceRecord

__all__ = ["FlowTables"]

_DEBOUNCE_COLUMNS = "id, function_id, debounce_key, internal_id, event, first_at, due"
_BATCH_COLUMNS = "id, function_id, batch_key, opened_at, size"


class FlowTables(Database):
    """Rate limit and throttle buckets, debounces, batches."""

    def limiter_tat(self, key: str) -> float | None:
        """The theoretical arrival time of a rate limiter or throttle key (None: fresh)."""
        row = self._one("SELECT tat FROM limiter WHERE key = ?", (key,))
        return None if row is None else float(row[0])

    def set_limiter_tat(self, key: str, tat: float) -> None:
        """Record a limiter or throttle key's new theoretical arrival time."""
        self._db.execute(
            "INSERT INTO limiter (key, tat) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET tat = excluded.tat",
            (key, tat),
        )

    def limiter_buckets(self, prefix: str) -> list[tuple[str, float]]:
        """The limiter keys starting with `prefix`, and their theoretical arrival times."""
        rows = self._all(
            "SELECT key, tat FROM limiter WHERE substr(key, 1, ?) = ? ORDER BY key",
            (len(prefix), prefix),
        )
        return [(str(key), float(tat)) for key, tat in rows]

    def get_debounce(self, function_id: str, debounce_key: str) -> DebounceRecord | None:
        """The pending debounce of a function for one key value, if any."""
        row = self._one(
            f"SELECT {_DEBOUNCE_COLUMNS} FROM debounces WHERE function_id = ? AND debounce_key = ?",
            (function_id, debounce_key),
        )
        return None if row is None else DebounceRecord(*row)

    def debounce_by_id(self, debounce_id: str) -> DebounceRecord | None:
        """A pending debounce by its id (None once it fired or was replaced)."""
        row = self._one(f"SELECT {_DEBOUNCE_COLUMNS} FROM debounces WHERE id = ?", (debounce_id,))
        return None if row is None else DebounceRecord(*row)

    def save_debounce(self, record: DebounceRecord) -> None:
        """Create a debounce, or update it with a later event and due time."""
        self._db.execute(
            f"INSERT OR REPLACE INTO debounces ({_DEBOUNCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                record.id,
                record.function_id,
                record.debounce_key,
                record.internal_id,
                record.event_json,
                record.first_at,
                record.due,
            ),
        )

    def supersede_event(self, internal_id: str, by_internal_id: str) -> None:
        """A debounce replaced one held event with a later one: remember which, so the run the
        later one starts is also the run the earlier one went to."""
        self._db.execute(
            "INSERT OR REPLACE INTO superseded_events (internal_id, by_internal_id) VALUES (?, ?)",
            (internal_id, by_internal_id),
        )

    def superseded_by(self, internal_id: str) -> str | None:
        """The later event a debounce kept instead of this one, if it replaced it."""
        row = self._one(
            "SELECT by_internal_id FROM superseded_events WHERE internal_id = ?", (internal_id,)
        )
        return None if row is None else str(row[0])

    def debounces_of(self, function_id: str) -> list[DebounceRecord]:
        """A function's pending debounces, soonest due first."""
        rows = self._all(
            f"SELECT {_DEBOUNCE_COLUMNS} FROM debounces WHERE function_id = ? ORDER BY due",
            (function_id,),
        )
        return [DebounceRecord(*row) for row in rows]

    def debounce_holding(self, internal_id: str) -> DebounceRecord | None:
        """The pending debounce that holds this event as its latest, if any."""
        row = self._one(
            f"SELECT {_DEBOUNCE_COLUMNS} FROM debounces WHERE internal_id = ?", (internal_id,)
        )
        return None if row is None else DebounceRecord(*row)

    def batches_of(self, function_id: str) -> list[BatchRecord]:
        """A function's open batches, oldest first."""
        rows = self._all(
            f"SELECT {_BATCH_COLUMNS} FROM batches WHERE function_id = ? ORDER BY opened_at",
            (function_id,),
        )
        return [BatchRecord(*row) for row in rows]

    def batch_holding(self, internal_id: str) -> BatchRecord | None:
        """The open batch this event waits in, if any."""
        row = self._one(
            f"SELECT {', '.join('b.' + c for c in _BATCH_COLUMNS.split(', '))} FROM batches b "
            "JOIN batch_events e ON e.batch_id = b.id WHERE e.internal_id = ?",
            (internal_id,),
        )
        return None if row is None else BatchRecord(*row)

    def delete_debounce(self, debounce_id: str) -> None:
        """Forget a debounce (it fired) and its timer."""
        self._db.execute("DELETE FROM debounces WHERE id = ?", (debounce_id,))
        self.drop_timers(debounce_id)

    def drop_timers(self, owner_id: str) -> None:
        """Drop the queued timers of a batch or debounce (its id stands in the run_id column)."""
        self._db.execute("DELETE FROM queue WHERE run_id = ?", (owner_id,))

    def open_batch(self, function_id: str, batch_key: str) -> BatchRecord | None:
        """The batch collecting events of a function for one key value, if one is open."""
        row = self._one(
            f"SELECT {_BATCH_COLUMNS} FROM batches WHERE function_id = ? AND batch_key = ?",
            (function_id, batch_key),
        )
        return None if row is None else BatchRecord(*row)

    def batch_by_id(self, batch_id: str) -> BatchRecord | None:
        """An open batch by its id (None once it was flushed)."""
        row = self._one(f"SELECT {_BATCH_COLUMNS} FROM batches WHERE id = ?", (batch_id,))
        return None if row is None else BatchRecord(*row)

    def create_batch(self, batch_id: str, function_id: str, batch_key: str, now: float) -> None:
        """Open an empty batch for a function and key value."""
        self._db.execute(
            "INSERT INTO batches (id, function_id, batch_key, opened_at, size) "
            "VALUES (?, ?, ?, ?, 0)",
            (batch_id, function_id, batch_key, now),
        )

    def add_to_batch(self, batch: BatchRecord, internal_id: str, event_json: str) -> int:
        """Append an event; returns the batch's new size."""
        self._db.execute(
            "INSERT INTO batch_events (batch_id, position, internal_id, event) VALUES (?, ?, ?, ?)",
            (batch.id, batch.size, internal_id, event_json),
        )
        self._db.execute("UPDATE batches SET size = size + 1 WHERE id = ?", (batch.id,))
        return batch.size + 1

    def take_batch(self, batch_id: str) -> list[tuple[str, str]]:
        """Close a batch: its `(internal id, event JSON)` in arrival order, then it is gone."""
        rows = self._all(
            "SELECT internal_id, event FROM batch_events WHERE batch_id = ? ORDER BY position",
            (batch_id,),
        )
        self._db.execute("DELETE FROM batch_events WHERE batch_id = ?", (batch_id,))
        self._db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
        self.drop_timers(batch_id)
        return [(internal_id, event) for internal_id, event in rows]
