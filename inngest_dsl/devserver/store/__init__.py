"""The dev server's durable state: SQLite tables, and the records read from them.

`Store` is every table's reads and writes over one connection (`database.Database`); each
table's SQL lives in its own module.
"""

from __future__ import annotations

from inngest_dsl.devserver.store.apps import AppTables
from inngest_dsl.devserver.store.events import EventTables
from inngest_dsl.devserver.store.flow import FlowTables
from inngest_dsl.devserver.store.pauses import PauseTable
from inngest_dsl.devserver.store.queue import QueueTable
from inngest_dsl.devserver.store.retention import RetentionTables
from inngest_dsl.devserver.store.runs import RunTable
from inngest_dsl.devserver.store.search import SearchQueries
from inngest_dsl.devserver.store.steps import StepTable

__all__ = ["Store"]


class Store(
    EventTables,
    AppTables,
    RunTable,
    StepTable,
    QueueTable,
    PauseTable,
    FlowTables,
    RetentionTables,
    SearchQueries,
):
    """All reads and writes of the dev server's state."""
