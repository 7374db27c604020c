"""A run that has started is not held up by a backlog of runs that have not.

The dev server makes at most 64 calls at once. Calls of runs under way take a free slot
before the first call of a new run, so however many runs are queued, no more than 64 are ever
in progress at once: each run started goes on to its end before the backlog moves on.
"""

from __future__ import annotations

import pytest

from inngest_dsl import Context, InngestFunction, step
from inngest_dsl.devserver.core import executor
from inngest_dsl.testing import TestEnvironment

SLOTS = 64
calls: list[tuple[int, str]] = []


class ThreeSteps(InngestFunction, id="three-steps", event="jobs/queued"):
    @step("one")
    async def one(self, ctx: Context) -> int:
        calls.append((ctx.event.data["n"], "one"))
        return 1

    @step("two")
    async def two(self, ctx: Context) -> int:
        calls.append((ctx.event.data["n"], "two"))
        return 2

    @step("three")
    async def three(self, ctx: Context) -> int:
        calls.append((ctx.event.data["n"], "three"))
        return 3


def _most_in_progress(sequence: list[tuple[int, str]]) -> int:
    started: set[int] = set()
    most = 0
    for n, name in sequence:
        if name == "one":
            started.add(n)
        elif name == "three":
            started.discard(n)
        most = max(most, len(started))
    return most


async def test_started_runs_finish_before_the_backlog_of_new_runs_moves_on() -> None:
    calls.clear()
    async with TestEnvironment([ThreeSteps], now="2026-01-01T00:00:00Z") as env:
        await env.send([{"name": "jobs/queued", "data": {"n": n}} for n in range(5 * SLOTS)])
        assert len(await env.runs(ThreeSteps, status="Completed")) == 5 * SLOTS
    _check_fair(calls)


async def test_a_backlog_past_the_window_stays_in_the_store_and_runs_once_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(executor, "_WINDOW", 16)
    monkeypatch.setattr(executor, "_PAGE", 8)
    calls.clear()
    async with TestEnvironment([ThreeSteps], now="2026-01-01T00:00:00Z") as env:
        env.engine.runs.ingest(
            [{"name": "jobs/queued", "data": {"n": n}} for n in range(5 * SLOTS)]
        )
        assert env.engine.executor.backlog == 16  # the other first calls wait in the store
        await env.settle()
        assert len(await env.runs(ThreeSteps, status="Completed")) == 5 * SLOTS
        assert env.engine.executor.backlog == 0
    _check_fair(calls)


def _check_fair(calls: list[tuple[int, str]]) -> None:
    assert sorted(calls) == sorted(
        (n, s) for n in range(5 * SLOTS) for s in ("one", "two", "three")
    )
    # Every run's steps come in order, and new runs start only as started ones end.
    assert _most_in_progress(calls) == SLOTS
    first_of_run = {n: calls.index((n, "one")) for n in range(5 * SLOTS)}
    last_of_run = {n: calls.index((n, "three")) for n in range(5 * SLOTS)}
    assert all(first_of_run[n] < calls.index((n, "two")) < last_of_run[n] for n in first_of_run)
    # The first runs to start are done before the last runs of the backlog begin.
    early = sorted(first_of_run, key=first_of_run.__getitem__)[:SLOTS]
    late = sorted(first_of_run, key=first_of_run.__getitem__)[-SLOTS:]
    assert max(last_of_run[n] for n in early) < min(first_of_run[n] for n in late)
