"""Pruning what the dev server no longer needs: finished runs older than the retention window,
their steps and links, and the events no live run, debounce or batch still refers to (with
what a debounce recorded of them).

Each call deletes at most `limit` runs (or events), so a caller can spread the work over many
short transactions. Freed pages go to SQLite's free list and new rows reuse them, so the file
stops growing under steady load; `release_free_pages` gives a surplus back to the file system
when the load drops (only files created with `auto_vacuum=INCREMENTAL`, which new files are).
"""

from __future__ import annotations

import json
from typing import Any

from inngest_dsl.devserver.store.database import Database
from inngest_dsl.devserver.store.records import RunStatus

__all__ = ["RetentionTables"]

_FINAL = tuple(sorted(RunStatus.FINAL))
_FINAL_MARKS = ", ".join("?" for _ in _FINAL)


def _event_ids(events_json: str) -> list[str]:
    try:
        events: Any = json.loads(events_json)
    except ValueError:
        return []
    if not isinstance(events, list):
        return []
    return [str(e["id"]) for e in events if isinstance(e, dict) and e.get("id") is not None]


class RetentionTables(Database):
    """Deletes old finished runs and unreferenced events, a batch at a time."""

    def prune_runs(self, ended_before: float, limit: int) -> int:
        """Delete up to `limit` finished runs that ended before `ended_before`, with their
        steps, event links, dedup claims and any work left; how many runs went."""
        rows = self._all(
            # By end time: the status index would read every finished run ever kept.
            "SELECT run_id, function_id, events FROM runs INDEXED BY runs_ended "
            f"WHERE ended_at < ? AND status IN ({_FINAL_MARKS}) LIMIT ?",
            (ended_before, *_FINAL, limit),
        )
        if not rows:
            return 0
        run_ids = [(run_id,) for run_id, _, _ in rows]
        self._db.executemany("DELETE FROM steps WHERE run_id = ?", run_ids)
        self._db.executemany("DELETE FROM event_runs WHERE run_id = ?", run_ids)
        self._db.executemany("DELETE FROM queue WHERE run_id = ?", run_ids)
        self._db.executemany("DELETE FROM pauses WHERE run_id = ?", run_ids)
        self._db.executemany(
            "DELETE FROM dedup WHERE function_id = ? AND event_id = ? AND run_id = ?",
            [
                (function_id, event_id, run_id)
                for run_id, function_id, events_json in rows
                for event_id in _event_ids(events_json)
            ],
        )
        self._db.executemany("DELETE FROM runs WHERE run_id = ?", run_ids)
        return len(rows)

    def prune_events(self, received_before: float, limit: int) -> int:
        """Delete up to `limit` events received before `received_before` that no run (kept),
        pending debounce or open batch refers to; how many went."""
        # Events are stored in the order they are received, so the old ones come before the
        # first young one: the scan stops there instead of reading the whole table.
        rows = self._all(
            "SELECT seq, internal_id FROM events AS e WHERE e.seq < COALESCE("
            "(SELECT seq FROM events WHERE received_at >= ?1 ORDER BY seq LIMIT 1), "
            "(SELECT MAX(seq) + 1 FROM events)) AND e.received_at < ?1 "
            "AND NOT EXISTS (SELECT 1 FROM event_runs AS r WHERE r.internal_id = e.internal_id) "
            "AND NOT EXISTS (SELECT 1 FROM debounces AS d WHERE d.internal_id = e.internal_id) "
            "AND NOT EXISTS "
            "(SELECT 1 FROM batch_events AS b WHERE b.internal_id = e.internal_id) "
            "ORDER BY seq LIMIT ?2",
            (received_before, limit),
        )
        self._db.executemany("DELETE FROM events WHERE seq = ?", [(seq,) for seq, _ in rows])
        self._db.executemany(
            "DELETE FROM superseded_events WHERE internal_id = ?",
            [(internal_id,) for _, internal_id in rows],
        )
        return len(rows)

    def prune_limiter(self, idle_before: float, limit: int) -> int:
        """Delete up to `limit` limiter buckets idle since before `idle_before` (a bucket whose
        theoretical arrival time is past holds no debt: it reads like a new one)."""
        cur = self._db.execute(
            "DELETE FROM limiter WHERE key IN (SELECT key FROM limiter WHERE tat < ? LIMIT ?)",
            (idle_before, limit),
        )
        return cur.rowcount

    def release_free_pages(self) -> int:
        """Give free pages back to the file system when they are more than half the file (the
        load dropped); fewer are kept for new rows to reuse. How many pages were released."""
        if self._in_tx or self._one("PRAGMA auto_vacuum")[0] != 2:  # 2 = INCREMENTAL
            return 0
        pages = int(self._one("PRAGMA page_count")[0])
        free = int(self._one("PRAGMA freelist_count")[0])
        if free * 2 <= pages:
            return 0
        surplus = free - pages // 8
        # Each step of this pragma frees one page; `executescript` steps it to the end
        # (`execute` would step it once). Never inside a transaction: passes run between them.
        self._db.executescript(f"PRAGMA incremental_vacuum({surplus});")
        return surplus

    def file_pages(self) -> tuple[int, int]:
        """`(pages in the file, free pages)`."""
        return int(self._one("PRAGMA page_count")[0]), int(self._one("PRAGMA freelist_count")[0])
