"""The `queue` table: due work (calls, wake-ups, expiries, timeouts, flow control timers)."""

from __future__ import annotations

from inngest_dsl.devserver.store.database import Database
from inngest_dsl.devserver.store.records import QueueItem, RunStatus

__all__ = ["QueueTable"]


class QueueTable(Database):
    """Queued work, by due time."""

    def enqueue(
        self,
        run_id: str,
        kind: str,
        step_id: str,
        attempt: int,
        due: float,
        ref: int | None = None,
    ) -> QueueItem:
        cur = self._db.execute(
            "INSERT INTO queue (run_id, kind, step_id, attempt, due, ref) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, kind, step_id, attempt, due, ref),
        )
        return QueueItem(int(cur.lastrowid or 0), run_id, kind, step_id, attempt, due, ref)

    def dequeue(self, item_id: int) -> bool:
        """Remove a queue item; False if it was already gone (its run ended meanwhile)."""
        return self._db.execute("DELETE FROM queue WHERE id = ?", (item_id,)).rowcount == 1

    def has_queue_item(self, item_id: int) -> bool:
        return self._one("SELECT 1 FROM queue WHERE id = ?", (item_id,)) is not None

    def queue_items(self) -> list[QueueItem]:
        rows = self._all("SELECT id, run_id, kind, step_id, attempt, due, ref FROM queue")
        return [QueueItem(*row) for row in rows]

    def queue_size(self) -> int:
        """Queued work not yet done (calls, wake-ups, expiries, timers)."""
        return int(self._one("SELECT COUNT(*) FROM queue")[0])

    def queue_ids(self) -> set[int]:
        """The ids of every queued item."""
        return {item_id for (item_id,) in self._all("SELECT id FROM queue")}

    def queue_items_but_starts(self, first_step: str) -> list[QueueItem]:
        """Every queue item but the first calls (`first_step`, attempt 0) of queued runs."""
        rows = self._all(
            "SELECT q.id, q.run_id, q.kind, q.step_id, q.attempt, q.due, q.ref FROM queue q "
            "LEFT JOIN runs r ON r.run_id = q.run_id WHERE NOT (q.kind = 'call' "
            "AND q.step_id = ? AND q.attempt = 0 AND COALESCE(r.status, '') = ?)",
            (first_step, RunStatus.QUEUED),
        )
        return [QueueItem(*row) for row in rows]

    def queued_starts(self, first_step: str, after: int, limit: int) -> list[QueueItem]:
        """Up to `limit` first calls of queued runs, by queue id after `after`: a backlog of
        new runs is read from here a page at a time instead of being held in memory."""
        rows = self._all(
            "SELECT q.id, q.run_id, q.kind, q.step_id, q.attempt, q.due, q.ref FROM queue q "
            "JOIN runs r ON r.run_id = q.run_id WHERE q.id > ? AND q.kind = 'call' "
            "AND q.step_id = ? AND q.attempt = 0 AND r.status = ? ORDER BY q.id LIMIT ?",
            (after, first_step, RunStatus.QUEUED, limit),
        )
        return [QueueItem(*row) for row in rows]

    def queue_for_run(self, run_id: str) -> list[QueueItem]:
        rows = self._all(
            "SELECT id, run_id, kind, step_id, attempt, due, ref FROM queue WHERE run_id = ?",
            (run_id,),
        )
        return [QueueItem(*row) for row in rows]

    def clear_run_work(self, run_id: str) -> None:
        """Drop every queued item and pause of a run that has ended."""
        self._db.execute("DELETE FROM queue WHERE run_id = ?", (run_id,))
        self._db.execute("DELETE FROM pauses WHERE run_id = ?", (run_id,))
