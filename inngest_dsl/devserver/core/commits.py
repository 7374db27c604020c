"""Run transactions: commit atomically, then tell who listens what the commit changed.

Each run transition runs inside `transaction()`, so an event and the runs it starts, or a call's
outcome and the work it schedules, are committed together; a process killed between two
transactions loses nothing and repeats nothing that was memoised. What a commit changed (new
due work, runs started or ended, log lines) is noted meanwhile and handed on only after it
committed; a rolled-back block drops its notes with its writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from inngest_dsl.devserver.core.clock import Clock
from inngest_dsl.devserver.core.functions import Registry
from inngest_dsl.devserver.store import Store
from inngest_dsl.devserver.store.records import QueueItem

__all__ = ["RunCommits"]

log = logging.getLogger("inngest_dsl.devserver")


class RunCommits:
    """The store, the registry and the clock of the run transitions, and their transactions."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        *,
        retry_interval: float | None = None,
        on_due: Callable[[Sequence[QueueItem]], None] = lambda items: None,
        clock: Clock,
    ) -> None:
        self._store = store
        self._registry = registry
        self._retry_interval = retry_interval
        self._on_due = on_due
        self._clock = clock
        self._pending: list[QueueItem] = []
        self._logs: list[str] = []
        self._started_ungated: list[str] = []
        self._ended: list[str] = []
        self._on_started_ungated: Callable[[Sequence[str]], None] = lambda run_ids: None
        self._on_ended: Callable[[Sequence[str]], None] = lambda run_ids: None
        self._ingest_batch: list[
            tuple[Sequence[dict[str, Any]], Sequence[str] | None, asyncio.Future[list[str]]]
        ] = []

    def set_on_due(self, on_due: Callable[[Sequence[QueueItem]], None]) -> None:
        """Where newly committed queue items go (the executor's heap)."""
        self._on_due = on_due

    def set_on_runs(
        self,
        *,
        started_ungated: Callable[[Sequence[str]], None],
        ended: Callable[[Sequence[str]], None],
    ) -> None:
        """Who hears, after each commit, of new runs whose calls pass no gate and of ended runs.

        Both hear before the commit's queue items are handed to `on_due`.
        """
        self._on_started_ungated = started_ungated
        self._on_ended = ended

    # -- transactions -----------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit atomically; afterwards hand new work to the scheduler and log state changes."""
        outer = not self._store.in_transaction
        try:
            with self._store.transaction():
                yield
        except BaseException:
            if outer:
                self._rewind((0, 0, 0, 0))
            raise
        if outer:
            pending, self._pending = self._pending, []
            logs, self._logs = self._logs, []
            started, self._started_ungated = self._started_ungated, []
            ended, self._ended = self._ended, []
            if started:
                self._on_started_ungated(started)
            if ended:
                self._on_ended(ended)
            if pending:
                self._on_due(pending)
            for line in logs:
                log.info("%s", line)

    def _mark(self) -> tuple[int, int, int, int]:
        """Where the after-commit notes stand now, to `_rewind` to if a part is rolled back."""
        return len(self._pending), len(self._logs), len(self._started_ungated), len(self._ended)

    def _rewind(self, mark: tuple[int, int, int, int]) -> None:
        pending, logs, started, ended = mark
        del self._pending[pending:], self._logs[logs:]
        del self._started_ungated[started:], self._ended[ended:]

    @contextlib.contextmanager
    def _isolated(self) -> Iterator[None]:
        """Inside a transaction: undo only this block's writes and notes if it raises."""
        mark = self._mark()
        try:
            with self._store.savepoint():
                yield
        except BaseException:
            self._rewind(mark)
            raise

    def _enqueue(
        self, run_id: str, kind: str, step_id: str, attempt: int, due: float, ref: int | None = None
    ) -> None:
        self._pending.append(self._store.enqueue(run_id, kind, step_id, attempt, due, ref))

    def _started_ungated_note(self, run_id: str) -> None:
        self._started_ungated.append(run_id)

    def _log_state(self, run_id: str, function_id: str, status: str, detail: str = "") -> None:
        self._logs.append(f"run {run_id} {function_id}: {status}{detail}")
