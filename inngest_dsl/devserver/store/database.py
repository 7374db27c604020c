"""SQLite persistence: the schema and every SQL statement of the dev server.

One connection, used from the event loop thread only. WAL with `synchronous=NORMAL` survives a
killed process (not a power cut), which is what a dev server needs. Writers group their
statements in `transaction()` so a call's outcome and the work it schedules commit together.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import attrs

from inngest_dsl.devserver.store.records import (
    AppRecord,
    EventRecord,
    FunctionRecord,
    PauseRecord,
    QueueItem,
    RunRecord,
    StepRecord,
)

__all__ = ["BatchRecord", "DebounceRecord", "Store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    internal_id TEXT NOT NULL UNIQUE,
    event_id TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    ts INTEGER NOT NULL,
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_event_id ON events(event_id);
CREATE TABLE IF NOT EXISTS apps (
    url TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    sdk TEXT NOT NULL,
    framework TEXT NOT NULL,
    checksum TEXT NOT NULL,
    synced_at REAL,
    error TEXT
);
CREATE TABLE IF NOT EXISTS functions (
    id TEXT PRIMARY KEY,
    app_url TEXT NOT NULL,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    config TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    function_id TEXT NOT NULL,
    status TEXT NOT NULL,
    events TEXT NOT NULL,
    output TEXT,
    error TEXT,
    queued_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    outstanding INTEGER NOT NULL DEFAULT 0,
    force_plan INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT -1,
    correlation_id TEXT,
    priority INTEGER NOT NULL DEFAULT 0,
    flow TEXT,
    singleton TEXT,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
CREATE TABLE IF NOT EXISTS event_runs (
    internal_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    PRIMARY KEY (internal_id, run_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dedup (
    function_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    PRIMARY KEY (function_id, event_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL,
    step_id TEXT NOT NULL,
    position INTEGER,
    kind TEXT NOT NULL,
    display_name TEXT NOT NULL,
    status TEXT NOT NULL,
    memo TEXT,
    error TEXT,
    opts TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at REAL,
    ended_at REAL,
    PRIMARY KEY (run_id, step_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    step_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    due REAL NOT NULL,
    ref INTEGER
);
CREATE INDEX IF NOT EXISTS queue_run ON queue(run_id);
CREATE INDEX IF NOT EXISTS queue_ref ON queue(ref);
CREATE TABLE IF NOT EXISTS pauses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    step_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    event_name TEXT,
    expression TEXT,
    correlation_id TEXT,
    expires REAL NOT NULL,
    trigger TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pauses_event ON pauses(event_name);
CREATE INDEX IF NOT EXISTS pauses_run ON pauses(run_id);
CREATE INDEX IF NOT EXISTS pauses_correlation ON pauses(correlation_id);
CREATE TABLE IF NOT EXISTS limiter (
    key TEXT PRIMARY KEY,
    tat REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS debounces (
    id TEXT PRIMARY KEY,
    function_id TEXT NOT NULL,
    debounce_key TEXT NOT NULL,
    internal_id TEXT NOT NULL,
    event TEXT NOT NULL,
    first_at REAL NOT NULL,
    due REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS debounces_key ON debounces(function_id, debounce_key);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    function_id TEXT NOT NULL,
    batch_key TEXT NOT NULL,
    opened_at REAL NOT NULL,
    size INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS batches_key ON batches(function_id, batch_key);
CREATE TABLE IF NOT EXISTS batch_events (
    batch_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    internal_id TEXT NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (batch_id, position)
) WITHOUT ROWID;
"""

# Columns added to tables of databases created by earlier versions, then what depends on them.
_ADDED_COLUMNS = (
    ("runs", "priority", "INTEGER NOT NULL DEFAULT 0"),
    ("runs", "flow", "TEXT"),
    ("runs", "singleton", "TEXT"),
    ("runs", "reason", "TEXT"),
)
_AFTER_MIGRATION = """
CREATE INDEX IF NOT EXISTS runs_singleton ON runs(singleton) WHERE singleton IS NOT NULL;
"""

_RUN_COLUMNS = (
    "run_id, function_id, status, events, output, error, queued_at, started_at, ended_at, "
    "outstanding, force_plan, version, correlation_id, priority, flow, singleton, reason"
)
_STEP_COLUMNS = (
    "run_id, step_id, position, kind, display_name, status, memo, error, opts, attempts, "
    "started_at, ended_at"
)
_EVENT_COLUMNS = "seq, internal_id, event_id, name, body, ts, received_at"
_PAUSE_COLUMNS = (
    "id, run_id, step_id, kind, event_name, expression, correlation_id, expires, trigger"
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
    )


@attrs.frozen
class DebounceRecord:
    """A debounced function waiting for a quiet `period`: it will run with `event`."""

    id: str
    function_id: str
    debounce_key: str
    internal_id: str
    event_json: str
    first_at: float
    due: float


@attrs.frozen
class BatchRecord:
    """An open batch of events for one function and batch key."""

    id: str
    function_id: str
    batch_key: str
    opened_at: float
    size: int


