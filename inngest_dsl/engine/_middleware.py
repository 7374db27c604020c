"""One call with its middleware: the hooks around `execute`, and typed triggers checked first.

The chain is the client's middleware, then the function's (`spec/_middleware` documents the
hooks and their order). A hook that raises fails the call as its body would have (a
`NonRetriableError` fails the run). The trigger event of a function with a typed trigger is
structured here, before anything runs, so a payload that does not fit fails the run at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from inngest_dsl.engine._call_state import StepObserver
from inngest_dsl.engine._execute import execute
from inngest_dsl.engine._outcomes import WRAPPED_KEYS, EventSender, function_error
from inngest_dsl.engine._plan import ExecutionPlan
from inngest_dsl.errors import PayloadError
from inngest_dsl.spec._event import Event, typed_event
from inngest_dsl.spec._middleware import (
    CallError,
    CallInput,
    CallOutput,
    Middleware,
    StepInfo,
    hooked_send,
    sends_hooked,
)
from inngest_dsl.spec._payloads import unstructure
from inngest_dsl.wire._calls import CallRequest
from inngest_dsl.wire._responses import CallResult, ErrorBody, Opcode

__all__ = ["run_call"]


async def run_call(
    plan: ExecutionPlan,
    request: CallRequest,
    *,
    middleware: Sequence[Middleware] = (),
    target: str | None = None,
    app_id: str = "",
    client: EventSender | None = None,
    observer: StepObserver | None = None,
) -> CallResult:
    """`execute` one call, with `middleware` (client's then function's) around it."""
    if not middleware:
        if plan.event_types:
            try:
                request = _typed(plan, request)
            except PayloadError as exc:
                return function_error(exc)
        return await execute(
            plan, request, target=target, app_id=app_id, client=client, observer=observer
        )
    chain = tuple(middleware)
    if client is not None and not app_id:
        app_id = client.app_id
    call = CallInput(
        function_id=plan.spec.composite_id(app_id) if app_id else plan.spec.id,
        run_id=request.ctx.run_id,
        attempt=request.ctx.attempt,
        event=request.event,
        events=list(request.events),
        steps=_results(request.steps),
    )
    try:
        for hook in chain:
            await hook.transform_input(call)
        request = _typed(plan, _changed(request, call))
        for hook in chain:
            await hook.before_execution(call)
    except Exception as exc:
        return await _failed(chain, call, function_error(exc))
    sender = None if client is None else _HookedSender(client, chain)
    try:
        result = await execute(
            plan, request, target=target, app_id=app_id, client=sender, observer=observer
        )
    finally:
        for hook in reversed(chain):
            await hook.after_execution(call)
    try:
        return await _transformed(chain, call, result)
    except Exception as exc:
        return await _failed(chain, call, function_error(exc))


def _typed(plan: ExecutionPlan, request: CallRequest) -> CallRequest:
    """The request with its trigger events' data structured as the function's event types."""
    if not plan.event_types:
        return request
    events = tuple(typed_event(e, plan.event_type_of(e.name)) for e in request.events)
    event = typed_event(request.event, plan.event_type_of(request.event.name))
    return attrs.evolve(request, event=event, events=events)


# -- transform_input: what the call starts from -------------------------------------------


def _results(memo: dict[str, Any]) -> dict[str, Any]:
    """Each finished step's result by wire id (failures are left out)."""
    results: dict[str, Any] = {}
    for hashed, value in memo.items():
        if type(value) is dict and value.keys() <= WRAPPED_KEYS:
            if value.get("error") is None:
                results[hashed] = value.get("data")
        else:
            results[hashed] = value
    return results


def _changed(request: CallRequest, call: CallInput) -> CallRequest:
    """The request as `transform_input` left it."""
    memo: dict[str, Any] = {}
    for hashed, value in request.steps.items():
        if hashed not in call.steps:
            if type(value) is dict and value.get("error") is not None:
                memo[hashed] = value  # a failure: not the middleware's to change
            continue
        result = call.steps[hashed]
        wrapped = type(value) is dict and value.keys() <= WRAPPED_KEYS
        memo[hashed] = {**value, "data": result} if wrapped else result
    events = tuple(call.events) or (call.event,)
    return attrs.evolve(request, event=call.event, events=events, steps=memo)


# -- transform_output and on_error: what the call answers ---------------------------------


async def _transformed(
    chain: tuple[Middleware, ...], call: CallInput, result: CallResult
) -> CallResult:
    if result.status == 200:
        output = CallOutput(data=unstructure(result.body))
        for hook in reversed(chain):
            await hook.transform_output(call, output)
        return attrs.evolve(result, body=output.data)
    if result.status >= 300:
        return await _failed(chain, call, result)
    ops = result.body
    if not isinstance(ops, list) or len(ops) != 1 or not isinstance(ops[0], Opcode):
        return result  # several ops planned at once (a parallel group): nothing to transform
    op: Opcode = ops[0]
    if op.error is not None:
        for hook in reversed(chain):
            await hook.on_error(call, _error(op.error, op.display_name, op.op == "StepFailed"))
        return result
    has_data = op.op == "StepRun"
    output = CallOutput(
        data=unstructure(op.data) if has_data else None,
        step=StepInfo(id=op.display_name, op=op.op, opts=op.opts),
        has_data=has_data,
    )
    for hook in reversed(chain):
        await hook.transform_output(call, output)
    opts = output.step.opts if output.step is not None else op.opts
    changed = attrs.evolve(op, data=output.data if has_data else op.data, opts=opts)
    return attrs.evolve(result, body=[changed])


async def _failed(
    chain: tuple[Middleware, ...], call: CallInput, result: CallResult
) -> CallResult:
    body = result.body
    if isinstance(body, ErrorBody):
        error = _error(body, None, bool(result.no_retry))
        for hook in reversed(chain):
            await hook.on_error(call, error)
    return result


def _error(body: ErrorBody, step: str | None, final: bool) -> CallError:
    return CallError(name=body.name, message=body.message, stack=body.stack, step=step, final=final)


class _HookedSender:
    """The serving client, with the chain's send hooks run before and after each send."""

    __slots__ = ("_chain", "_client")

    def __init__(self, client: EventSender, chain: tuple[Middleware, ...]) -> None:
        self._client = client
        self._chain = chain

    @property
    def app_id(self) -> str:
        return self._client.app_id

    async def send(self, events: list[Event[Any]]) -> list[str]:
        async def send(batch: list[Event[Any]]) -> list[str]:
            # The client's own middleware is in the chain: it must not run a second time.
            token = sends_hooked.set(True)
            try:
                return await self._client.send(batch)
            finally:
                sends_hooked.reset(token)

        return await hooked_send(self._chain, events, send)
