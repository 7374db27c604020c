"""What a call answers, built the same way for declared blocks and for `ctx.step` calls.

Function-level failures, the opcodes of PROTOCOL §7.3, running one step and reporting how it
went, sending a step's events exactly once, and reading a memo value (§7.4).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import traceback
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import attrs

from inngest_dsl.errors import EventError, NonRetriableError, RetryAfterError, StepError
from inngest_dsl.spec import _event
from inngest_dsl.spec._durations import format_duration, format_instant
from inngest_dsl.spec._event import Event
from inngest_dsl.spec._payloads import unstructure
from inngest_dsl.wire._json import check_json
from inngest_dsl.wire._responses import CallResult, ErrorBody, Opcode, Userland

__all__ = [
    "WRAPPED_KEYS",
    "EventSender",
    "StepRef",
    "as_json",
    "encoded_json",
    "event_id",
    "failure",
    "function_error",
    "hash_step_id",
    "invoke_opcode",
    "memoised_error",
    "memoised_failure",
    "run_step",
    "send_step",
    "sent_ids",
    "sleep_opcode",
    "sleep_until_opcode",
    "step_error",
    "to_events",
    "unserialisable",
    "wait_opcode",
]

WRAPPED_KEYS = frozenset(("data", "error"))
"""A memo object with only these keys wraps a result (`data`) or a failure (`error`)."""


def hash_step_id(pre_hash: str) -> str:
    """The wire id of a step: lowercase hex SHA-1 of `<id>` or `<id>:<repeat>`."""
    return hashlib.sha1(pre_hash.encode("utf-8")).hexdigest()


@attrs.frozen
class StepRef:
    """A step as the wire names it: the user's id, its hash, which repeat of the id it is."""

    user_id: str
    hashed: str
    index: int | None = None

    def opcode(self, op: str, name: str, **fields: Any) -> Opcode:
        """An opcode about this step."""
        return Opcode(
            op=op,
            id=self.hashed,
            name=name,
            display_name=self.user_id,
            userland=Userland(id=self.user_id, index=self.index),
            **fields,
        )


# ---------------------------------------------------------------------------------------------
# Function-level failures


def _error_body(exc: BaseException, code: str) -> ErrorBody:
    return ErrorBody(
        name=type(exc).__name__,
        message=str(exc),
        stack="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        code=code,
    )


def _retry_after(value: float | _dt.timedelta | _dt.datetime) -> str:
    if isinstance(value, _dt.datetime):
        return format_instant(value)
    seconds = value.total_seconds() if isinstance(value, _dt.timedelta) else float(value)
    return str(max(1, round(seconds)))


def step_error(exc: StepError) -> CallResult:
    """A memoised step failure that user code let through: the function fails, no retry."""
    return CallResult(
        500,
        ErrorBody(name=exc.name, message=exc.message, stack=exc.stack, code="step_errored"),
        no_retry=True,
    )


def function_error(exc: Exception) -> CallResult:
    """A function-level failure: 500, retried unless the error says otherwise."""
    if isinstance(exc, NonRetriableError):
        return CallResult(500, _error_body(exc, "non_retriable_error"), no_retry=True)
    if isinstance(exc, RetryAfterError):
        return CallResult(
            500,
            _error_body(exc, "retry_after_error"),
            no_retry=False,
            retry_after=_retry_after(exc.retry_after),
        )
    if isinstance(exc, StepError):
        return step_error(exc)
    return CallResult(500, _error_body(exc, "unknown"), no_retry=False)


def failure(message: str, code: str, *, retry: bool, name: str = "Error") -> CallResult:
    """A failure the engine itself decided (bad result, unknown step, ...)."""
    return CallResult(500, ErrorBody(name=name, message=message, code=code), no_retry=not retry)


def unserialisable(what: str, exc: Exception) -> CallResult:
    """`what` (e.g. `"step 'charge'"`) returned a value JSON cannot carry."""
    return failure(
        f"{what} returned a value that is not JSON-serialisable: {exc}",
        "output_unserializable",
        retry=False,
    )


def memoised_error(user_id: str, error: Any) -> StepError:
    """The `StepError` for a failure memoised as `error` (§7.4)."""
    fields = error if isinstance(error, dict) else {}
    name = fields.get("name")
    message = fields.get("message")
    stack = fields.get("stack")
    return StepError(
        message if isinstance(message, str) else f"step {user_id!r} failed",
        name=name if isinstance(name, str) and name else "StepError",
        stack=stack if isinstance(stack, str) else None,
    )


def memoised_failure(user_id: str, error: Any) -> CallResult:
    """A step failed for good in an earlier request: the function fails, without retry."""
    return step_error(memoised_error(user_id, error))


# ---------------------------------------------------------------------------------------------
# Opcodes of the ops that wait on the server


def sleep_opcode(ref: StepRef, duration: _dt.timedelta) -> Opcode:
    """`Sleep` for a duration: the duration string in `name` and `opts.duration`."""
    value = format_duration(duration)
    return ref.opcode("Sleep", value, opts={"duration": value})