class Store:
    """All reads and writes of the dev server's state."""

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            folder = os.path.dirname(os.path.abspath(path))
            os.makedirs(folder, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=OFF")
        self._db.executescript(_SCHEMA)
        self._migrate()
        self._in_tx = False
        # Event names that may have pauses (a superset): most events skip the pause query.
        self._pause_names: set[str] = {
            name
            for (name,) in self._all(
                "SELECT DISTINCT event_name FROM pauses WHERE event_name IS NOT NULL"
            )
        }

    def close(self) -> None:
        self._db.close()

    def _migrate(self) -> None:
        for table, column, declaration in _ADDED_COLUMNS:
            columns = {row[1] for row in self._all(f"PRAGMA table_info({table})")}
            if column not in columns:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
        self._db.executescript(_AFTER_MIGRATION)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes atomically; nested use joins the outer transaction."""
        if self._in_tx:
            yield
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._in_tx = True
        try:
            yield
        except BaseException:
            self._in_tx = False
            self._db.execute("ROLLBACK")
            raise
        self._in_tx = False
        self._db.execute("COMMIT")

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside a transaction: undo only this block's writes if it raises."""
        assert self._in_tx, "a savepoint needs an open transaction"
        self._db.execute("SAVEPOINT part")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK TO part")
            self._db.execute("RELEASE part")
            raise
        self._db.execute("RELEASE part")

    def _one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        return self._db.execute(sql, args).fetchone()

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        return self._db.execute(sql, args).fetchall()

    # -- events -----------------------------------------------------------------------------

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

    def runs_for_event(self, internal_id: str) -> list[RunRecord]:
        rows = self._all(
            f"SELECT {', '.join('r.' + c.strip() for c in _RUN_COLUMNS.split(','))} "
            "FROM event_runs e JOIN runs r ON r.run_id = e.run_id "
            "WHERE e.internal_id = ? ORDER BY r.run_id",
            (internal_id,),
        )
        return [_run(row) for row in rows]

    def claim_event_id(self, function_id: str, event_id: str, run_id: str) -> bool:
        """Record that `event_id` started `run_id` of a function; False if it already did."""
        cur = self._db.execute(
            "INSERT OR IGNORE INTO dedup (function_id, event_id, run_id) VALUES (?, ?, ?)",
            (function_id, event_id, run_id),
        )
        return cur.rowcount == 1

    # -- apps and functions -----------------------------------------------------------------

    def get_app(self, url: str) -> AppRecord | None:
        row = self._one(
            "SELECT url, name, sdk, framework, checksum, synced_at, error FROM apps WHERE url = ?",
            (url,),
        )
        return None if row is None else AppRecord(*row)

    def list_apps(self) -> list[AppRecord]:
        rows = self._all(
            "SELECT url, name, sdk, framework, checksum, synced_at, error FROM apps ORDER BY url"
        )
        return [AppRecord(*row) for row in rows]

    def save_app(
        self,
        app: AppRecord,
        functions: Iterable[tuple[str, str, str, str]],
    ) -> None:
        """Store an app and replace its functions with `(id, name, url, config_json)` rows."""
        self._db.execute(
            "INSERT OR REPLACE INTO apps (url, name, sdk, framework, checksum, synced_at, error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            attrs_tuple(app),
        )
        self._db.execute("DELETE FROM functions WHERE app_url = ?", (app.url,))
        self._db.executemany(
            "INSERT OR REPLACE INTO functions (id, app_url, name, url, config, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (fid, app.url, name, url, cfg, app.synced_at or 0.0)
                for fid, name, url, cfg in functions
            ],
        )

    def set_app_error(self, url: str, error: str | None) -> None:
        """Record why an app could not be synced (None: it could); unknown URLs are added."""
        self._db.execute(
            "INSERT INTO apps (url, name, sdk, framework, checksum, synced_at, error) "
            "VALUES (?, '', '', '', '', NULL, ?) "
            "ON CONFLICT (url) DO UPDATE SET error = excluded.error",
            (url, error),
        )

    def list_functions(self) -> list[FunctionRecord]:
        rows = self._all(
            "SELECT id, app_url, name, url, config, updated_at FROM functions ORDER BY id"
        )
        return [FunctionRecord(*row) for row in rows]

    # -- runs -------------------------------------------------------------------------------

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

    # -- steps ------------------------------------------------------------------------------

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
        existing = self._one(
            "SELECT position FROM steps WHERE run_id = ? AND step_id = ?", (run_id, step_id)
        )
        if existing is not None and existing[0] is not None:
            return False
        position = self._one(
            "SELECT COALESCE(MAX(position) + 1, 0) FROM steps WHERE run_id = ?", (run_id,)
        )[0]
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

    # -- queue ------------------------------------------------------------------------------

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

    # -- pauses -----------------------------------------------------------------------------

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

    # -- flow control -------------------------------------------------------------------------

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


_DEBOUNCE_COLUMNS = "id, function_id, debounce_key, internal_id, event, first_at, due"
_BATCH_COLUMNS = "id, function_id, batch_key, opened_at, size"


def attrs_tuple(record: AppRecord) -> tuple[Any, ...]:
    return (
        record.url,
        record.name,
        record.sdk,
        record.framework,
        record.checksum,
        record.synced_at,
        record.error,
    )
