"""Helpers for DSL tests on the dev server's engine in memory, on virtual time.

`environment([...])` is a `TestEnvironment` that step bodies of the module-level test
functions can reach: `await busy("1s")` in a body is work that takes a second of virtual time
(the call holds its concurrency slot meanwhile), and `virtual_now()` reads the clock. Waiting
is `run_until` on the virtual clock: it moves time timer by timer, never sleeps, and fails at
once when nothing left to happen could make the condition hold.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Iterable
from typing import Any

from inngest_dsl.spec._function import FunctionSpec
from inngest_dsl.testing import ServerRun, TestEnvironment

START = "2026-01-01T00:00:00Z"
"""Where virtual time starts in these tests."""

FINAL = ("Completed", "Failed", "Cancelled", "Skipped")

Function = type | FunctionSpec | str

_current: list[TestEnvironment] = []


@contextlib.asynccontextmanager
async def environment(
    functions: Iterable[type | FunctionSpec], **options: Any
) -> AsyncIterator[TestEnvironment]:
    """A started `TestEnvironment` at `START`, the one `busy` and `virtual_now` use."""
    options.setdefault("now", START)
    async with TestEnvironment(functions, **options) as env:
        _current.append(env)
        try:
            yield env
        finally:
            _current.remove(env)


def current() -> TestEnvironment:
    if not _current:
        raise RuntimeError("no test environment is running: use `async with environment(...)`")
    return _current[-1]


async def busy(duration: str | float | dt.timedelta) -> None:
    """In a step body: work that takes `duration` of virtual time."""
    await current().sleep(duration)


def virtual_now() -> dt.datetime:
    """The virtual time of the running environment."""
    return current().now


def instant(text: str | None) -> dt.datetime:
    """A run or step record's timestamp (`started_at`, `ended_at`, ...) as a datetime."""
    assert text is not None, "the record has no such time"
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _describe(run: ServerRun) -> str:
    steps = "\n".join(
        f"  {s.get('kind')} {s.get('name')!r}: {s.get('status')} "
        f"output={s.get('output')!r} error={s.get('error')!r}"
        for s in run.steps
    )
    reason = f" ({run.reason})" if run.reason else ""
    return (
        f"run {run.run_id} of {run.function_id}: {run.status}{reason}\n"
        f"output: {run.output!r}\nerror: {run.error!r}\nsteps:\n{steps}"
    )


async def run_of(
    env: TestEnvironment, event_id: str, function: Function | None = None
) -> ServerRun:
    """The one run event `event_id` started (of `function`, if it started several)."""
    runs = await env.runs_of_event(event_id)
    if function is not None:
        wanted = env.function_id(function)
        runs = [run for run in runs if run.function_id == wanted]
    assert len(runs) == 1, f"event {event_id} started {len(runs)} runs: {runs}"
    return runs[0]


async def ended(
    env: TestEnvironment,
    event_id: str,
    status: str | None = "Completed",
    *,
    function: Function | None = None,
    within: str = "1d",
) -> ServerRun:
    """Move time on until the run `event_id` started has ended; it, checked to end `status`
    (`None` for any final status)."""

    async def over() -> bool:
        runs = await env.runs_of_event(event_id)
        if function is not None:
            runs = [run for run in runs if run.function_id == env.function_id(function)]
        return bool(runs) and all(run.status in FINAL for run in runs)

    await env.run_until(over, within=within)
    run = await run_of(env, event_id, function)
    if status is not None:
        assert run.status == status, f"expected {status}\n{_describe(run)}"
    return run


async def all_ended(
    env: TestEnvironment,
    count: int,
    function: Function,
    *,
    status: str | None = "Completed",
    within: str = "1d",
) -> list[ServerRun]:
    """Move time on until `count` runs of `function` have ended; those runs, oldest first,
    each checked to end `status` (`None` for any final status)."""

    async def over() -> bool:
        return len([r for r in await env.runs(function) if r.status in FINAL]) >= count

    await env.run_until(over, within=within)
    runs = [run for run in await env.runs(function) if run.status in FINAL]
    for run in runs:
        if status is not None:
            assert run.status == status, f"expected {status}\n{_describe(run)}"
    return runs


async def step_status(env: TestEnvironment, event_id: str, name: str) -> str:
    """The status of step `name` of the run event `event_id` started, as it is now."""
    return str((await run_of(env, event_id)).step(name)["status"])
