"""The run page's timeline as data: what its run bar says, for a run shorter than its axis."""

from __future__ import annotations

import pytest

from inngest_dsl.devserver.store.records import RunRecord
from inngest_dsl.devserver.ui.timeline import build_timeline


def _run(status: str, ended_at: float | None) -> RunRecord:
    return RunRecord(
        run_id="01M92D4A393A35K829Y1QCHX2A",
        function_id="app-fn",
        status=status,
        events_json="[]",
        output_json=None,
        error_json=None,
        queued_at=100.0,
        started_at=100.0,
        ended_at=ended_at,
        outstanding=0,
        force_plan=False,
        version=1,
        correlation_id=None,
    )


def test_a_run_shorter_than_the_least_axis_shows_its_own_duration() -> None:
    timeline = build_timeline(_run("Failed", 100.0008), [], now=200.0)
    assert timeline.run_duration == pytest.approx(0.0008)  # the facts say 0.8 ms too
    assert timeline.span.length == pytest.approx(0.001)  # the axis is at least 1 ms
    assert timeline.run_bar.width == pytest.approx(80.0)


def test_a_running_run_lasts_until_now() -> None:
    timeline = build_timeline(_run("Running", None), [], now=102.5)
    assert timeline.run_duration == pytest.approx(2.5)
