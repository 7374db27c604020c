"""Call requests (PROTOCOL §6.1): the body Inngest posts to run a function, decoded."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import repeat
from typing import Any

from attrs import evolve, frozen

from inngest_dsl.errors import EventError
from inngest_dsl.spec._event import Event

__all__ = [
    "CallContext",
    "CallRequest",
    "WireError",
    "decode_call_request",
    "decode_events",
    "with_call_headers",
]


class WireError(ValueError):
    """A request the SDK cannot act on; `code` is the machine-readable reason sent back."""

    def __init__(self, message: str, code: str = "body_invalid", status: int = 400) -> None:
        self.message = message
        self.code = code
        self.status = status
        super().__init__(message)


@frozen
class CallContext:
    """The `ctx` object of a call request: facts about the run and this attempt.

    `request_id` identifies this one request and `job_id` the queue item it runs for; Inngest
    sends both in `ctx` and as the `X-Request-ID` / `X-Inngest-Job-Id` headers.
    """

    run_id: str = ""
    attempt: int = 0
    max_attempts: int | None = None
    disable_immediate_execution: bool = False
    use_api: bool = False
    stack: tuple[str, ...] = ()
    fn_id: str = ""
    request_id: str = ""
    job_id: str = ""


@frozen
class CallRequest:
    """A decoded call request: the triggering event(s), the memo of finished ops, `ctx`.

    `steps` maps hashed step ids to their raw memo values (§7.4); the engine decodes each
    only when it reaches it.
    """

    event: Event
    events: tuple[Event, ...]
    steps: dict[str, Any]
    ctx: CallContext
    use_api: bool = False


def _int_field(raw: dict[str, Any], key: str, default: int | None) -> int | None:
    value = raw.get(key, default)
    if value is None:
        return default
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole:
        raise WireError(f"ctx.{key} must be a whole number, got {value!r}")
    return int(value)


def _call_context(raw: object) -> CallContext:
    if raw is None:
        return CallContext()
    if not isinstance(raw, dict):
        raise WireError(f"ctx must be a JSON object, got {type(raw).__name__}")
    stack_raw = raw.get("stack")
    stack: tuple[str, ...] = ()
    if isinstance(stack_raw, dict):
        ids = stack_raw.get("stack")
        if isinstance(ids, list):
            stack = tuple(ids)
            if not all(map(isinstance, stack, repeat(str))):
                stack = tuple(i for i in stack if isinstance(i, str))
    run_id = raw.get("run_id")
    fn_id = raw.get("fn_id")
    attempt = _int_field(raw, "attempt", 0)
    request_id, job_id = raw.get("request_id"), raw.get("job_id")
    return CallContext(
        request_id=request_id if isinstance(request_id, str) else "",
        job_id=job_id if isinstance(job_id, str) else "",
        run_id=run_id if isinstance(run_id, str) else "",
        attempt=attempt if attempt is not None else 0,
        max_attempts=_int_field(raw, "max_attempts", None),
        disable_immediate_execution=raw.get("disable_immediate_execution") is True,
        use_api=raw.get("use_api") is True,
        stack=stack,
        fn_id=fn_id if isinstance(fn_id, str) else "",
    )


def _event(raw: object, where: str) -> Event:
    try:
        return Event.from_wire(raw)  # type: ignore[arg-type]  # from_wire checks the type
    except EventError as exc:
        raise WireError(f"{where}: {exc}") from None


def decode_events(raw: object) -> tuple[Event, ...]:
    """The `events` list of a call request (or of a `/batch` payload)."""
    if not isinstance(raw, list):
        raise WireError(f"events must be a JSON array, got {type(raw).__name__}")
    return tuple(_event(item, f"events[{index}]") for index, item in enumerate(raw))


def decode_call_request(raw: object) -> CallRequest:
    """Check and decode a parsed call request body; raises `WireError` naming what is wrong.

    Deliberately shallow: memo values stay raw until the engine reaches their op, so a
    request costs one pass over the memo at most.
    """
    if not isinstance(raw, dict):
        raise WireError(f"the call request must be a JSON object, got {type(raw).__name__}")
    ctx = _call_context(raw.get("ctx"))
    events_raw = raw.get("events")
    event_raw = raw.get("event")
    if (
        event_raw is not None
        and type(events_raw) is list
        and len(events_raw) == 1
        and events_raw[0] == event_raw
    ):
        # The usual call: the trigger, and a batch of just the trigger; decoded once.
        event = _event(event_raw, "events[0]")
        return _request(raw, ctx, event, (event,))
    events = () if events_raw is None else decode_events(events_raw)
    if event_raw is not None:
        event = _event(event_raw, "event")
    elif events:
        event = events[0]
    else:
        raise WireError("the call request has no event (expected `event` or `events`)")
    return _request(raw, ctx, event, events or (event,))


def _request(
    raw: dict[str, Any], ctx: CallContext, event: Event, events: tuple[Event, ...]
) -> CallRequest:
    steps = raw.get("steps")
    if steps is None:
        steps = {}
    elif not isinstance(steps, dict):
        raise WireError(f"steps must be a JSON object, got {type(steps).__name__}")
    use_api = raw.get("use_api") is True or ctx.use_api
    return CallRequest(event=event, events=events, steps=steps, ctx=ctx, use_api=use_api)


def with_call_headers(call: CallRequest, headers: Mapping[str, str]) -> CallRequest:
    """`call` with the run, request and job ids of the call's headers where its body's `ctx`
    has none (`headers` looks names up case-insensitively)."""
    ctx = call.ctx
    run_id = ctx.run_id or headers.get("X-Run-Id") or ""
    request_id = ctx.request_id or headers.get("X-Request-ID") or ""
    job_id = ctx.job_id or headers.get("X-Inngest-Job-Id") or ""
    if (run_id, request_id, job_id) == (ctx.run_id, ctx.request_id, ctx.job_id):
        return call
    return evolve(call, ctx=evolve(ctx, run_id=run_id, request_id=request_id, job_id=job_id))
