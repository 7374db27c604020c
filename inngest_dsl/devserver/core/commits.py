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
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from inngest_dsl.devserver.core.clock import Clock
from inngest_dsl.devserver.core.functions import Registry
from inngest_dsl.devserver.store import Store
from inngest_dsl.devserver.store.records import QueueItem

__all__ = ["RunCommits", "RunListener"]

log = logging.getLogger("inngest_dsl.devserver")


class RunListener(Protocol):
    """Who hears, after each commit, what it changed (the engine, for its executor).

    New runs whose calls pass no gate and ended runs are heard of before the due work.
    """

    def runs_started_ungated(self, run_ids: Sequence[str]) -> None:
        """New runs whose calls pass no gate (no concurrency limit or throttle)."""

    def runs_ended(self, run_ids: Sequence[str]) -> None:
        """Runs that ended (completed, failed, cancelled or skipped while live)."""

    def work_due(self, items: Sequence[QueueItem]) -> None:
        """Newly committed queue items."""


class RunCommits:
    """The store, the registry and the clock of the run transitions, and their transactions."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        *,
        listener: RunListener,
        retry_interval: float | None = None,
        clock: Clock,
    ) -> None:
        self._store = store
        self._registry = registry
        self._listener = listener
        self._retry_interval = retry_interval
        self._clock = clock
        self._pending: list[QueueItem] = []
        self._logs: list[str] = []
        self._started_ungated: list[str] = []
        self._ended: list[str] = []
        self._ingest_batch: list[
            tuple[Sequence[dict[str, Any]], Sequence[str] | None, asyncio.Future[list[str]]]
        ] = []

    # -- transactions -----------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit atomically; afterwards tell the listener what changed and log state changes."""
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
                self._listener.runs_started_ungated(started)
            if ended:
                self._listener.runs_ended(ended)
            if pending:
                self._listener.work_due(pending)
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
