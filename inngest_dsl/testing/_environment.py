"""`TestEnvironment`: the dev server's run engine in memory, on virtual time, calling in-process.

The engine is the one `inngest-dsl dev` runs (runs, flow control, cron, waits, invokes,
cancellation, timeouts), on an in-memory store and a `VirtualClock`; calls go straight to the
functions through the same code that answers Inngest over HTTP, with no port and no network.
Time moves only when the test says so, and skips to the next timer when nothing else can
happen, so a week of sleeps, debounces and cron ticks takes milliseconds.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import inspect
import random
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from inngest_dsl.client import refuse_running_loop
from inngest_dsl.devserver.core import actions
from inngest_dsl.devserver.core.clock import VirtualClock
from inngest_dsl.devserver.core.engine import Engine
from inngest_dsl.devserver.core.events import EventValidationError, normalise_events
from inngest_dsl.devserver.core.functions import RegistrationError, validate_registration
from inngest_dsl.devserver.store import Store
from inngest_dsl.devserver.store.records import RunRecord, RunStatus
from inngest_dsl.devserver.store.shapes import run_json
from inngest_dsl.errors import InngestError
from inngest_dsl.serve._bodies import register_body
from inngest_dsl.serve._call import (
    served_functions,
)
from inngest_dsl.spec._event import Event, SendableEvents, to_events
from inngest_dsl.spec._function import FunctionSpec, RunOp, StepOp, spec_of
from inngest_dsl.spec._middleware import Middleware
from inngest_dsl.testing._client import CapturingClient
from inngest_dsl.testing._in_process import (
    AppCall,
    CallHooks,
    InProcessApp,
    InProcessTransport,
    MockHooks,
    StepMocks,
)
from inngest_dsl.testing._server_run import ServerRun
from inngest_dsl.testing._step_keys import CtxStep, method_id, unknown_id_problem
from inngest_dsl.testing._time import TestEnvironmentError, VirtualTime, start_instant

__all__ = ["TestEnvironment", "adds_steps"]


_FINAL = frozenset(RunStatus.FINAL)
_STATUSES = {
    name.lower(): name
    for name in (
        RunStatus.QUEUED,
        RunStatus.RUNNING,
        RunStatus.COMPLETED,
        RunStatus.FAILED,
        RunStatus.CANCELLED,
        RunStatus.SKIPPED,
    )
}


class _EnvironmentClient(CapturingClient):
    """The functions' client: records what they send, and delivers it to the environment."""

    def __init__(
        self, environment: TestEnvironment, app_id: str, middleware: Sequence[Middleware]
    ) -> None:
        super().__init__(app_id, middleware=middleware)
        self._environment = environment

    async def _ids_for(self, batch: list[Event]) -> list[str]:
        return await self._environment._deliver(batch)

    def send_sync(self, events: SendableEvents) -> list[str]:
        # A sync body runs in a worker thread; the engine lives on the environment's loop.
        loop = self._environment._loop
        if loop is None:
            raise RuntimeError("the test environment is not running")
        refuse_running_loop()
        if not loop.is_running():  # the test's own thread, between two sync calls
            return loop.run_until_complete(self.send(events))
        return asyncio.run_coroutine_threadsafe(self.send(events), loop).result()


def _spec(function: type | FunctionSpec) -> FunctionSpec:
    return function if isinstance(function, FunctionSpec) else spec_of(function)


def _mockable_ids(spec: FunctionSpec) -> set[str]:
    return {op.id for op in spec.ops if getattr(op, "body", None) is not None}


def adds_steps(spec: FunctionSpec) -> bool:
    """Whether a body may use `ctx.step` (only async run and step bodies can)."""
    return any(
        isinstance(op, (RunOp, StepOp)) and inspect.iscoroutinefunction(op.body)
        for op in spec.ops
    )


