"""A run's step timeline as rows for the template: each op's bar placed by its start and end
within the run, what it returned or why it failed, and what a sleeping or waiting op waits for.

Bars are percentages of the run's span (CSS only); an op still going stretches to "now".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from inngest_dsl.devserver.store.records import (
    KIND_LABELS,
    PauseRecord,
    QueueItem,
    RunRecord,
    RunStatus,
    StepRecord,
)
from inngest_dsl.devserver.store.shapes import step_json
from inngest_dsl.devserver.ui.errors import ReadableError, readable_error

__all__ = ["Bar", "OpRow", "Span", "Timeline", "build_timeline", "run_bar_css"]

_MIN_WIDTH = 0.6  # percent: an instant op still shows as a sliver
_FINISHED_STEPS = frozenset(("Completed", "Failed", "Cancelled"))
_TICKS = (0, 25, 50, 75, 100)
_RUN_BARS = {
    RunStatus.COMPLETED: "bar-done",
    RunStatus.FAILED: "bar-failed",
    RunStatus.CANCELLED: "bar-cancelled",
    RunStatus.SKIPPED: "bar-skipped",
}


@attrs.frozen
class Span:
    """The run's time window: bars are placed relative to `start` over `length` seconds."""

    start: float
    end: float

    @property
    def length(self) -> float:
        return max(self.end - self.start, 1e-3)

    def percent(self, moment: float) -> float:
        return min(max((moment - self.start) / self.length * 100, 0.0), 100.0)


@attrs.frozen
class Bar:
    left: float
    width: float
    css: str


@attrs.frozen
class OpRow:
    """One op of the timeline, as the template shows it."""

    index: int
    step_id: str
    name: str
    kind: str
    kind_label: str
    status: str
    bar: Bar
    duration: float | None
    attempts: int
    summary: str
    summary_css: str
    error: ReadableError | None
    error_label: str
    output: Any
    has_output: bool
    opts: Any
    wakes_at: float | None
    waits_for: PauseRecord | None
    retry_at: float | None


@attrs.frozen
class Timeline:
    span: Span
    ticks: list[tuple[int, float]]
    run_bar: Bar
    run_duration: float
    rows: list[OpRow]


def run_bar_css(status: str) -> str:
    """Each final status its own colour: a cancelled run is not drawn as a completed one."""
    return _RUN_BARS.get(status, "bar-going")


def _span(run: RunRecord, steps: Sequence[StepRecord], now: float) -> Span:
    start = run.started_at or run.queued_at
    if run.ended_at is not None:
        end = run.ended_at
    else:
        end = max([now, *(s.ended_at for s in steps if s.ended_at is not None)])
    return Span(start, max(end, start))


def _bar(span: Span, begin: float | None, end: float | None, css: str) -> Bar:
    left = span.percent(begin if begin is not None else span.start)
    right = span.percent(end if end is not None else span.end)
    width = max(right - left, _MIN_WIDTH)
    return Bar(round(min(left, 100 - width), 3), round(width, 3), css)


def _summary(step: StepRecord, error: ReadableError | None, output: Any) -> tuple[str, str]:
    finished = step.status in _FINISHED_STEPS
    if error is not None and (step.status == "Failed" or not finished):
        return f"{error.name}: {error.message}" if error.message else error.name, "op-error"
    if step.status == "Cancelled":
        return "cancelled with the run", "muted"
    if finished and step.kind == "Sleep":
        slept = (step.opts or {}).get("duration") if isinstance(step.opts, dict) else None
        return f"slept {slept or ''}".strip(), "muted"
    if finished and step.kind == "WaitForEvent" and output is None:
        return "timed out: no matching event", "muted"
    if finished and output is not None:
        return "", "op-output"
    if not finished:
        return f"{step.status.lower()}…", "muted"
    return "no output", "muted"


def _row(
    index: int,
    step: StepRecord,
    span: Span,
    now: float,
    queue: Sequence[QueueItem],
    pauses: Sequence[PauseRecord],
) -> OpRow:
    shaped = step_json(step)
    finished = step.status in _FINISHED_STEPS
    end = step.ended_at if finished else None
    duration = (
        None if step.started_at is None else (end if end is not None else now) - step.started_at
    )
    state = "done" if finished else "going"
    status_css = "failed" if step.status == "Failed" else state
    error = None if shaped["error"] is None else readable_error(shaped["error"])
    output = shaped["output"]
    summary, summary_css = _summary(step, error, output)
    label = "Error" if step.status == "Failed" else "Last error (retrying)"
    if step.status == "Completed":
        label = "Error of an earlier attempt"
    mine = [q for q in queue if q.step_id == step.step_id]
    wakes_at = next((q.due for q in mine if q.kind == "wake"), None)
    retry_at = next((q.due for q in mine if q.kind == "call" and q.attempt > 0), None)
    waits_for = next((p for p in pauses if p.step_id == step.step_id), None)
    return OpRow(
        index=index,
        step_id=step.step_id,
        name=step.display_name or step.step_id,
        kind=step.kind,
        kind_label=KIND_LABELS.get(step.kind, step.kind),
        status=step.status,
        bar=_bar(span, step.started_at, end, f"bar-{status_css}"),
        duration=duration,
        attempts=step.attempts if step.kind == "Run" else 0,
        summary=summary,
        summary_css=summary_css,
        error=error,
        error_label=label,
        output=output,
        has_output=step.status == "Completed",
        opts=step.opts,
        wakes_at=None if finished else wakes_at,
        waits_for=None if finished else waits_for,
        retry_at=None if finished else retry_at,
    )


def build_timeline(
    run: RunRecord,
    steps: Sequence[StepRecord],
    now: float,
    queue: Sequence[QueueItem] = (),
    pauses: Sequence[PauseRecord] = (),
) -> Timeline:
    """The run's own bar, then one row per op in the order they started."""
    span = _span(run, steps, now)
    final = run.status in RunStatus.FINAL
    ordered = sorted(steps, key=lambda s: (s.started_at or span.start, s.position is None))
    return Timeline(
        span=span,
        ticks=[(t, span.length * t / 100) for t in _TICKS],
        run_bar=_bar(span, span.start, run.ended_at, run_bar_css(run.status)),
        run_duration=(span.end if final else now) - span.start,  # not the axis: its least is 1 ms
        rows=[_row(i, s, span, now, queue, pauses) for i, s in enumerate(ordered)],
    )
