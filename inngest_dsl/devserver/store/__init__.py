"""The dev server's durable state: SQLite tables, and the records read from them."""

from __future__ import annotations

from inngest_dsl.devserver.store.database import BatchRecord, DebounceRecord, Store

__all__ = ["BatchRecord", "DebounceRecord", "Store"]
