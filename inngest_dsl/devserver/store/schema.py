"""The dev server's SQLite schema, and the migration of databases made by earlier versions."""

from __future__ import annotations

import sqlite3

__all__ = ["ensure_schema"]

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
    reason TEXT,
    rerun_of TEXT,
    rerun_from TEXT
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
CREATE TABLE IF NOT EXISTS event_runs (
    internal_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    PRIMARY KEY (internal_id, run_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS event_runs_run ON event_runs(run_id);
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
    trigger TEXT NOT NULL,
    match_path TEXT,
    match_value TEXT
);
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
CREATE TABLE IF NOT EXISTS superseded_events (
    internal_id TEXT PRIMARY KEY,
    by_internal_id TEXT NOT NULL
) WITHOUT ROWID;
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
    ("runs", "rerun_of", "TEXT"),
    ("runs", "rerun_from", "TEXT"),
    ("pauses", "match_path", "TEXT"),
    ("pauses", "match_value", "TEXT"),
)
_AFTER_MIGRATION = """
CREATE INDEX IF NOT EXISTS runs_singleton ON runs(singleton) WHERE singleton IS NOT NULL;
CREATE INDEX IF NOT EXISTS runs_rerun_of ON runs(rerun_of) WHERE rerun_of IS NOT NULL;
CREATE INDEX IF NOT EXISTS runs_ended ON runs(ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS pauses_match ON pauses(event_name, match_path, match_value);
DROP INDEX IF EXISTS pauses_event;
"""


def ensure_schema(db: sqlite3.Connection) -> None:
    """Create the tables a new database lacks and add the columns an old one lacks."""
    db.executescript(_SCHEMA)
    for table, column, declaration in _ADDED_COLUMNS:
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})").fetchall()}
        if column not in columns:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
    db.executescript(_AFTER_MIGRATION)
