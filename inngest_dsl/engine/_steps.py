"""`ctx.step`: steps added at run time, for what a class body cannot declare.

```python
class ProcessItems(InngestFunction, event="app/items"):
    @run("process")
    async def process(self, ctx: Context) -> dict[str, list[Any]]:
        done = [await ctx.step.run(f"process {item}", handle, item)
                for item in ctx.event.data["items"]]
        return {"done": done}
```

How it behaves (the escape hatch trades "resume" for "replay", inside one block):

* A block that uses `ctx.step` is **replayed** until its dynamic steps are done: each request
  that reaches the block calls its body again; every `ctx.step` call whose step is memoised
  returns the memoised value at once (a memoised failure raises `StepError`) without running
  anything, and the first one that is not memoised ends the request: a `run` step runs right
  there (`StepRun`, or `StepError`/`StepFailed` if it raises), anything else is reported (its
  own op; `StepPlanned` when the server asks for it). Code between `ctx.step` calls re-runs on
  every such request, so keep it deterministic and cheap, and do side effects inside steps.
* In a `run` block the block's return value is folded into `ctx.data` on every request, as
  for any `run` block. In a `step` block the body is replayed until it returns; its return
  value is then memoised once, like any step's, and the body never runs again.
* Only async `run` and `step` bodies outside parallel groups can use `ctx.step`; sync bodies
  run in worker threads and cannot await. `ctx.step` calls are awaited one at a time (use
  `ctx.step.parallel` to fan out) and cannot be nested in a step's function.
* Step ids: the protocol's rules (`<id>`, then `<id>:1`, `<id>:2`, ... for repeats, counted
  per request), applied to the id scoped by its block: the pre-hash is
  `<length of block id>:<block id>/<id>`. Blocks whose bodies are skipped once memoised can
  thus never collide with later blocks using the same ids, and a dynamic id equal to a
  declared one hashes differently.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Literal, TypeVar, overload

from attrs import AttrsInstance

from inngest_dsl.engine._call_state import ABSENT
from inngest_dsl.engine._outcomes import (
    WRAPPED_KEYS,
    StepRef,
    failure,
    invoke_opcode,
    memoised_error,
    send_step,
    sent_ids,
    sleep_opcode,
    sleep_until_opcode,
    to_events,
    wait_opcode,
)
from inngest_dsl.engine._plan import resolved_result_type
from inngest_dsl.engine._step_runner import StepRunner, misuse
from inngest_dsl.errors import EventError
from inngest_dsl.spec._durations import parse_duration, parse_instant
from inngest_dsl.spec._event import D, Event, SendableEvents, typed_event
from inngest_dsl.spec._event_types import event_name, name_of, type_of
from inngest_dsl.spec._expressions import expression_problem, match_expression, match_problem
from inngest_dsl.spec._function import FunctionSpec
from inngest_dsl.spec._payloads import PLAIN, structure, unstructure
from inngest_dsl.wire._json import check_json
from inngest_dsl.wire._responses import CallResult, Opcode

__all__ = ["Steps"]

T = TypeVar("T")


def _unwrap(user_id: str, value: Any) -> Any:
    if type(value) is dict and value.keys() <= WRAPPED_KEYS:
        if value.get("error") is not None:
            raise memoised_error(user_id, value["error"])
        return value.get("data")
    return value


class Steps:
    """`ctx.step`: durable steps chosen at run time; see the module documentation.

    Every method takes the step's id first and returns an awaitable; await it right away.
    """

    __slots__ = ("_runner",)

    def __init__(self, runner: StepRunner) -> None:
        self._runner = runner

    # -- the API ---------------------------------------------------------------------------

    @overload
    def run(
        self, id: str, fn: Callable[..., Awaitable[T]], *args: Any
    ) -> Coroutine[Any, Any, T]: ...

    @overload
    def run(self, id: str, fn: Callable[..., T], *args: Any) -> Coroutine[Any, Any, T]: ...

    def run(self, id: str, fn: Callable[..., Any], *args: Any) -> Coroutine[Any, Any, Any]:
        """Run `fn(*args)` as a memoised step (sync or async `fn`); returns its result.

        Runs once: retried on its own when it raises, its result kept afterwards as JSON and
        read back as `fn`'s return type (an attrs instance comes back as one).
        """
        ref = self._runner.ref("run", id)
        if not callable(fn):
            raise misuse(f"ctx.step.run({id!r}): fn must be callable, got {fn!r}")
        produce = self._runner.producer(ref, fn, args)

        async def step() -> Any:
            value = self._runner.memo(ref)
            if value is not ABSENT:
                value = _unwrap(ref.user_id, value)
                tp = resolved_result_type(fn)
                if tp is PLAIN or value is None:
                    return value
                return structure(value, tp, f"the result of ctx.step.run({id!r})")
            raise await self._runner.unfinished(
                ref, "step", produce, lambda: ref.opcode("StepPlanned", ref.user_id)
            )

        return step()

    def sleep(self, id: str, duration: str | _dt.timedelta) -> Coroutine[Any, Any, None]:
        """Pause the run for `duration` (`"30s"`, `"1h30m"`, or a `timedelta`)."""
        ref = self._runner.ref("sleep", id)
        try:
            delta = parse_duration(duration)
        except (TypeError, ValueError) as exc:
            raise misuse(f"ctx.step.sleep({id!r}): {exc}") from None
        return self._pause(ref, "sleep", lambda: sleep_opcode(ref, delta))

    def sleep_until(
        self, id: str, at: str | _dt.datetime | _dt.date
    ) -> Coroutine[Any, Any, None]:
        """Pause the run until the instant `at` (a past instant does not pause)."""
        ref = self._runner.ref("sleep_until", id)
        try:
            instant = parse_instant(at)
        except (TypeError, ValueError) as exc:
            raise misuse(f"ctx.step.sleep_until({id!r}): {exc}") from None
        return self._pause(ref, "sleep_until", lambda: sleep_until_opcode(ref, instant))

    async def _pause(self, ref: StepRef, kind: str, report: Callable[[], Opcode]) -> None:
        if self._runner.memo(ref) is ABSENT:
            raise await self._runner.unfinished(ref, kind, None, report)

    @overload
    def wait_for_event(
        self,
        id: str,
        *,
        event: type[D],
        timeout: str | _dt.timedelta,
        match: str | None = None,
        if_: str | None = None,
    ) -> Coroutine[Any, Any, Event[D] | None]: ...

    @overload
    def wait_for_event(
        self,
        id: str,
        *,
        event: str,
        timeout: str | _dt.timedelta,
        match: str | None = None,
        if_: str | None = None,
    ) -> Coroutine[Any, Any, Event | None]: ...

    def wait_for_event(
        self,
        id: str,
        *,
        event: str | type[Any],
        timeout: str | _dt.timedelta,
        match: str | None = None,
        if_: str | None = None,
    ) -> Coroutine[Any, Any, Event[Any] | None]:
        """Wait for a later event named `event`; returns it, or `None` once `timeout` passed.

        `match="data.user_id"` pairs it with the triggering event on that field; `if_=` takes
        a full expression over `event` (the trigger) and `async` (the candidate). `event` may
        be an `@event_type` class: the event's data then arrives as an instance of it.
        """
        ref = self._runner.ref("wait_for_event", id)
        where = f"ctx.step.wait_for_event({id!r})"
        data_type = type_of(event)
        event = name_of(event)
        if not isinstance(event, str) or not event.strip():
            raise misuse(f"{where}: event= must be an event name, got {event!r}")
        try:
            delta = parse_duration(timeout)
        except (TypeError, ValueError) as exc:
            raise misuse(f"{where}: timeout: {exc}") from None
        if match is not None and if_ is not None:
            raise misuse(f"{where}: give match= or if_=, not both")
        if match is not None and (problem := match_problem(match)) is not None:
            raise misuse(f"{where}: match= {problem}")
        expression = match_expression(match) if match is not None else if_
        if expression is not None:
            problem = expression_problem(expression)
            if problem is not None:
                raise misuse(f"{where}: {problem}")

        async def wait() -> Event[Any] | None:
            value = self._runner.memo(ref)
            if value is ABSENT:
                raise await self._runner.unfinished(
                    ref, "wait_for_event", None, lambda: wait_opcode(ref, event, delta, expression)
                )
            value = _unwrap(ref.user_id, value)
            if isinstance(value, dict):
                try:
                    received = Event.from_wire(value)
                except EventError:
                    return None
                return typed_event(received, data_type)
            return None

        return wait()

    def invoke(
        self,
        id: str,
        *,
        function: type | FunctionSpec | str,
        data: Mapping[str, Any] | AttrsInstance | None = None,
        timeout: str | _dt.timedelta | None = None,
    ) -> Coroutine[Any, Any, Any]:
        """Run another function with `data` as its event data; returns what it returned.

        `function` is its class (same app) or its wire id `"<app id>-<function id>"`. A
        failed callee, or `timeout` passing, raises `StepError`.
        """
        ref = self._runner.ref("invoke", id)
        where = f"ctx.step.invoke({id!r})"
        function_id, callee = self._callee(where, function)
        if event_name(type(data)) is not None:
            data = unstructure(data)  # a typed event's data
        if data is not None and not isinstance(data, Mapping):
            raise misuse(f"{where}: data= must be a mapping, got {type(data).__name__}")
        payload = dict(data) if data is not None else {}
        try:
            check_json(payload)
        except (TypeError, ValueError) as exc:
            raise misuse(f"{where}: data= is not JSON-serialisable: {exc}") from None
        try:
            delta = None if timeout is None else parse_duration(timeout)
        except (TypeError, ValueError) as exc:
            raise misuse(f"{where}: timeout: {exc}") from None

        async def call() -> Any:
            value = self._runner.memo(ref)
            if value is ABSENT:
                raise await self._runner.unfinished(
                    ref,
                    "invoke",
                    None,
                    lambda: invoke_opcode(ref, function_id, payload, delta),
                    callee,
                )
            return _unwrap(ref.user_id, value)

        return call()

    def _callee(self, where: str, function: object) -> tuple[str, type | None]:
        if isinstance(function, str) and function.strip():
            return function, None
        spec = function if isinstance(function, FunctionSpec) else None
        if spec is None and isinstance(function, type):
            candidate = getattr(function, "__inngest_spec__", None)
            spec = candidate if isinstance(candidate, FunctionSpec) else None
        if spec is None:
            raise misuse(
                f"{where}: function= must be a concrete InngestFunction class or a "
                f"'<app id>-<function id>' string, got {function!r}"
            )
        app_id = self._runner.state.app_id
        return (f"{app_id}-{spec.id}" if app_id else spec.id), spec.cls

    def send_event(
        self,
        id: str,
        events: SendableEvents,
    ) -> Coroutine[Any, Any, list[str]]:
        """Send events exactly once, as a memoised step; returns their ids.

        Events without an `id` get one derived from the run and the step, so a retried send
        is deduplicated by the server.
        """
        ref = self._runner.ref("send_event", id)
        what = f"ctx.step.send_event({id!r})"
        batch = to_events(what, events)
        state = self._runner.state

        async def produce() -> Any:
            return await send_step(
                state.client, what, batch, run_id=state.run_id, hashed=ref.hashed
            )

        async def send() -> list[str]:
            value = self._runner.memo(ref)
            if value is not ABSENT:
                ids: list[str] = sent_ids(_unwrap(ref.user_id, value))
                return ids
            raise await self._runner.unfinished(
                ref, "send_event", produce, lambda: ref.opcode("StepPlanned", ref.user_id)
            )

        return send()

    @overload
    def parallel(
        self, *steps: tuple[Any, ...], race: Literal[False] = False
    ) -> Coroutine[Any, Any, list[Any]]: ...

    @overload
    def parallel(
        self, *steps: tuple[Any, ...], race: Literal[True]
    ) -> Coroutine[Any, Any, Any]: ...

    def parallel(self, *steps: tuple[Any, ...], race: bool = False) -> Coroutine[Any, Any, Any]:
        """Run `(id, fn, *args)` steps side by side; returns their results, in order.

        Unfinished steps are reported together, each runs in its own request, and the body
        goes on once all have finished. A memoised failure of any raises `StepError`.

        `race=True` (Inngest's `parallelMode: "race"`): the body goes on as soon as the first
        step finishes, and the call returns that step's result alone (raises its `StepError`
        if it failed); the others still run, their results unused.
        """
        members: list[tuple[StepRef, Any]] = []
        for item in steps:
            if not isinstance(item, tuple) or len(item) < 2 or not callable(item[1]):
                raise misuse(
                    "ctx.step.parallel() takes (id, fn, *args) tuples, e.g. "
                    f"ctx.step.parallel(('a', fetch_a), ('b', fetch_b)); got {item!r}"
                )
            ref = self._runner.ref("parallel", item[0])
            members.append((ref, self._runner.producer(ref, item[1], item[2:])))

        async def fan_out() -> Any:
            values: list[Any] = []
            unfinished: list[tuple[StepRef, Any]] = []
            finished: dict[str, tuple[StepRef, Any]] = {}
            for ref, produce in members:
                value = self._runner.memo(ref)
                if value is ABSENT:
                    unfinished.append((ref, produce))
                elif race:
                    finished[ref.hashed] = (ref, value)
                else:
                    values.append(_unwrap(ref.user_id, value))
            target = self._runner.target
            targets_loser = any(ref.hashed == target for ref, _ in unfinished)
            if race and finished and not targets_loser:
                # The first to finish wins: the run's stack is in completion order.
                stack = self._runner.state.request.ctx.stack
                order = [h for h in stack if h in finished] + list(finished)
                ref, value = finished[order[0]]
                return _unwrap(ref.user_id, value)
            if not unfinished:
                return values
            if target is not None:
                for ref, produce in unfinished:
                    if ref.hashed == target:
                        self._runner.observe(ref, "step")
                        raise await self._runner.run_now(ref, produce)
                raise self._runner.halt(
                    failure(
                        f"the request targets step {target!r}, which is none of the unfinished "
                        "steps of this ctx.step.parallel(); the run's memo does not match",
                        "step_unexpected",
                        retry=False,
                    )
                )
            for ref, _ in unfinished:
                self._runner.observe(ref, "step")
            opts = {"parallelMode": "race"} if race else None
            planned = [ref.opcode("StepPlanned", ref.user_id, opts=opts) for ref, _ in unfinished]
            raise self._runner.halt(CallResult(206, planned))

        return fan_out()
