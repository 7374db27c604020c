"""Run state transitions (PROTOCOL.md §8): every change a run can go through, as one place.

Each public method runs inside `transaction()`, so an event and the runs it starts, or a call's
outcome and the work it schedules, are committed together; a process killed between two
transactions loses nothing and repeats nothing that was memoised. New due work is handed to
the scheduler only after its transaction committed. Whether an event's run starts at all is
`admission.py`'s decision, taken inside these transactions.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from inngest_dsl.devserver import protocol
from inngest_dsl.devserver.admission import DISCOVERY, ONE_YEAR, Admission, RunHooks, new_id
from inngest_dsl.devserver.clock import Clock
from inngest_dsl.devserver.flow import NO_FLOW
from inngest_dsl.devserver.functions import FunctionInfo, Registry
from inngest_dsl.devserver.holds import Trigger
from inngest_dsl.devserver.matching import ExpressionError, check_expression, evaluate
from inngest_dsl.devserver.protocol import CallOutcome, Op, canonical, error_object
from inngest_dsl.devserver.records import PauseRecord, QueueItem, RunRecord, RunStatus
from inngest_dsl.devserver.store import Store
from inngest_dsl.spec import _durations

__all__ = ["DISCOVERY", "Runs", "new_id"]

log = logging.getLogger("inngest_dsl.devserver")


FINISHED = "inngest/function.finished"
FAILED = "inngest/function.failed"
CANCELLED = "inngest/function.cancelled"
INVOKED = "inngest/function.invoked"
INVOKE_TIMEOUT_ERROR = {
    "name": "InngestInvokeTimeoutError",
    "message": "Timed out waiting for invoked function to complete",
}
CANCELLED_ERROR = {"name": "Error", "message": "function cancelled"}

def _duration_text(seconds: float) -> str:
    return _durations.format_duration(datetime.timedelta(seconds=seconds))


class Runs:
    """Starts, advances and finishes runs against the store."""

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
        self.admission = Admission(
            store,
            registry,
            RunHooks(
                enqueue=self._enqueue,
                log_state=self._log_state,
                cancel_run=self.cancel_run,
                fail_invoker=self._fail_invoker,
                started_ungated=self._started_ungated_note,
                isolated=self._isolated,
            ),
        )

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
        outer = not self._store._in_tx
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

    def _fail_invoker(self, correlation_id: str, message: str, now: float) -> None:
        pause = self._store.pause_for_correlation(correlation_id)
        if pause is not None and self._store.delete_pause(pause.id):
            memo = canonical({"error": error_object("Error", message)})
            self._finish_branch(pause.run_id, pause.step_id, memo, now)

    def _log_state(self, run_id: str, function_id: str, status: str, detail: str = "") -> None:
        self._logs.append(f"run {run_id} {function_id}: {status}{detail}")

    # -- events -----------------------------------------------------------------------------

    def ingest(self, events: Sequence[dict[str, Any]], *, internal: bool = False) -> list[str]:
        """Store normalised events, start the runs they trigger and resume matching pauses.

        Returns the internal ids. `internal` events (`inngest/...`) only come from here.
        """
        now = self._clock.now()
        ids = []
        with self.transaction():
            for event in events:
                ids.append(self._ingest_one(event, now, internal=internal))
        return ids

    async def ingest_grouped(
        self, events: Sequence[dict[str, Any]], ids: Sequence[str] | None = None
    ) -> list[str]:
        """Like `ingest`, but commits together with other requests arriving meanwhile.

        Events of concurrent requests share one transaction (a group commit); each caller
        still gets its ids only after the commit. Given `ids` (from the sender's seed), an
        event already stored under its id is not stored or acted on again.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[str]] = loop.create_future()
        self._ingest_batch.append((events, ids, future))
        if len(self._ingest_batch) == 1:
            loop.call_soon(self._flush_ingest)
        return await future

    def _flush_ingest(self) -> None:
        batch, self._ingest_batch = self._ingest_batch, []
        try:
            now = self._clock.now()
            with self.transaction():
                results = [
                    [
                        self._ingest_one(
                            event, now, internal=False, internal_id=ids[i] if ids else None
                        )
                        for i, event in enumerate(events)
                    ]
                    for events, ids, _ in batch
                ]
        except Exception as exc:
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, _, future), ids in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(ids)

    def _ingest_one(
        self,
        event: dict[str, Any],
        now: float,
        *,
        internal: bool,
        internal_id: str | None = None,
    ) -> str:
        if internal_id is None:
            internal_id = new_id()
        elif self._store.has_event(internal_id):
            return internal_id  # a retried send: this event is in already
        self._complete(event, internal_id, now)
        body_json = canonical(event)
        self._store.insert_event(
            internal_id, str(event["id"]), event["name"], body_json, int(event["ts"]), now
        )
        name = event["name"]
        trigger = (internal_id, event, body_json)
        if internal and name == INVOKED:
            self._start_invoked(trigger, now)
        else:
            for function_id in self._registry.triggers.match(event):
                function = self._registry.get(function_id)
                if function is not None:
                    self.admission.schedule(function, trigger, now)
        self._resume_pauses(event, body_json, now)
        return internal_id

    @staticmethod
    def _complete(event: dict[str, Any], internal_id: str, now: float) -> dict[str, Any]:
        """Fill in what a stored event must have: an id, a time, data and user."""
        if not event.get("id"):
            event["id"] = internal_id
        if event.get("ts") is None:
            event["ts"] = int(now * 1000)
        event.setdefault("data", {})
        event.setdefault("user", {})
        return event

    def ingest_for(self, function: FunctionInfo, event: dict[str, Any]) -> str | None:
        """Store an internal event and start a run of one function for it (cron)."""
        now = self._clock.now()
        with self.transaction():
            internal_id = new_id()
            body_json = canonical(event)
            self._store.insert_event(
                internal_id, str(event["id"]), event["name"], body_json, int(event["ts"]), now
            )
            return self.admission.schedule(function, (internal_id, event, body_json), now)

    def start_run(self, function: FunctionInfo, events: Sequence[dict[str, Any]]) -> str | None:
        """Store `events` and start one run of `function` for them, past flow control."""
        now = self._clock.now()
        with self.transaction():
            triggers: list[Trigger] = []
            for event in events:
                internal_id = new_id()
                event = self._complete(event, internal_id, now)
                body_json = canonical(event)
                self._store.insert_event(
                    internal_id, str(event["id"]), event["name"], body_json, int(event["ts"]), now
                )
                triggers.append((internal_id, event, body_json))
            return self.admission.start_now(function, triggers, now)

    def resolve_pause(self, pause: PauseRecord, memo_json: str) -> bool:
        """Resume a waiting or invoking step with `memo_json`, as a matching event or the
        invoked run's end would; False if it was resolved already."""
        now = self._clock.now()
        with self.transaction():
            if not self._store.delete_pause(pause.id):
                return False
            self._finish_branch(pause.run_id, pause.step_id, memo_json, now)
            return True

    def _start_invoked(self, trigger: Trigger, now: float) -> None:
        meta = (trigger[1].get("data") or {}).get("_inngest") or {}
        function = self._registry.get(str(meta.get("fn_id", "")))
        if function is not None:
            correlation_id = meta.get("correlation_id")
            self.admission.schedule(
                function, trigger, now, correlation_id=correlation_id, invoked=True
            )

    def fire_debounce(self, item: QueueItem) -> None:
        """A debounce timer is due: start its run (unless it was replaced meanwhile)."""
        now = self._clock.now()
        with self.transaction():
            if self._store.dequeue(item.id):
                self.admission.fire_debounce(item.run_id, now)

    def flush_batch(self, item: QueueItem) -> None:
        """A batch timer is due: start the batch's run with what it holds."""
        now = self._clock.now()
        with self.transaction():
            if self._store.dequeue(item.id):
                self.admission.flush_batch(item.run_id, now)

    def _resume_pauses(self, event: dict[str, Any], body_json: str, now: float) -> None:
        name = event["name"]
        if name == FINISHED:
            correlation = (event.get("data") or {}).get("correlation_id")
            if correlation:
                pause = self._store.pause_for_correlation(str(correlation))
                if pause is not None and self._store.delete_pause(pause.id):
                    data = event["data"]
                    if "error" in data:
                        memo = canonical({"error": data["error"]})
                    else:
                        memo = canonical({"data": data.get("result")})
                    self._finish_branch(pause.run_id, pause.step_id, memo, now)
        for pause in self._store.pauses_for_event(name):
            if not self._pause_matches(pause, event):
                continue
            if not self._store.delete_pause(pause.id):
                continue
            if pause.kind == "cancel":
                self.cancel_run(pause.run_id, now, f"cancelled by the event {name} ({event['id']})")
            else:
                self._finish_branch(pause.run_id, pause.step_id, body_json, now)

    @staticmethod
    def _pause_matches(pause: PauseRecord, event: Mapping[str, Any]) -> bool:
        if not pause.expression:
            return True
        return evaluate(pause.expression, {"event": json.loads(pause.trigger_json), "async": event})

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
            if pause is None or not self._store.delete_pause(pause.id):
                return
            if pause.kind == "wait":
                self._finish_branch(pause.run_id, pause.step_id, "null", now)
            elif pause.kind == "invoke":
                memo = canonical({"error": INVOKE_TIMEOUT_ERROR})
                self._finish_branch(pause.run_id, pause.step_id, memo, now)

    # -- calls ------------------------------------------------------------------------------

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
        if outcome.retryable and item.attempt + 1 < function.max_attempts:
            if item.step_id != DISCOVERY:
                self._store.record_attempt(
                    run.run_id,
                    item.step_id,
                    kind="Run",
                    display_name="",
                    error_json=canonical(error),
                    started_at=started_at,
                )
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
        self.finish_run(run, RunStatus.FAILED, now, error_json=canonical(error))

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
            if op.op in ("StepRun", "Step"):
                memo = canonical(op.data if op.op == "Step" else {"data": op.data})
                self._memoise(run, op, kind, "Completed", memo, None, started_at, now)
                progressed = True
            elif op.op == "StepError" and (
                not outcome.no_retry and item.attempt + 1 < function.max_attempts
            ):
                error_json = canonical(op.error or error_object("Error", "step failed"))
                self._store.record_attempt(
                    run.run_id,
                    op.id,
                    kind=kind,
                    display_name=op.display_name,
                    error_json=error_json,
                    started_at=started_at,
                )
                retry_attempt = item.attempt + 1
                retry_due = self._retry_due(item.attempt, outcome.retry_at, now)
            elif op.op in ("StepError", "StepFailed"):
                error = op.error or error_object("Error", "step failed")
                memo = canonical({"error": error})
                self._memoise(run, op, kind, "Failed", memo, canonical(error), started_at, now)
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
        outstanding = run.outstanding
        if retry_attempt is not None:
            self._enqueue(run.run_id, "call", item.step_id, retry_attempt, retry_due)
            outstanding += new_branches
        else:
            finished_branch = item.step_id != DISCOVERY
            if finished_branch:
                outstanding = max(outstanding - 1, 0)
            outstanding += new_branches
            if new_branches == 0 and outstanding == 0 and (progressed or finished_branch):
                self._enqueue(run.run_id, "call", DISCOVERY, 0, now)
                force_plan = False
        self._store.update_progress(
            run.run_id, outstanding=outstanding, force_plan=force_plan, version=version
        )

    def _memoise(
        self,
        run: RunRecord,
        op: Op,
        kind: str,
        status: str,
        memo_json: str,
        error_json: str | None,
        started_at: float,
        now: float,
    ) -> None:
        self._store.memoise_step(
            run.run_id,
            op.id,
            kind=kind,
            display_name=op.display_name,
            status=status,
            memo_json=memo_json,
            error_json=error_json,
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
        pause = self._store.insert_pause(
            run.run_id,
            op.id,
            "wait",
            event_name=event_name,
            expression=str(expression) if expression is not None else None,
            correlation_id=None,
            expires=expires,
            trigger_json=protocol.first_event_json(run.events_json),
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
            self._memoise(
                run,
                op,
                "InvokeFunction",
                "Failed",
                canonical({"error": error}),
                canonical(error),
                now,
                now,
            )
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
        self._ingest_one(event, now, internal=True)
        return True

    # -- finishing --------------------------------------------------------------------------

    def _finish_branch(self, run_id: str, step_id: str, memo_json: str, now: float) -> None:
        """A sleep, wait or invoke resolved: memoise it and re-discover once all branches are in."""
        run = self._store.get_run(run_id)
        if run is None or run.status in RunStatus.FINAL:
            return
        step = self._store.get_step(run_id, step_id)
        self._store.memoise_step(
            run_id,
            step_id,
            kind=step.kind if step else "Unknown",
            display_name=step.display_name if step else "",
            status="Completed",
            memo_json=memo_json,
            error_json=None,
            started_at=step.started_at if step and step.started_at else now,
            now=now,
        )
        outstanding = max(run.outstanding - 1, 0)
        force_plan = run.force_plan
        if outstanding == 0:
            self._enqueue(run_id, "call", DISCOVERY, 0, now)
            force_plan = False
        self._store.update_progress(
            run_id, outstanding=outstanding, force_plan=force_plan, version=run.version
        )

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
    ) -> None:
        """End a run, drop its pending work, and emit the internal events of §8.6."""
        self._store.finish_run(run.run_id, status, now, output_json, error_json, reason)
        self._store.clear_run_work(run.run_id)
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
            data["error"] = json.loads(error_json)
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
            self._ingest_one(event, now, internal=True)
