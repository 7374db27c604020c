"""Every behaviour case of the table, on every backend, with the same expectations.

`test_case[<case>-<backend>]`: the case's script runs on `TestEnvironment` (`environment`) or
on the SQLite dev server over loopback HTTP (`sqlite-http`), both on virtual time from the same
instant; then the runs must be exactly the expected ones. A backend that disagrees with the
other is a bug in the engine or the testing kit, never a reason to loosen a row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from inngest_dsl.spec._durations import parse_instant
from inngest_dsl.testing import ServerRun
from tests.behaviour_backends import APP_ID, BACKENDS, Backend
from tests.behaviour_cases import (
    CASES,
    JOURNAL,
    START,
    UNCHECKED,
    Advance,
    CancelRun,
    Case,
    Check,
    Run,
    Send,
    Step,
    reset,
)


def _offset(instant: str | None) -> float | None:
    """Seconds of virtual time after `START`."""
    if instant is None:
        return None
    return round((parse_instant(instant) - START).total_seconds(), 3)


def _short_id(function_id: str) -> str:
    return function_id.removeprefix(f"{APP_ID}-")


def _trigger_data(run: ServerRun) -> str:
    data = dict(run.events[0].get("data") or {}) if run.events else {}
    data.pop("_inngest", None)
    return json.dumps(data, sort_keys=True, default=str)


def _in_order(runs: list[ServerRun], expected: tuple[Run, ...]) -> list[ServerRun]:
    """Runs grouped by function (in the order `expected` names them), then by queue time, then
    by their first event's data."""
    order = {name: i for i, name in enumerate(dict.fromkeys(run.function for run in expected))}

    def key(run: ServerRun) -> tuple[int, str, float, str]:
        short = _short_id(run.function_id)
        return (
            order.get(short, len(order)),
            short,
            _offset(run.raw["queued_at"]) or 0.0,
            _trigger_data(run),
        )

    return sorted(runs, key=key)


def _step_view(record: dict[str, Any], expected: Step | None) -> Step:
    return Step(
        name=record["name"],
        status=record["status"],
        attempts=record["attempts"],
        ended=_offset(record["ended_at"])
        if expected is None or expected.ended is not UNCHECKED
        else UNCHECKED,
    )


def _view(run: ServerRun, expected: Run | None, ordered_steps: bool) -> Run:
    """What the backend shows of `run`, in the fields `expected` checks."""

    def checked(name: str, value: Any) -> Any:
        if expected is not None and getattr(expected, name) is UNCHECKED:
            return UNCHECKED
        return value

    error = run.error
    steps: tuple[Step, ...] | None = None
    if expected is None or expected.steps is not None:
        records = list(run.steps)
        if not ordered_steps:
            records.sort(key=lambda record: str(record["name"]))
        wanted = list(expected.steps) if expected is not None and expected.steps else []
        steps = tuple(
            _step_view(record, wanted[i] if i < len(wanted) else None)
            for i, record in enumerate(records)
        )
    reason = run.reason
    if expected is not None and expected.reason is not None and reason is not None:
        # The expectation names a phrase of the reason: keep the reason if it has it.
        reason = expected.reason if expected.reason in reason else reason
    elif expected is not None and expected.reason is None:
        reason = None
    return Run(
        function=_short_id(run.function_id),
        status=run.status,
        output=checked("output", run.output),
        error=checked(
            "error", (error["name"], error["message"]) if isinstance(error, dict) else error
        ),
        steps=steps,
        queued=checked("queued", _offset(run.raw["queued_at"])),
        started=checked("started", _offset(run.raw["started_at"])),
        ended=checked("ended", _offset(run.raw["ended_at"])),
        reason=reason,
    )


async def _expect_runs(backend: Backend, case: Case, expected: tuple[Run, ...], when: str) -> None:
    runs = _in_order(await backend.runs(), expected)
    seen = [
        _view(run, expected[i] if i < len(expected) else None, case.ordered_steps)
        for i, run in enumerate(runs)
    ]
    assert seen == list(expected), (
        f"case {case.name!r} on the {backend.name} backend, {when}: the runs differ from the "
        f"table's expectation"
    )


async def _play(backend: Backend, case: Case) -> None:
    for number, action in enumerate(case.script, 1):
        if isinstance(action, Send):
            await backend.send(action.events)
        elif isinstance(action, Advance):
            await backend.advance(action.duration)
        elif isinstance(action, CancelRun):
            runs = [
                run
                for run in _in_order(await backend.runs(), ())
                if _short_id(run.function_id) == action.function
            ]
            await backend.cancel(runs[action.index].run_id)
        elif isinstance(action, Check):
            await _expect_runs(backend, case, action.runs, f"at step {number} of the script")


@pytest.mark.parametrize("backend_name", list(BACKENDS))
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_case(case: Case, backend_name: str, tmp_path: Path) -> None:
    reset()
    async with BACKENDS[backend_name](case.functions, START, tmp_path) as backend:
        await _play(backend, case)
        await _expect_runs(backend, case, case.runs, "at the end")
    if case.journal is not UNCHECKED:
        assert case.summary(list(JOURNAL)) == case.journal, (
            f"case {case.name!r} on the {backend_name} backend: the step bodies did "
            f"{JOURNAL!r}"
        )


def test_every_case_has_a_distinct_name() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))
