"""A run's step timeline as HTML: one row per op, its bar placed by start and end in the run.

Bars are absolutely positioned percentages of the run's span (CSS only); an op still going
stretches to "now" and is drawn striped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from inngest_dsl.devserver.store.records import RunRecord, RunStatus, StepRecord
from inngest_dsl.devserver.store.shapes import step_json
from inngest_dsl.devserver.ui.markup import badge, esc, format_duration, json_block, json_preview

__all__ = ["Span", "render_timeline", "run_span"]

_MIN_WIDTH = 0.6  # percent: an instant op still shows as a sliver
_FINISHED_STEPS = frozenset(("Completed", "Failed", "Cancelled"))
_TICKS = (0, 25, 50, 75, 100)


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


def run_span(run: RunRecord, steps: Sequence[StepRecord], now: float) -> Span:
    start = run.started_at or run.queued_at
    if run.ended_at is not None:
        end = run.ended_at
    else:
        end = max([now, *(s.ended_at for s in steps if s.ended_at is not None)])
    return Span(start, max(end, start))


def _bar(span: Span, begin: float | None, end: float | None, css: str) -> str:
    left = span.percent(begin if begin is not None else span.start)
    right = span.percent(end if end is not None else span.end)
    width = max(right - left, _MIN_WIDTH)
    left = min(left, 100 - width)
    return f'<span class="bar {css}" style="left:{left:.3f}%;width:{width:.3f}%"></span>'


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        name = error.get("name") or "Error"
        message = error.get("message")
        return f"{name}: {message}" if message is not None else str(name)
    return str(error)


def _op_row(index: int, step: StepRecord, span: Span, now: float) -> str:
    shaped = step_json(step)
    finished = step.status in _FINISHED_STEPS
    end = step.ended_at if finished else None
    duration = (
        None if step.started_at is None else (end if end is not None else now) - step.started_at
    )
    state = "done" if finished else "going"
    status_css = "failed" if step.status == "Failed" else state
    error = shaped["error"]
    output = shaped["output"]
    if step.status == "Failed" or (error is not None and not finished):
        summary_line = f'<span class="op-error">{esc(_error_text(error))}</span>'
    elif step.status == "Cancelled":
        summary_line = '<span class="muted">cancelled with the run</span>'
    elif finished and step.kind == "Sleep":
        slept = (step.opts or {}).get("duration") if isinstance(step.opts, dict) else None
        summary_line = f'<span class="muted">slept {esc(slept or "")}</span>'
    elif finished and step.kind == "WaitForEvent" and output is None:
        summary_line = '<span class="muted">timed out: no matching event</span>'
    elif finished and output is not None:
        summary_line = f'<span class="op-output">{json_preview(output)}</span>'
    elif not finished:
        summary_line = f'<span class="muted">{esc(step.status.lower())}…</span>'
    else:
        summary_line = '<span class="muted">no output</span>'
    attempts = step.attempts
    attempts_text = (
        f"{attempts} attempt{'s' if attempts != 1 else ''}"
        if attempts and step.kind == "Run"
        else ""
    )
    retried = " retried" if attempts > 1 else ""
    details = []
    if error is not None:
        label = "Error" if step.status == "Failed" else "Last error (retrying)"
        if step.status == "Completed":
            label = "Error of an earlier attempt"
        details.append(f'<div class="label">{label}</div>' + json_block(error))
    if step.status == "Completed":
        details.append('<div class="label">Output</div>' + json_block(output))
    if step.opts:
        details.append('<div class="label">Options</div>' + json_block(step.opts))
    details.append(f'<div class="label">Step id</div><code>{esc(step.step_id)}</code>')
    name = step.display_name or step.step_id
    return (
        f'<li class="op op-{esc(step.kind.lower())} op-{status_css}">'
        f'<details id="op-{index}"><summary>'
        f'<span class="op-head"><span class="op-name" title="{esc(name)}">{esc(name)}</span>'
        f'<span class="op-kind">{esc(step.kind)}</span>{badge(step.status)}</span>'
        f'<span class="track">{_bar(span, step.started_at, end, f"bar-{status_css}")}</span>'
        f'<span class="op-dur">{format_duration(duration)}</span>'
        f'<span class="op-attempts{retried}">{attempts_text}</span>'
        f'<span class="op-line">{summary_line}</span>'
        f'</summary><div class="op-body">{"".join(details)}</div></details></li>'
    )


def render_timeline(run: RunRecord, steps: Sequence[StepRecord], now: float) -> str:
    """The timeline: an axis, the run's own bar, then one row per op in the order they ran."""
    span = run_span(run, steps, now)
    ticks = "".join(
        f'<span class="tick" style="left:{t}%">'
        f"{format_duration(span.length * t / 100) if t else '0'}</span>"
        for t in _TICKS
    )
    final = run.status in RunStatus.FINAL
    run_css = "bar-done" if final else "bar-going"
    if run.status == RunStatus.FAILED:
        run_css = "bar-failed"
    run_row = (
        '<li class="op op-run"><div class="row">'
        f'<span class="op-head"><span class="op-name">Run</span>{badge(run.status)}</span>'
        f'<span class="track">{_bar(span, span.start, run.ended_at, run_css)}</span>'
        f'<span class="op-dur">{format_duration(span.length if final else now - span.start)}</span>'
        '<span class="op-attempts"></span><span class="op-line"></span></div></li>'
    )
    ordered = sorted(steps, key=lambda s: (s.started_at or span.start, s.position is None))
    rows = "".join(_op_row(i, s, span, now) for i, s in enumerate(ordered))
    if not rows:
        rows = '<li class="empty">No steps yet.</li>'
    return (
        '<div class="timeline">'
        f'<div class="axis"><span class="op-head"></span><span class="track">{ticks}</span></div>'
        f'<ol class="ops">{run_row}{rows}</ol></div>'
    )
