"""Run one function in-process, on the dev server's own engine in a `TestEnvironment`.

The engine applies every rule of PROTOCOL §8 (memoising, retries and their backoff, sleeps,
parallel fan-out, waits, invokes); this module only starts the run, watches each call's
answer to keep the run's trace, resumes the waits the test scripted, stands mocked invokes
in for the real ones, and moves virtual time on until the run ends. Events are sent to a
`CapturingClient`. Nothing sleeps, nothing touches the network.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from inngest_dsl.client import refuse_running_loop
from inngest_dsl.devserver.core.protocol import canonical
from inngest_dsl.devserver.store.records import RunRecord
from inngest_dsl.devserver.store.records import RunStatus as RunRecordStatus
from inngest_dsl.engine._plan import plan_for
from inngest_dsl.serve._call import Answer
from inngest_dsl.spec._event import Event
from inngest_dsl.spec._function import FunctionSpec, spec_of
from inngest_dsl.testing._client import CapturingClient
from inngest_dsl.testing._environment import TestEnvironment
from inngest_dsl.testing._in_process import CallHooks
from inngest_dsl.testing._instrument import instrumented
from inngest_dsl.testing._result import RunResult
from inngest_dsl.testing._run_answers import RunInProgress
from inngest_dsl.testing._run_inputs import (
    EventLike,
    RunFunctionError,
    check_mocks,
    check_trigger,
    check_waits,
    default_event,
    start_time,
    to_event,
)
from inngest_dsl.wire._calls import CallRequest

__all__ = ["DEFAULT_MAX_CALLS", "run_function", "run_function_sync"]

DEFAULT_MAX_CALLS = 1000
"""Calls to the engine after which a run is declared runaway."""


# ---------------------------------------------------------------------------------------------
# Driving the engine


def _callees(
    functions: Sequence[type | FunctionSpec], app_id: str
) -> dict[str, FunctionSpec]:
    specs = [f if isinstance(f, FunctionSpec) else spec_of(f) for f in functions]
    return {spec.composite_id(app_id): spec for spec in specs}


class _Hooks:
    """Routes the calls of the run under test to its `RunInProgress`; counts them; stops a
    runaway."""

    def __init__(self, run: RunInProgress, max_calls: int) -> None:
        self.run = run
        self.run_id: str | None = None
        self.max_calls = max_calls
        self.calls = 0
        self.problem: RunFunctionError | None = None
        # Functions the run invokes join the app before the engine starts their runs.
        self.add_functions: Callable[[Sequence[FunctionSpec]], None] = lambda specs: None

    def observer(self, call: CallRequest, function_id: str) -> Any:
        if call.ctx.run_id != self.run_id:
            return None
        self.run.call_started()
        return self.run

    def answered(self, call: CallRequest, function_id: str, answer: Answer) -> Answer:
        if call.ctx.run_id != self.run_id or self.problem is not None:
            return answer
        self.calls += 1
        try:
            if self.calls > self.max_calls:
                summary = "\n".join(f"  {op.describe()}" for op in self.run.trace()[-10:])
                raise RunFunctionError(
                    f"run of {self.run.spec.id!r} did not finish within {self.max_calls} calls "
                    f"to the engine (pass max_calls= to allow more); the last blocks:\n{summary}"
                )
            limit = call.ctx.max_attempts
            last = limit is not None and call.ctx.attempt + 1 >= limit
            answer = self.run.answered(answer, last)
            if self.run.wanted_callees:
                self.add_functions(self.run.wanted_callees)
                self.run.wanted_callees.clear()
        except RunFunctionError as exc:
            # Stop the run where it is; `run_function` raises this once the engine is idle.
            self.problem = exc
            return Answer(400, {"name": "RunFunctionError", "message": str(exc)},
                          {"X-Inngest-No-Retry": "true"})
        return answer


class _RunEnvironment(TestEnvironment):
    """The engine for one `run_function`: the caller's client, the run's hooks, no extras."""

    def __init__(
        self,
        specs: Sequence[FunctionSpec],
        *,
        now: _dt.datetime,
        client: CapturingClient,
        hooks: _Hooks,
        attempts: Mapping[str, int],
    ) -> None:
        self._given_client = client
        self._run_hooks = hooks
        super().__init__(specs, now=now, app_id=client.app_id)
        self._attempts = dict(attempts)

    def _make_client(self) -> CapturingClient:
        return self._given_client  # it records sends; they trigger nothing here

    def _make_hooks(self, steps: Mapping[Any, Any]) -> CallHooks:
        return self._run_hooks

    def _start_engine(self) -> None:
        # No cron: a cron function's schedule would start runs other than the one under test.
        self.engine.executor.start()

    def _with_callees(self, specs: list[FunctionSpec]) -> tuple[FunctionSpec, ...]:
        return tuple(specs)  # invoked functions join when the run reaches them

    def add_functions(self, specs: Sequence[FunctionSpec]) -> None:
        new = [spec for spec in specs if spec.id not in {s.id for s in self._specs}]
        if new:
            self._specs = (*self._specs, *new)
            self._register(self._specs)


async def run_function(
    function: type | FunctionSpec,
    event: EventLike | None = None,
    *,
    events: Sequence[EventLike] | None = None,
    steps: Mapping[Any, Any] | None = None,
    waits: Mapping[Any, EventLike | None] | None = None,
    now: _dt.datetime | str | None = None,
    max_attempts: int | None = None,
    max_calls: int = DEFAULT_MAX_CALLS,
    client: CapturingClient | None = None,
    functions: Sequence[type | FunctionSpec] = (),
) -> RunResult:
    """Run `function` to its end in-process, on the dev server's engine and virtual time.

    `event` triggers the run (an `Event`, a mapping or an `@event_type` instance; by default an
    empty event of the function's trigger); `events` is the batch, if several. `steps` mocks
    blocks by id (or by method): the body
    is not called and the value is the block's result (an exception instance is raised instead);
    it also mocks `ctx.step.run` steps by their id, and gives an `invoke`'s result (else the
    invoked function runs in-process: its class was given, or it is one of `functions`). `waits`
    scripts each `wait_for_event` (declared or `ctx.step`) by id (or by the handle the class
    body got): the event that arrives, or `None` for a timeout. Both are checked before any
    block runs: an id close to a declared one is taken for a misspelling (`ctx_step(id)` keys a
    `ctx.step` id that only looks like one), and any other that is no declared block must be met
    by a `ctx.step` call before the run ends. An event none of the function's triggers would
    start it for (by name, or by its `expression=`) is an error. Sleeps, timeouts and retry
    backoffs take no real time: `now` sets the virtual start. `max_attempts` defaults to the
    function's `retries + 1`. Events sent go to `client` (a fresh `CapturingClient` by default)
    and show in `sent_events`. The run starts at once, whatever the function's flow control; its
    retries, sleeps, waits and invokes follow the dev server's rules exactly. Returns a
    `RunResult`; raises `RunFunctionError` when the run cannot be driven as asked.
    """
    spec = function if isinstance(function, FunctionSpec) else spec_of(function)
    if max_attempts is None:
        max_attempts = spec.max_attempts
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise RunFunctionError(f"max_attempts must be a whole number >= 1, got {max_attempts!r}")
    if isinstance(max_calls, bool) or not isinstance(max_calls, int) or max_calls < 1:
        raise RunFunctionError(f"max_calls must be a whole number >= 1, got {max_calls!r}")
    if client is None:
        client = CapturingClient()
    elif not isinstance(client, CapturingClient):
        raise RunFunctionError(
            f"client= must be a CapturingClient (the kit never sends events for real), got "
            f"{type(client).__name__}"
        )
    started_at = start_time(now)
    batch = tuple(to_event(e, f"events[{i}]") for i, e in enumerate(events or ()))
    given = (to_event(event, "event"),) if event is not None else ()
    check_trigger(spec, (*given, *batch))  # the default event is the function's own trigger's
    trigger = given[0] if given else batch[0] if batch else default_event(spec, started_at)
    plan = plan_for(instrumented(spec))
    environment: _RunEnvironment | None = None

    def virtual_now() -> _dt.datetime:
        return environment.now if environment is not None else started_at

    run = RunInProgress(
        spec,
        plan,
        check_mocks(spec, steps),
        check_waits(spec, waits),
        trigger,
        virtual_now,
        _callees(functions, client.app_id),
        client.app_id,
    )
    hooks = _Hooks(run, max_calls)
    environment = _RunEnvironment(
        [spec],
        now=started_at,
        client=client,
        hooks=hooks,
        attempts={spec.composite_id(client.app_id): max_attempts},
    )
    hooks.add_functions = environment.add_functions
    sent_before = len(client.sent)
    async with environment:
        record = await _drive(environment, run, hooks, batch or (trigger,))
        return run.result(
            record, started_at, hooks.calls, tuple(client.sent[sent_before:])
        )


async def _drive(
    environment: _RunEnvironment, run: RunInProgress, hooks: _Hooks, batch: tuple[Event, ...]
) -> RunRecord:
    """Start the run, then move virtual time on until it ends, resolving what was scripted."""
    engine, store, clock = environment.engine, environment.store, environment.clock
    function = engine.registry.get(run.spec.composite_id(environment.app_id))
    assert function is not None
    run_id = engine.runs.start_run(function, [event.to_wire() for event in batch])
    if run_id is None:
        raise RunFunctionError(f"function {run.spec.id!r} did not start (a singleton skipped it)")
    hooks.run_id = run_id
    while True:
        await environment.settle()
        if hooks.problem is not None:
            raise hooks.problem
        resolved = _resolve_scripted(environment, run, run_id)
        record = store.get_run(run_id)
        assert record is not None
        if record.status in RunRecordStatus.FINAL:
            return record
        if resolved:
            continue
        due = clock.next_at()
        if due is None:
            raise RunFunctionError(
                f"the run of {run.spec.id!r} can go no further: nothing is scheduled "
                f"(status {record.status}{f', {record.reason}' if record.reason else ''})"
            )
        clock.move_to(due)


def _resolve_scripted(environment: _RunEnvironment, run: RunInProgress, run_id: str) -> bool:
    """Resume armed waits and invokes whose outcome the test gave; whether any was."""
    resolved = False
    for pause in environment.store.pauses_of_run(run_id):
        memo = run.scripted.pop(pause.step_id, None)
        if memo is not None:
            environment.engine.runs.resolve_pause(pause, canonical(memo))
            resolved = True
    for step_id in list(run.invokes):
        step = environment.store.get_step(run_id, step_id)
        if step is not None and step.status in ("Completed", "Failed"):
            at = step.ended_at if step.ended_at is not None else environment.clock.now()
            run.invoke_finished(
                step_id, step.memo, _dt.datetime.fromtimestamp(at, _dt.timezone.utc)
            )
    return resolved


def run_function_sync(
    function: type | FunctionSpec,
    event: EventLike | None = None,
    *,
    events: Sequence[EventLike] | None = None,
    steps: Mapping[Any, Any] | None = None,
    waits: Mapping[Any, EventLike | None] | None = None,
    now: _dt.datetime | str | None = None,
    max_attempts: int | None = None,
    max_calls: int = DEFAULT_MAX_CALLS,
    client: CapturingClient | None = None,
    functions: Sequence[type | FunctionSpec] = (),
) -> RunResult:
    """`run_function` for plain (not async) tests; refuses to run inside an event loop."""
    refuse_running_loop(
        "run_function_sync() was called inside a running event loop (an async test?); "
        "use `await run_function(...)` there"
    )
    return asyncio.run(
        run_function(
            function,
            event,
            events=events,
            steps=steps,
            waits=waits,
            now=now,
            max_attempts=max_attempts,
            max_calls=max_calls,
            client=client,
            functions=functions,
        )
    )