def sleep_until_opcode(ref: StepRef, at: _dt.datetime) -> Opcode:
    """`Sleep` until an instant, as RFC 3339 UTC."""
    value = format_instant(at)
    return ref.opcode("Sleep", value, opts={"duration": value})


def wait_opcode(ref: StepRef, event: str, timeout: _dt.timedelta, if_: str | None) -> Opcode:
    """`WaitForEvent`: `name` is the wait's step id; `opts.event`, `opts.if`, `opts.timeout`.

    `opts.if` is `null` when the wait has no condition, as the official Python SDK sends it.
    """
    opts: dict[str, Any] = {"event": event, "if": if_, "timeout": format_duration(timeout)}
    return ref.opcode("WaitForEvent", ref.user_id, opts=opts)


def invoke_opcode(
    ref: StepRef,
    function_id: str,
    data: Mapping[str, Any],
    timeout: _dt.timedelta | None,
) -> Opcode:
    """`InvokeFunction` of the function whose wire id is `function_id`, with `data`.

    `payload.v` and `timeout` are `null` when not given, as the official Python SDK sends them.
    """
    opts: dict[str, Any] = {
        "function_id": function_id,
        "payload": {"data": dict(data), "v": None},
        "timeout": format_duration(timeout) if timeout is not None else None,
    }
    return ref.opcode("InvokeFunction", ref.user_id, opts=opts)


# ---------------------------------------------------------------------------------------------
# Running a step


async def run_step(
    ref: StepRef,
    what: str,
    produce: Callable[[], Awaitable[Any]],
    *,
    attempt: int,
    max_attempts: int,
) -> CallResult:
    """Run one step now: `StepRun` with its result, or `StepError`/`StepFailed` if it raised.

    `NonRetriableError` and `RetryAfterError` decide the whole request's fate, not the
    step's (as the official SDKs do); so does a memoised failure the step let through.
    """
    try:
        result = await produce()
    except (NonRetriableError, RetryAfterError, StepError) as exc:
        return attrs.evolve(function_error(exc), failed_step=(ref.hashed, ref.user_id))
    except Exception as exc:
        op = "StepFailed" if attempt + 1 >= max_attempts else "StepError"
        return CallResult(206, [ref.opcode(op, ref.user_id, error=_error_body(exc, "unknown"))])
    try:
        result, encoded = encoded_json(result)
    except (TypeError, ValueError) as exc:
        return unserialisable(what, exc)
    ran = ref.opcode("StepRun", ref.user_id, data=result, encoded=(result, encoded))
    return CallResult(206, [ran])


_JSON_LEAVES = (str, int, float, bool, type(None))


def as_json(value: Any) -> Any:
    """A result as JSON values: attrs instances, dataclasses, datetimes, ... through the
    payload converter; `TypeError`/`ValueError` if it still is not JSON."""
    return encoded_json(value)[0]


def encoded_json(value: Any) -> tuple[Any, bytes]:
    """`as_json(value)` and its JSON text, encoded once as it is checked."""
    if type(value) in (dict, list):
        try:
            return value, check_json(value)
        except TypeError:
            pass  # a typed value inside: unstructure the whole
    elif isinstance(value, _JSON_LEAVES):
        return value, check_json(value)
    value = unstructure(value)
    return value, check_json(value)


# ---------------------------------------------------------------------------------------------
# Sending events exactly once


def event_id(run_id: str, hashed: str, position: int) -> str:
    """The id given to the `position`-th event of a send step that has none of its own.

    The same in every attempt of the step, so a repeated send is deduplicated by the server.
    """
    return hash_step_id(f"{run_id}:{hashed}:{position}")


def to_events(what: str, value: object) -> list[Event]:
    """What a send step returned, as events; `NonRetriableError` if it is not events."""
    try:
        return _event.to_events(value)  # type: ignore[arg-type]  # to_events checks the type
    except EventError as exc:
        raise NonRetriableError(
            f"{what} must give an Event, a mapping or a list of them: {exc}"
        ) from None


class EventSender(Protocol):
    """What a send step sends through: the serving `Inngest` client (or a test's stand-in)."""

    @property
    def app_id(self) -> str:
        """The serving app's id; invoked functions of the same app are named with it."""

    async def send(self, events: list[Event]) -> list[str]:
        """Send `events`; their ids, in order."""


async def send_step(
    client: EventSender | None,
    what: str,
    events: list[Event],
    *,
    run_id: str,
    hashed: str,
) -> dict[str, list[str]]:
    """Send `events` through `client`, ids filled in; the step's result `{"ids": [...]}`."""
    if client is None:
        raise NonRetriableError(
            f"{what} has no Inngest client to send through: serve the function with "
            "`serve(app, client, ...)`"
        )
    batch = [
        event if event.id is not None else attrs.evolve(event, id=event_id(run_id, hashed, i))
        for i, event in enumerate(events)
    ]
    return {"ids": await client.send(batch)}


def sent_ids(value: Any) -> Any:
    """The ids a send step memoised: `{"ids": [...]}` (or a bare list, as Python SDKs send)."""
    if isinstance(value, dict) and "ids" in value:
        return value["ids"]
    return value
