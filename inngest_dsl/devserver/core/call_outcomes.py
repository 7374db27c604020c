"""Call outcomes (PROTOCOL.md §8.3-8.4): what a call to the app came to, and what follows.

A completed run ends; a failed call is retried with backoff or fails the run; each op the app
reported memoises a step, plans one, sleeps, arms a wait, or invokes another function.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from inngest_dsl.devserver.core import protocol
from inngest_dsl.devserver.core.admission import DISCOVERY, ONE_YEAR, new_id
from inngest_dsl.devserver.core.finishing import INVOKED, PLANNING, races
from inngest_dsl.devserver.core.functions import FunctionInfo
from inngest_dsl.devserver.core.ingest import RunIngest
from inngest_dsl.devserver.core.matching import ExpressionError, check_expression
from inngest_dsl.devserver.core.pause_index import pause_key
from inngest_dsl.devserver.core.protocol import CallOutcome, Op, canonical, error_object
from inngest_dsl.devserver.store.records import QueueItem, RunRecord, RunStatus

__all__ = ["CallOutcomes"]

class CallOutcomes(RunIngest):
    """Records what each call to the app came to and schedules what follows."""

    # -- calls ------------------------------------------------------------------------------

    def mark_running(self, run: RunRecord, function: FunctionInfo | None = None) -> None:
        with self.transaction():
            now = self._clock.now()
            self._store.mark_running(run.run_id, now)
            self._log_state(run.run_id, run.function_id, RunStatus.RUNNING)
            finish = function.flow.finish_timeout if function is not None else None
            if finish is not None:
                self._enqueue(run.run_id, "timeout", "finish", 0, now + finish)

    def apply_call(
        self, item: QueueItem, function: FunctionInfo, outcome: CallOutcome, started_at: float
    ) -> None:
        """Record what a call came to and schedule what follows (§8 steps 3-4)."""
        now = self._clock.now()
        with self.transaction():
            if not self._store.dequeue(item.id):
                return  # the run ended while the call was in flight
            run = self._store.get_run(item.run_id)
            if run is None or run.status in RunStatus.FINAL:
                return
            version = outcome.version if outcome.version is not None else run.version
            if outcome.completed:
                self.finish_run(run, RunStatus.COMPLETED, now, output_json=outcome.output_json)
            elif outcome.ops is not None:
                self._apply_ops(run, item, function, outcome, started_at, now, version)
            else:
                self._apply_failure(run, item, function, outcome, started_at, now, version)

    def _retry_due(self, attempt: int, retry_at: float | None, now: float) -> float:
        if retry_at is not None:
            return retry_at
        return now + protocol.backoff_delay(attempt, self._retry_interval)

    def _apply_failure(
        self,
        run: RunRecord,
        item: QueueItem,
        function: FunctionInfo,
        outcome: CallOutcome,
        started_at: float,
        now: float,
        version: int,
    ) -> None:
        error = outcome.error or error_object("Error", "the call failed")
        # The step whose error failed the call: the one it targeted, or the one the app names
        # (a step run inline in a discovery call that raised `NonRetriableError`).
        step_id, name = outcome.failed_step or (item.step_id, "")
        if outcome.retryable and item.attempt + 1 < function.max_attempts:
            if step_id != DISCOVERY:
                self._record_attempt(run, step_id, "Run", name, error, started_at)
            due = self._retry_due(item.attempt, outcome.retry_at, now)
            self._enqueue(run.run_id, "call", item.step_id, item.attempt + 1, due)
            self._store.update_progress(
                run.run_id, outstanding=run.outstanding, force_plan=run.force_plan, version=version
            )
            self._logs.append(
                f"run {run.run_id} {run.function_id}: attempt {item.attempt + 1} failed "
                f"({error.get('message', '')}); retrying in {max(due - now, 0):.2f}s"
            )
            return
        if step_id != DISCOVERY:
            self._memoise_error(run, step_id, "Run", name, error, started_at, now)
        self.finish_run(
            run, RunStatus.FAILED, now, error_json=canonical(error), failure=outcome.failure
        )

    def _apply_ops(
        self,
        run: RunRecord,
        item: QueueItem,
        function: FunctionInfo,
        outcome: CallOutcome,
        started_at: float,
        now: float,
        version: int,
    ) -> None:
        ops = [op for op in outcome.ops or () if op.op != "None"]
        # Waits first, so that an event sent by a sibling op cannot slip past them.
        ops.sort(key=lambda op: op.op != "WaitForEvent")
        force_plan = run.force_plan or len(ops) > 1
        new_branches = 0
        progressed = False
        retry_attempt: int | None = None
        retry_due = now
        for op in ops:
            kind = protocol.STEP_KINDS.get(op.op, op.op)
            if (
                op.op in PLANNING
                and run.force_plan
                and self._already_reported(run.run_id, op.id)
            ):
                continue  # a discovery while a race is on reports it again: it is under way
            # A race member is not awaited (not outstanding); its end asks for a discovery.
            awaited_before = new_branches if op.op in PLANNING and races(op.opts) else None
            if op.op in ("StepRun", "Step"):
                memo = canonical(op.data if op.op == "Step" else {"data": op.data})
                self._store.memoise_step(
                    run.run_id,
                    op.id,
                    kind=kind,
                    display_name=op.display_name,
                    status="Completed",
                    memo_json=memo,
                    error_json=None,
                    started_at=started_at,
                    now=now,
                )
                progressed = True
            elif op.op == "StepError" and (
                not outcome.no_retry and item.attempt + 1 < function.max_attempts
            ):
                error = op.error or error_object("Error", "step failed")
                self._record_attempt(run, op.id, kind, op.display_name, error, started_at)
                retry_attempt = item.attempt + 1
                retry_due = self._retry_due(item.attempt, outcome.retry_at, now)
            elif op.op in ("StepError", "StepFailed"):
                error = op.error or error_object("Error", "step failed")
                self._memoise_error(run, op.id, kind, op.display_name, error, started_at, now)
                progressed = True
            elif op.op == "StepPlanned":
                self._open(run, op, kind, "Planned", now)
                self._enqueue(run.run_id, "call", op.id, 0, now)
                new_branches += 1
            elif op.op == "Sleep":
                value = str(op.opts.get("duration") or op.name or "")
                try:
                    wake_at = protocol.deadline(value, now)
                except ValueError as exc:
                    self._fail_bad_op(run, op, str(exc), now)
                    return
                self._open(run, op, kind, "Sleeping", now)
                self._enqueue(run.run_id, "wake", op.id, 0, max(wake_at, now))
                new_branches += 1
            elif op.op == "WaitForEvent":
                if not self._arm_wait(run, op, now):
                    return
                new_branches += 1
            elif op.op == "InvokeFunction":
                if self._invoke(run, op, now):
                    new_branches += 1
                else:
                    progressed = True
            elif op.op == "RunComplete":
                self.finish_run(run, RunStatus.COMPLETED, now, output_json=canonical(op.data))
                return
            elif op.op == "DiscoveryRequest":
                progressed = True
            else:
                self._fail_bad_op(run, op, f"the dev server does not support {op.op}", now)
                return
            if awaited_before is not None:
                new_branches = awaited_before
        outstanding = run.outstanding
        if retry_attempt is not None:
            self._enqueue(run.run_id, "call", item.step_id, retry_attempt, retry_due)
            outstanding += new_branches
        elif item.step_id != DISCOVERY and self._is_race(run.run_id, item.step_id):
            # Race mode: a member's end asks for a discovery at once, whoever else is out.
            outstanding += new_branches
            self._enqueue(run.run_id, "call", DISCOVERY, 0, now)
            force_plan = outstanding > 0 or self._race_open(run.run_id)
        else:
            finished_branch = item.step_id != DISCOVERY
            if finished_branch:
                outstanding = max(outstanding - 1, 0)
            outstanding += new_branches
            if new_branches == 0 and outstanding == 0 and (progressed or finished_branch):
                self._enqueue(run.run_id, "call", DISCOVERY, 0, now)
                force_plan = force_plan and self._race_open(run.run_id)
        if (outstanding, force_plan, version) != (run.outstanding, run.force_plan, run.version):
            self._store.update_progress(
                run.run_id, outstanding=outstanding, force_plan=force_plan, version=version
            )

    def _record_attempt(
        self, run: RunRecord, step_id: str, kind: str, name: str, error: Any, started_at: float
    ) -> None:
        """A step's attempt failed with `error` and will be retried."""
        self._store.record_attempt(
            run.run_id,
            step_id,
            kind=kind,
            display_name=name,
            error_json=canonical(error),
            started_at=started_at,
        )

    def _memoise_error(
        self,
        run: RunRecord,
        step_id: str,
        kind: str,
        name: str,
        error: Any,
        started_at: float,
        now: float,
    ) -> None:
        """A step failed for good: Failed with `error`, memoised as `{"error": ...}` for the
        app to raise."""
        self._store.memoise_step(
            run.run_id,
            step_id,
            kind=kind,
            display_name=name,
            status="Failed",
            memo_json=canonical({"error": error}),
            error_json=canonical(error),
            started_at=started_at,
            now=now,
        )

    def _open(self, run: RunRecord, op: Op, kind: str, status: str, now: float) -> None:
        self._store.open_step(
            run.run_id,
            op.id,
            kind=kind,
            display_name=op.display_name,
            status=status,
            opts_json=canonical(op.opts) if op.opts else None,
            now=now,
        )

    def _fail_bad_op(self, run: RunRecord, op: Op, problem: str, now: float) -> None:
        error = error_object("Error", f"step {op.display_name or op.id!r} ({op.op}): {problem}")
        self.finish_run(run, RunStatus.FAILED, now, error_json=canonical(error))

    def _arm_wait(self, run: RunRecord, op: Op, now: float) -> bool:
        event_name = str(op.opts.get("event") or op.name or "")
        expression = op.opts.get("if") or None
        timeout = str(op.opts.get("timeout") or "")
        try:
            expires = protocol.deadline(timeout, now) if timeout else now
        except ValueError as exc:
            self._fail_bad_op(run, op, str(exc), now)
            return False
        if not event_name:
            self._fail_bad_op(run, op, "no event name to wait for", now)
            return False
        if expression is not None:
            try:
                check_expression(str(expression))
            except ExpressionError as exc:
                self._fail_bad_op(run, op, str(exc), now)
                return False
        self._open(run, op, "WaitForEvent", "Waiting", now)
        expression = str(expression) if expression is not None else None
        trigger_json = protocol.first_event_json(run.events_json)
        pause = self._store.insert_pause(
            run.run_id,
            op.id,
            "wait",
            event_name=event_name,
            expression=expression,
            correlation_id=None,
            expires=expires,
            trigger_json=trigger_json,
            match=pause_key(expression, trigger_json),
        )
        self._enqueue(run.run_id, "expire", op.id, 0, expires, pause.id)
        return True

    def _invoke(self, run: RunRecord, op: Op, now: float) -> bool:
        """Start the invoked run; False if it could not start (the step fails at once)."""
        target_id = str(op.opts.get("function_id") or "")
        payload = op.opts.get("payload") or {}
        target = self._registry.get(target_id)
        self._open(run, op, "InvokeFunction", "Invoking", now)
        if target is None:
            error = error_object("Error", f"cannot invoke {target_id!r}: no such function")
            self._memoise_error(run, op.id, "InvokeFunction", op.display_name, error, now, now)
            return False
        timeout = op.opts.get("timeout")
        expires = now + ONE_YEAR
        if timeout:
            with contextlib.suppress(ValueError):
                expires = protocol.deadline(str(timeout), now)
        correlation_id = f"{run.run_id}.{op.id}"
        pause = self._store.insert_pause(
            run.run_id,
            op.id,
            "invoke",
            event_name=None,
            expression=None,
            correlation_id=correlation_id,
            expires=expires,
            trigger_json="{}",
        )
        self._enqueue(run.run_id, "expire", op.id, 0, expires, pause.id)
        data = dict(payload.get("data") or {}) if isinstance(payload, Mapping) else {}
        data["_inngest"] = {
            "fn_id": target_id,
            "correlation_id": correlation_id,
            "expire": int(expires * 1000),
            "name": op.display_name,
            "source_fn_id": run.function_id,
        }
        event: dict[str, Any] = {"name": INVOKED, "data": data}
        if isinstance(payload, Mapping) and payload.get("v"):
            event["v"] = payload["v"]
        event["id"] = new_id()
        self._emit(event, now)
        return True