class TestEnvironment(VirtualTime):
    """The dev server's engine in memory on virtual time, calling `functions` in-process.

    ```python
    async with TestEnvironment([DebouncedSync], now="2026-01-01T00:00:00Z") as env:
        await env.send({"name": "shop/cart.updated", "data": {"cart": 1}})
        await env.advance("10m")          # everything due in between happens
        [run] = await env.runs(DebouncedSync)
    ```

    `functions` are classes (or specs) served by one app, `app_id`; their `@on_failure`
    handlers and the functions they invoke by class come along. `steps` mocks blocks and
    `ctx.step.run` steps by id in every function (the value is the result; an exception
    instance is raised instead). `now` is the virtual start (default: the real time now);
    `retry_interval` fixes the seconds between retries (default: the dev server's backoff);
    `call_timeout` is how many real seconds a call may take before it fails as timed out;
    `seed` seeds the random delays of cron triggers' `jitter` (`None`: a fresh seed each time);
    `middleware` is the client's, as `Inngest(..., middleware=[...])`: it runs around every
    call and every send (`env.client` is that client).
    """

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(
        self,
        functions: Iterable[type | FunctionSpec] = (),
        *,
        now: _dt.datetime | str | None = None,
        app_id: str = "test-app",
        steps: Mapping[Any, Any] | None = None,
        retry_interval: float | None = None,
        call_timeout: float = 60.0,
        seed: int | None = 0,
        middleware: Sequence[Middleware] = (),
    ) -> None:
        self._start = start_instant(now)
        self.app_id = app_id
        self._middleware = tuple(middleware)
        self.client = self._make_client()
        self._specs = self._with_callees([_spec(f) for f in functions])
        self._hooks = self._make_hooks(steps or {})
        self._attempts: dict[str, int] = {}
        self.clock = VirtualClock(self._start.timestamp())
        self.transport = InProcessTransport(self.clock, call_timeout)
        self.store = Store(":memory:")
        errors: list[BaseException] = []
        self.engine = Engine(
            self.store,
            self.transport,
            self.clock,
            retry_interval=retry_interval,
            on_error=errors.append,
            cron_random=random.Random(seed).random,
        )
        super().__init__(self.engine.executor, self.clock, errors)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False

    # -- set-up -------------------------------------------------------------------------------

    def _make_client(self) -> CapturingClient:
        return _EnvironmentClient(self, self.app_id, self._middleware)

    def _make_hooks(self, steps: Mapping[Any, Any]) -> CallHooks:
        return MockHooks(self._mocks(steps))

    def _with_callees(self, specs: list[FunctionSpec]) -> tuple[FunctionSpec, ...]:
        """`specs` and, transitively, the functions their `invoke` blocks name by class."""
        found: dict[str, FunctionSpec] = {}
        pending = list(specs)
        while pending:
            spec = pending.pop(0)
            if spec.id in found:
                continue
            found[spec.id] = spec
            for op in spec.ops:
                callee = getattr(op, "callee", None)
                if callee is not None:
                    pending.append(spec_of(callee))
        return tuple(found.values())

    def _mocks(self, steps: Mapping[Any, Any]) -> dict[str, StepMocks]:
        try:
            steps = {method_id(key, self._specs) or key: value for key, value in steps.items()}
        except ValueError as exc:
            raise TestEnvironmentError(f"steps= mocks {exc}") from None
        values = {getattr(key, "id", key): value for key, value in steps.items()}
        known = sorted(set().union(*(_mockable_ids(spec) for spec in self._specs)))
        dynamic = any(adds_steps(spec) for spec in self._specs)
        for key in steps:
            if isinstance(key, CtxStep) or getattr(key, "id", key) in known:
                continue
            problem = unknown_id_problem(
                "steps= mocks",
                getattr(key, "id", key),
                "a block with a body of any function here",
                known,
                "blocks that can be mocked",
                adds_steps=dynamic,
            )
            if problem is not None:
                raise TestEnvironmentError(problem)
        return {
            spec.composite_id(self.app_id): StepMocks(spec, values) for spec in self._specs
        } if values else {}

    def _register(self, specs: Sequence[FunctionSpec]) -> None:
        url = f"http://{self.app_id}.testing.invalid/api/inngest"
        served = served_functions(self.client, specs, url)
        self.transport.add(url, InProcessApp(served, self._hooks))
        body = register_body(self.client, specs, url)
        for config in body["functions"]:
            attempts = self._attempts.get(config["id"])
            if attempts is not None:
                for step in config["steps"].values():
                    step["retries"] = {"attempts": attempts - 1}
        self.register_app(body)

    def register_app(self, body: Mapping[str, Any]) -> bool:
        """Register an app's functions from a `/fn/register` body, as the dev server does.

        Calls to its URL go to the app added with `add_app` (the served functions are added
        on start). True if anything changed. Raises `TestEnvironmentError` for a bad body.
        """
        try:
            registration = validate_registration(dict(body))
        except RegistrationError as exc:
            raise TestEnvironmentError(f"the app cannot be registered: {exc}") from None
        return self.engine.registry.register(registration, self.clock.now())

    def add_app(self, url: str, app: AppCall) -> None:
        """Answer calls for functions registered at `url` with `app` (apps in other SDKs)."""
        self.transport.add(url, app)

    async def start(self) -> TestEnvironment:
        """Register the functions and start the engine (also done by `async with`)."""
        if self._started:
            return self
        self._loop = asyncio.get_running_loop()
        try:
            if self._specs:
                self._register(self._specs)
            self._start_engine()
            self._started = True
            await self.settle()
        except BaseException:
            await self.close()
            raise
        return self

    def _start_engine(self) -> None:
        self.engine.start()

    async def close(self) -> None:
        """Stop the engine: calls still in flight are cancelled, timers never fire."""
        if self._started:
            await self.engine.stop()
            self._started = False
        self.store.close()

    async def __aenter__(self) -> TestEnvironment:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- events -------------------------------------------------------------------------------

    async def _deliver(self, batch: Sequence[Event]) -> list[str]:
        return await self._ingest([event.to_wire() for event in batch])

    async def _ingest(self, raw: list[Any]) -> list[str]:
        try:
            events = normalise_events(raw)
        except EventValidationError as exc:
            raise TestEnvironmentError(f"the event API would refuse this: {exc}") from None
        return self.engine.runs.ingest(events)

    async def send(self, events: SendableEvents) -> list[str]:
        """Send events as through the event API (validated the same way); their ids, in order.

        Runs start, waits resume and cancellations happen as far as they can without time
        passing (this settles).
        """
        try:
            batch = to_events(events)
        except (TypeError, ValueError, InngestError) as exc:
            raise TestEnvironmentError(f"send(): {exc}") from None
        ids = await self._ingest([event.to_wire() for event in batch])
        if asyncio.current_task() not in self.executor.in_flight:  # a body cannot wait for itself
            await self.settle()
        return ids

    @property
    def sent_events(self) -> list[Event]:
        """The events the functions sent (with `send_event` or the client), in order."""
        return self.client.sent

    # -- runs ---------------------------------------------------------------------------------

    def function_id(self, function: type | FunctionSpec | str) -> str:
        """The wire id (`<app_id>-<id>`) of a class, spec or id within the app."""
        if isinstance(function, str):
            return function if function.startswith(f"{self.app_id}-") else (
                f"{self.app_id}-{function}"
            )
        return _spec(function).composite_id(self.app_id)

    def _server_run(self, record: RunRecord) -> ServerRun:
        return ServerRun.from_json(run_json(record, self.store.list_steps(record.run_id)))

    async def runs(
        self,
        function: type | FunctionSpec | str | None = None,
        *,
        status: str | None = None,
    ) -> list[ServerRun]:
        """The runs of `function` (of all if None), oldest first, each with its steps, as the
        dev server's `/v1/runs/{id}` shows them; `status` keeps one status ("Completed", in
        any case)."""
        function_id = None if function is None else self.function_id(function)
        wanted = None if status is None else _STATUSES.get(status.lower())
        if status is not None and wanted is None:
            raise TestEnvironmentError(
                f"runs(status=): no status {status!r}; one of {', '.join(_STATUSES.values())}"
            )
        records = self.store.list_runs(status=wanted, limit=1_000_000, function_id=function_id)
        return [self._server_run(record) for record in reversed(records)]

    async def run(self, run_id: str) -> ServerRun:
        """One run with its steps; raises `TestEnvironmentError` if there is none."""
        record = self.store.get_run(run_id)
        if record is None:
            raise TestEnvironmentError(f"no run {run_id!r}")
        return self._server_run(record)

    async def runs_of_event(self, event_id: str) -> list[ServerRun]:
        """The runs an event (by the id `send` returned) started or was part of."""
        return [self._server_run(r) for r in self.store.runs_for_event(event_id)]

    async def cancel(self, run_id: str) -> ServerRun:
        """Cancel a run, as the dev server's API does; the run as it then is."""
        try:
            actions.cancel_run(self.engine, run_id)
        except actions.NotFound:
            raise TestEnvironmentError(f"no run {run_id!r}") from None
        await self.settle()
        return await self.run(run_id)

    def is_final(self, run_id: str) -> bool:
        """Whether the run exists and has ended (completed, failed, cancelled or skipped)."""
        record = self.store.get_run(run_id)
        return record is not None and record.status in _FINAL
