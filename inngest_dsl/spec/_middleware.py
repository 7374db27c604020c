"""Middleware: code that runs around every call of a function, and around sending events.

A `Middleware` overrides the async hooks it needs; the others do nothing. Given to the client
(`Inngest(..., middleware=[...])`) it runs for every function the client serves and every
send; given to a function (`class F(InngestFunction, ..., middleware=[...])`) for that one.
The client's run first, then the function's, each list in its order; the hooks that come
after something (`after_execution`, `transform_output`, `on_error`, `after_send_events`) run
in the reverse order, so the first middleware wraps all the others.

The hooks of one call, in order: `transform_input` (change the event or the memoised step
results the call starts from), `before_execution`, the call itself, `after_execution`, then
`transform_output` (change a step's result or the function's return value, or an invoke's
payload) when the call produced one, or `on_error` when it ended in a failure.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from attrs import define, field, frozen

if TYPE_CHECKING:
    from inngest_dsl.spec._event import Event

__all__ = [
    "CallError",
    "CallInput",
    "CallOutput",
    "Middleware",
    "StepInfo",
    "hooked_send",
    "sends_hooked",
]

sends_hooked: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "inngest_dsl_sends_hooked", default=False
)
"""True while the engine sends with the whole chain's hooks already run: the client must not
run its own middleware again."""


@define
class CallInput:
    """What one call starts from; `transform_input` may change `event`, `events` and `steps`.

    `steps` maps each finished step's wire id to its result (a step that failed for good is
    not in it). `function_id` is the function's wire id; `attempt` counts from 0. `state` is
    the middleware's own, empty when the call starts: middleware objects are shared by every
    call, so a value one hook leaves for a later hook of the same call goes there
    (`call.state["started"] = ...` in `before_execution`, read in `after_execution`).
    """

    function_id: str
    run_id: str
    attempt: int
    event: Event[Any]
    events: list[Event[Any]]
    steps: dict[str, Any]
    state: dict[str, Any] = field(factory=dict)


@frozen
class StepInfo:
    """The step an output is about: its id (as the user wrote it), its opcode and options.

    `opts` is the opcode's options: for `InvokeFunction`, `opts["payload"]["data"]` is the
    invoked function's event data, which `transform_output` may change in place.
    """

    id: str
    op: str
    opts: dict[str, Any] | None


@define
class CallOutput:
    """What one call produced, for `transform_output` to change.

    `data` is a step's result (`step` says which) or, when `step` is `None`, the function's
    return value; `has_data` is false for an output with no data (an invoke's opcode, whose
    payload is in `step.opts`). Set `data` to change what is sent back.
    """

    data: Any
    step: StepInfo | None = None
    has_data: bool = True


@frozen
class CallError:
    """How a call failed: the error's `name`, `message` and `stack`, the `step` it is about
    (its user id; `None` for the function itself), and whether it is `final` (no retry)."""

    name: str
    message: str
    stack: str | None
    step: str | None
    final: bool


class Middleware:
    """Base class of middleware: override the async hooks you need (see the module docs)."""

    async def transform_input(self, call: CallInput) -> None:
        """Before the call: change what it starts from (`call.event`, `call.steps`, ...)."""

    async def before_execution(self, call: CallInput) -> None:
        """Just before the function's code runs for this call."""

    async def after_execution(self, call: CallInput) -> None:
        """Just after the function's code ran for this call (however it ended)."""

    async def transform_output(self, call: CallInput, output: CallOutput) -> None:
        """The call produced `output` (a step's result, the return value, an invoke's
        payload): change `output.data` (or `output.step.opts`) to change what is sent."""

    async def on_error(self, call: CallInput, error: CallError) -> None:
        """The call ended in a failure: a step raised, or the function did."""

    async def before_send_events(self, events: list[Event[Any]]) -> list[Event[Any]] | None:
        """Before events are sent (`client.send`, send steps): return the events to send
        instead, or `None` to send `events` as they are."""
        return None

    async def after_send_events(self, events: list[Event[Any]], ids: list[str]) -> None:
        """After `events` were sent; `ids` are their ids, in order."""


async def hooked_send(
    chain: Sequence[Middleware],
    events: list[Event[Any]],
    send: Callable[[list[Event[Any]]], Awaitable[list[str]]],
) -> list[str]:
    """`send(events)` with the chain's `before_send_events` (in order) and
    `after_send_events` (in reverse) around it."""
    for hook in chain:
        replaced = await hook.before_send_events(events)
        if replaced is not None:
            events = list(replaced)
    ids = await send(events)
    for hook in reversed(chain):
        await hook.after_send_events(events, ids)
    return ids
