"""The SQLite connection: opening it, transactions and savepoints; the tables build on it.

One connection, used from the event loop thread only. WAL with `synchronous=NORMAL` survives a
killed process (not a power cut), which is what a dev server needs. Writers group their
statements in `transaction()` so a call's outcome and the work it schedules commit together.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from inngest_dsl.devserver.store.schema import ensure_schema

__all__ = ["Database"]


class Database:
    """One SQLite file (or `:memory:`) with the dev server's schema."""

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            folder = os.path.dirname(os.path.abspath(path))
            os.makedirs(folder, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # Only a new file takes this (before its first table): retention can then give the
        # pages it frees back to the file system. Older files keep reusing them.
        self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=OFF")
        ensure_schema(self._db)
        self._in_tx = False

    def close(self) -> None:
        self._db.close()

    @property
    def in_transaction(self) -> bool:
        """Whether a `transaction()` is open."""
        return self._in_tx

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
