"""Finishing (PROTOCOL.md §8.4-8.6): branches that resolve, runs that end, and what they emit.

A sleep that wakes, a wait or invoke that resolves or expires memoises its step and, once the
run's last open branch is in, schedules the next discovery call. A run that ends drops its
pending work and emits `inngest/function.finished` (and `.failed` or `.cancelled`), which
resume the runs that invoked it.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from typing import Any

from inngest_dsl.devserver.core.admission import DISCOVERY
from inngest_dsl.devserver.core.commits import RunCommits
from inngest_dsl.devserver.core.flow import NO_FLOW
from inngest_dsl.devserver.core.protocol import canonical, error_object, event_error
from inngest_dsl.devserver.store.records import PauseRecord, QueueItem, RunRecord, RunStatus
from inngest_dsl.spec import _durations

__all__ = [
    "CANCELLED",
    "CANCELLED_BY_API",
    "FAILED",
    "FINISHED",
    "INVOKED",
    "OPEN",
    "PLANNING",
    "RunFinishing",
    "races",
]

FINISHED = "inngest/function.finished"
FAILED = "inngest/function.failed"
CANCELLED = "inngest/function.cancelled"
INVOKED = "inngest/function.invoked"
INVOKE_TIMEOUT_ERROR = {
    "name": "InngestInvokeTimeoutError",
    "message": "Timed out waiting for invoked function to complete",
}
CANCELLED_ERROR = {"name": "Error", "message": "function cancelled"}
CANCELLED_BY_API = "cancelled through the API"
"""The reason a run cancelled with `POST /v1/runs/{id}/cancel` (or a test's `cancel`) shows."""


def _duration_text(seconds: float) -> str:
    return _durations.format_duration(datetime.timedelta(seconds=seconds))


PLANNING = frozenset(("StepPlanned", "Sleep", "WaitForEvent", "InvokeFunction"))
"""Ops that start a branch the run then waits for."""

OPEN = frozenset(("Planned", "Sleeping", "Waiting", "Invoking"))
"""The statuses of a step reported and not yet finished."""


def races(opts: Mapping[str, Any] | None) -> bool:
    """Whether an op was reported in a race group (`opts.parallelMode == "race"`)."""
    return bool(opts) and opts.get("parallelMode") == "race"  # type: ignore[union-attr]


def _opts(opts_json: str | None) -> dict[str, Any] | None:
    if not opts_json:
        return None
    opts = json.loads(opts_json)
    return opts if isinstance(opts, dict) else None


class RunFinishing(RunCommits):
    """Ends branches (a sleep, wait or invoke resolved) and runs, and the timers that do."""

    def _emit(self, event: dict[str, Any], now: float) -> None:
        """Store an internal event and act on it (`RunIngest` does): how a run tells others."""
        raise NotImplementedError

    # -- due work without a call ------------------------------------------------------------

    def wake(self, item: QueueItem) -> None:
        """A sleep is over: memo `null`, then carry on."""
        now = self._clock.now()
        with self.transaction():
            if self._store.dequeue(item.id):
                self._finish_branch(item.run_id, item.step_id, "null", now)

    def expire(self, item: QueueItem) -> None:
        """A wait, invoke or cancellation window ran out."""
        now = self._clock.now()
        with self.transaction():
            if not self._store.dequeue(item.id) or item.ref is None:
                return
            pause = self._store.get_pause(item.ref)
            if pause is None:
                return
            if pause.kind == "wait":
                self._resolve(pause, "null", now)
            elif pause.kind == "invoke":
                self._reject(pause, INVOKE_TIMEOUT_ERROR, now)
            else:  # a cancellation window: nothing waits on it
                self._store.delete_pause(pause.id)

    def time_out(self, item: QueueItem) -> None:
        """`timeouts.start` or `timeouts.finish` ran out: cancel the run if it is still at it."""
        now = self._clock.now()
        with self.transaction():
            if not self._store.dequeue(item.id):
                return
            run = self._store.get_run(item.run_id)
            if run is None or run.status in RunStatus.FINAL:
                return
            function = self._registry.get(run.function_id)
            flow = function.flow if function is not None else NO_FLOW
            if item.step_id == "start":
                if run.status != RunStatus.QUEUED:
                    return
                limit = flow.start_timeout
                reason = "timeouts.start: not started within"
            else:
                limit = flow.finish_timeout
                reason = "timeouts.finish: not finished within"
            detail = f" {_duration_text(limit)}" if limit else ""
            self.finish_run(run, RunStatus.CANCELLED, now, reason=reason + detail)

    def _fail_invoker(self, correlation_id: str, message: str, now: float) -> None:
        pause = self._store.pause_for_correlation(correlation_id)
        if pause is not None:
            self._reject(pause, error_object("Error", message), now)

    # -- finishing --------------------------------------------------------------------------

    def _resolve(
        self, pause: PauseRecord, memo_json: str, now: float, error_json: str | None = None
    ) -> bool:
        """Drop `pause` and finish the branch it held with `memo_json` (see `_finish_branch`);
        False if another resolved it first."""
        if not self._store.delete_pause(pause.id):
            return False
        self._finish_branch(pause.run_id, pause.step_id, memo_json, now, error_json)
        return True

    def _reject(self, pause: PauseRecord, error: Any, now: float) -> bool:
        """`_resolve` for an invoke that failed (the callee failed, was cancelled or timed
        out): the step is Failed with `error`, memoised as `{"error": ...}` for the app to
        raise."""
        return self._resolve(pause, canonical({"error": error}), now, canonical(error))

    def _finish_branch(
        self, run_id: str, step_id: str, memo_json: str, now: float, error_json: str | None = None
    ) -> None:
        """A sleep, wait or invoke resolved: memoise it and re-discover once all branches are in.

        With `error_json` the step failed (an invoke): it is recorded as Failed with it.
        """
        run = self._store.get_run(run_id)
        if run is None or run.status in RunStatus.FINAL:
            return
        step = self._store.get_step(run_id, step_id)
        self._store.memoise_step(
            run_id,
            step_id,
            kind=step.kind if step else "Unknown",
            display_name=step.display_name if step else "",
            status="Completed" if error_json is None else "Failed",
            memo_json=memo_json,
            error_json=error_json,
            started_at=step.started_at if step and step.started_at else now,
            now=now,
        )
        if step is not None and races(_opts(step.opts_json)):
            # Race mode: a member's end asks for a discovery at once, whoever else is out.
            outstanding = run.outstanding
            self._enqueue(run_id, "call", DISCOVERY, 0, now)
            force_plan = outstanding > 0 or self._race_open(run_id)
            self._store.update_progress(
                run_id, outstanding=outstanding, force_plan=force_plan, version=run.version
            )
            return
        outstanding = max(run.outstanding - 1, 0)
        force_plan = run.force_plan
        if outstanding == 0:
            self._enqueue(run_id, "call", DISCOVERY, 0, now)
            force_plan = force_plan and self._race_open(run_id)
        self._store.update_progress(
            run_id, outstanding=outstanding, force_plan=force_plan, version=run.version
        )

    # -- race mode (parallelMode "race", PROTOCOL §7.5) ---------------------------------------

    def _is_race(self, run_id: str, step_id: str) -> bool:
        step = self._store.get_step(run_id, step_id)
        return step is not None and races(_opts(step.opts_json))

    def _race_open(self, run_id: str) -> bool:
        """Whether a race member of the run is still under way (discoveries then plan, never
        run a step inline: two discoveries may be out at once)."""
        return any(
            step.position is None and step.status in OPEN and races(_opts(step.opts_json))
            for step in self._store.list_steps(run_id)
        )

    def _already_reported(self, run_id: str, step_id: str) -> bool:
        step = self._store.get_step(run_id, step_id)
        return step is not None and (step.position is not None or step.status in OPEN)

    def cancel_run(self, run_id: str, now: float, reason: str = "cancelled") -> None:
        run = self._store.get_run(run_id)
        if run is not None and run.status not in RunStatus.FINAL:
            self.finish_run(run, RunStatus.CANCELLED, now, reason=reason)

    def finish_run(
        self,
        run: RunRecord,
        status: str,
        now: float,
        *,
        output_json: str | None = None,
        error_json: str | None = None,
        reason: str | None = None,
        failure: str | None = None,
    ) -> None:
        """End a run, drop its pending work, and emit the internal events of §8.6.

        The run keeps `error_json` as its error (the app's error object as sent); the events
        carry it in Inngest's shape (`event_error`), `failure` saying what went wrong with the
        call that failed it.
        """
        self._store.finish_run(run.run_id, status, now, output_json, error_json, reason)
        self._store.clear_run_work(run.run_id)
        # What the run left open (a sleep, a wait, an invoke, a planned step) ends with it.
        self._store.end_open_steps(run.run_id, RunStatus.CANCELLED, now)
        self._ended.append(run.run_id)
        detail = ""
        if error_json is not None:
            detail = f": {json.loads(error_json).get('message', '')}"
        elif reason is not None:
            detail = f" ({reason})"
        started = run.started_at or run.queued_at
        self._log_state(run.run_id, run.function_id, status, f" in {now - started:.3f}s{detail}")
        events = run.events
        data: dict[str, Any] = {
            "function_id": run.function_id,
            "run_id": run.run_id,
            "event": events[0] if events else {},
            "events": events,
            "_inngest": {"status": status},
        }
        if run.correlation_id:
            data["correlation_id"] = run.correlation_id
        if status == RunStatus.COMPLETED:
            data["result"] = json.loads(output_json) if output_json is not None else None
        if error_json is not None:
            error = json.loads(error_json)
            data["error"] = event_error(error if isinstance(error, dict) else {}, failure)
        elif status == RunStatus.CANCELLED:
            # What Inngest sends, so that an invoking run raises instead of getting null.
            data["error"] = dict(CANCELLED_ERROR)
        internal: list[dict[str, Any]] = []
        if status == RunStatus.FAILED:
            internal.append({"name": FAILED, "id": run.run_id, "data": dict(data)})
        elif status == RunStatus.CANCELLED:
            internal.append({"name": CANCELLED, "id": run.run_id, "data": dict(data)})
        internal.append({"name": FINISHED, "data": data})
        for event in internal:
            self._emit(event, now)
