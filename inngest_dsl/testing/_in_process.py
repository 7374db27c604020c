"""Functions called in-process: the executor's transport in a test environment.

A call's request body is decoded and answered by the same code that answers Inngest over HTTP
(`serve._call`), with each function's instrumented plan, so a test sees what its bodies did.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from inngest_dsl.devserver.core.clock import VirtualClock
from inngest_dsl.devserver.core.functions import FunctionInfo
from inngest_dsl.devserver.core.protocol import CallOutcome, error_object, interpret_response
from inngest_dsl.engine._call_state import NO_MOCK
from inngest_dsl.engine._outcomes import StepRef
from inngest_dsl.engine._plan import ExecutionPlan, plan_for
from inngest_dsl.serve._call import (
    Answer,
    ServedFunctions,
    answer_call,
    encode_body,
    sdk_headers,
)
from inngest_dsl.spec._durations import CLOCK
from inngest_dsl.spec._function import FunctionSpec
from inngest_dsl.testing._instrument import NOT_MOCKED, current_observer, instrumented
from inngest_dsl.wire._calls import CallRequest, WireError, decode_call_request

__all__ = ["AppCall", "CallHooks", "InProcessApp", "InProcessTransport", "MockHooks", "StepMocks"]

AppCall = Callable[[str, str, bytes], Awaitable[tuple[int, Mapping[str, str], bytes]]]
"""An app reached in-process: `(function id, step id, request body)` -> status, headers, body."""


class CallHooks(Protocol):
    """Who watches in-process calls (the testing kit's `run_function` traces through these)."""

    def observer(self, call: CallRequest, function_id: str) -> Any:
        """The observer of this call's bodies (see `_testing_instrument`), or None."""

    def answered(self, call: CallRequest, function_id: str, answer: Answer) -> Answer:
        """What the function answered; the answer the engine gets (usually the same)."""


class StepMocks:
    """`steps=` of a `TestEnvironment`: results that replace block bodies, by block id."""

    def __init__(self, spec: FunctionSpec, values: Mapping[str, Any]) -> None:
        self._by_index = {i: values[op.id] for i, op in enumerate(spec.ops) if op.id in values}
        self._by_id = values

    def mock(self, index: int) -> Any:
        return self._by_index.get(index, NOT_MOCKED)

    def started(self, index: int, ctx: Any, mocked: bool) -> None:
        pass

    def returned(self, index: int, value: Any) -> None:
        pass

    def raised(self, index: int, exc: BaseException) -> None:
        pass

    def dynamic_reached(self, ref: StepRef, kind: str, callee: type | None) -> None:
        pass

    def dynamic_mock(self, ref: StepRef) -> Any:
        return self._by_id.get(ref.user_id, NO_MOCK)

    def dynamic_started(self, ref: StepRef, mocked: bool) -> None:
        pass

    def dynamic_returned(self, ref: StepRef, value: Any) -> None:
        pass

    def dynamic_raised(self, ref: StepRef, exc: BaseException) -> None:
        pass


class MockHooks:
    def __init__(self, mocks: Mapping[str, StepMocks]) -> None:
        self._mocks = mocks

    def observer(self, call: CallRequest, function_id: str) -> Any:
        return self._mocks.get(function_id)

    def answered(self, call: CallRequest, function_id: str, answer: Answer) -> Answer:
        return answer


class InProcessApp:
    """Functions served in-process: the request body decoded and answered as over HTTP."""

    def __init__(self, served: ServedFunctions, hooks: CallHooks) -> None:
        self._served = served
        self._hooks = hooks
        self._headers = sdk_headers(served.client)
        self._plans: dict[str, ExecutionPlan] = {
            wire_id: plan_for(instrumented(plan.spec)) for wire_id, plan in served.plans.items()
        }

    async def __call__(
        self, function_id: str, step_id: str, body: bytes
    ) -> tuple[int, Mapping[str, str], bytes]:
        try:
            call = decode_call_request(json.loads(body))
        except WireError as exc:
            return 400, self._headers, json.dumps({"error": exc.message}).encode()
        observer = self._hooks.observer(call, function_id)
        token = current_observer.set(observer)
        try:
            answer = await answer_call(
                self._served, call, function_id, step_id, plans=self._plans, observer=observer
            )
        finally:
            current_observer.reset(token)
        answer = self._hooks.answered(call, function_id, answer)
        status, payload = encode_body(answer.status, answer.body)
        return status, {**self._headers, **answer.headers}, payload


class InProcessTransport:
    """The executor's transport in a test environment: apps by URL, called directly.

    A call still running after `timeout` real seconds (a body stuck on something that never
    comes) fails as a timed-out HTTP call would, so a test reports it instead of hanging.
    """

    def __init__(self, clock: VirtualClock, timeout: float) -> None:
        self._clock = clock
        self._timeout = timeout
        self._apps: dict[str, AppCall] = {}

    def add(self, url: str, app: AppCall) -> None:
        self._apps[url] = app

    async def call(
        self, function: FunctionInfo, step_id: str, body: bytes, run_id: str
    ) -> CallOutcome:
        url = function.url.partition("?")[0]
        app = self._apps.get(url)
        if app is None:
            message = f"{url}: no app at this URL in the test environment"
            return CallOutcome(error=error_object("ConnectionError", message))
        # The timeout cancels this very task (not a task of its own, as `wait_for` would
        # make on Python 3.10 and 3.11): a body's `env.sleep()` must run in the call's task.
        task = asyncio.current_task()
        assert task is not None
        timed_out = False

        def expire() -> None:
            nonlocal timed_out
            timed_out = True
            task.cancel()

        handle = asyncio.get_running_loop().call_later(self._timeout, expire)
        # Functions reading "now" (a year-less sleep_until stamp) read the virtual clock.
        clock = CLOCK.set(self._clock.now)
        try:
            status, headers, payload = await app(function.id, step_id, body)
        except asyncio.CancelledError:
            if not timed_out:
                raise
            if sys.version_info >= (3, 11):
                task.uncancel()
            message = (
                f"{url}: the call of {function.id} (step {step_id}) was still running after "
                f"{self._timeout:g} s of real time"
            )
            return CallOutcome(error=error_object("TimeoutError", message))
        finally:
            handle.cancel()
            CLOCK.reset(clock)
        return interpret_response(status, headers, payload, self._clock.now())
