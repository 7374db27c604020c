"""The call protocol as pure functions: request bodies out, app responses in (PROTOCOL.md §6-7).

Every JSON value the store keeps is canonical (JCS) text, so a request body is assembled by
splicing stored texts in sorted-key order: the result is canonical too, ready to be signed,
and nothing is decoded and re-encoded per call.
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from inngest_dsl.spec import _durations
from inngest_dsl.wire._canonical import canonical_text
from inngest_dsl.wire._json import dumps, loads
from inngest_dsl.wire._responses import FAILED_STEP_HEADER

__all__ = [
    "BACKOFF_TABLE",
    "CallOutcome",
    "Op",
    "ProtocolError",
    "backoff_delay",
    "build_call_body",
    "canonical",
    "error_object",
    "event_error",
    "first_event_json",
    "interpret_response",
    "retry_after",
]

BACKOFF_TABLE = (15, 30, 60, 120, 300, 600, 1200, 2400, 3600, 7200)
"""Seconds before retry N+1 after attempt N failed (the last entry repeats)."""

STEP_KINDS = {
    "StepRun": "Run",
    "Step": "Run",
    "StepError": "Run",
    "StepFailed": "Run",
    "StepPlanned": "Run",
    "Sleep": "Sleep",
    "WaitForEvent": "WaitForEvent",
    "InvokeFunction": "InvokeFunction",
}
"""The kind of step each opcode that names one reports (as run records show it)."""

# Opcode names as the server spells them, looked up case-insensitively.
_OPCODES = {
    name.lower(): name
    for name in (
        "None",
        "Step",
        "StepRun",
        "StepError",
        "StepPlanned",
        "Sleep",
        "WaitForEvent",
        "InvokeFunction",
        "AIGateway",
        "Gateway",
        "WaitForSignal",
        "RunComplete",
        "StepFailed",
        "SyncRunComplete",
        "DiscoveryRequest",
        "DeferAdd",
        "DeferAbort",
    )
}


class ProtocolError(ValueError):
    """An app response the executor cannot understand."""


def canonical(value: Any) -> str:
    """JCS (RFC 8785) canonical JSON text, integers exact (`wire._canonical`, as the SDK signs).

    Values JSON cannot carry (NaN, infinities) are written as sorted compact JSON.
    """
    try:
        return canonical_text(value)
    except ValueError:
        return dumps(value, sort_keys=True, ensure_ascii=False).decode("utf-8", "surrogatepass")


def build_call_body(
    *,
    events_json: str,
    memos: Sequence[tuple[str, str]],
    step_id: str,
    run_id: str,
    fn_uuid: str,
    attempt: int,
    max_attempts: int,
    disable_immediate_execution: bool,
    version: int,
    request_id: str,
    job_id: str = "",
) -> bytes:
    """The canonical §6.1 call body. `memos` are `(step id, memo JSON)` in stack order."""
    stack = [step for step, _ in memos]
    ctx = {
        "attempt": attempt,
        "disable_immediate_execution": disable_immediate_execution,
        "env": "",
        "fn_id": fn_uuid,
        "job_id": job_id,
        "max_attempts": max_attempts,
        "request_id": request_id,
        "run_id": run_id,
        "stack": {"current": len(stack), "stack": stack},
        "step_id": step_id,
        "use_api": False,
    }
    # ctx holds only ASCII strings, ints and bools, where sorted compact JSON equals JCS.
    ctx_json = dumps(ctx, sort_keys=True).decode()
    first_event = first_event_json(events_json)
    steps_json = ",".join(f'"{step}":{memo}' for step, memo in sorted(memos))
    return (
        f'{{"ctx":{ctx_json},"defers":{{}},"event":{first_event},"events":{events_json},'
        f'"steps":{{{steps_json}}},"use_api":false,"version":{version}}}'
    ).encode()


@functools.lru_cache(maxsize=256)
def first_event_json(array_json: str) -> str:
    """The first event of a run's canonical JSON events array, as canonical text.

    Remembered for the last runs called: every call of a run sends it again.
    """
    values = loads(array_json)
    return canonical(values[0]) if values else "{}"


@attrs.frozen
class Op:
    """One opcode of a 206 response."""

    op: str
    id: str
    name: str
    display_name: str
    opts: dict[str, Any]
    data: Any
    error: dict[str, Any] | None


@attrs.frozen
class CallOutcome:
    """What one call to the app came to.

    Exactly one of: `completed` (200; `output_json` set), `ops` (206), or an `error` for a
    failed call (non-2xx, transport problem, not an SDK), with `retryable` and `retry_at`.
    `error` is the app's error object as it sent it; `failure` says what went wrong with the
    call, as Inngest words it (`"invalid status code: 500"`), for the events a failed run emits.
    """

    completed: bool = False
    output_json: str | None = None
    ops: tuple[Op, ...] | None = None
    no_retry: bool = False
    error: dict[str, Any] | None = None
    retryable: bool = True
    retry_at: float | None = None
    version: int | None = None
    failure: str | None = None
    failed_step: tuple[str, str] | None = None
    """`(step id, name)` of the step whose error failed the call, when the app says."""


def _failed_step(headers: Mapping[str, str]) -> tuple[str, str] | None:
    text = headers.get(FAILED_STEP_HEADER)
    if not text:
        return None
    try:
        named = json.loads(text)
    except ValueError:
        return None
    if not isinstance(named, dict) or not isinstance(named.get("id"), str) or not named["id"]:
        return None
    name = named.get("name")
    return named["id"], name if isinstance(name, str) else ""


def error_object(name: str, message: str, stack: str | None = None) -> dict[str, Any]:
    """An error in the wire shape `{name, message[, stack]}`."""
    value: dict[str, Any] = {"name": name, "message": message}
    if stack:
        value["stack"] = stack
    return value


DEFAULT_ERROR_MESSAGE = "Function execution error"
"""Inngest's message for a failure that says nothing of itself."""


def event_error(error: Mapping[str, Any], failure: str | None = None) -> dict[str, Any]:
    """A failed run's error as Inngest puts it in `inngest/function.failed` (and `.finished`).

    `{error, name, message, stack}`: `error` is the app's own `error` string if it sent one,
    else what went wrong with the call (`failure`, e.g. `"invalid status code: 500"`), else the
    message; `stack` only when there is one; nothing else of the app's object (no `code`).
    """

    def text(key: str) -> str | None:
        value = error.get(key)
        return value if isinstance(value, str) and value else None

    message = text("message") or failure or DEFAULT_ERROR_MESSAGE
    shaped: dict[str, Any] = {
        "error": text("error") or failure or message,
        "name": text("name") or "Error",
        "message": message,
    }
    stack = text("stack")
    if stack is not None:
        shaped["stack"] = stack
    return shaped


def _as_error(value: Any, fallback: str) -> dict[str, Any]:
    if isinstance(value, Mapping) and ("message" in value or "name" in value):
        # The SDK's error object as it sent it (a `"stack": null` included), with a name and
        # a message when it left them out.
        error = dict(value)
        if not isinstance(error.get("name"), str):
            error["name"] = "Error"
        if not isinstance(error.get("message"), str):
            error["message"] = fallback
        return error
    if isinstance(value, Mapping) and isinstance(value.get("error"), str):
        # An SDK's own refusal, `{"error": ..., "code": ...}`: keep what it says.
        return error_object("Error", value["error"])
    if isinstance(value, str) and value:
        return error_object("Error", value)
    return error_object("Error", fallback)


def _parse_op(raw: Any) -> Op:
    if not isinstance(raw, Mapping):
        raise ProtocolError(f"an opcode must be a JSON object, got {type(raw).__name__}")
    op_name = raw.get("op")
    if not isinstance(op_name, str) or op_name.lower() not in _OPCODES:
        raise ProtocolError(f"unknown opcode {op_name!r}")
    op = _OPCODES[op_name.lower()]
    step_id = raw.get("id")
    if op != "None" and (not isinstance(step_id, str) or not step_id):
        raise ProtocolError(f"{op} opcode without an id")
    name = raw.get("name") if isinstance(raw.get("name"), str) else ""
    display = raw.get("displayName")
    opts = raw.get("opts")
    error = raw.get("error")
    return Op(
        op=op,
        id=step_id or "",
        name=name or "",
        display_name=display if isinstance(display, str) and display else (name or ""),
        opts=dict(opts) if isinstance(opts, Mapping) else {},
        data=raw.get("data"),
        error=_as_error(error, f"step {name or step_id!r} failed") if error is not None else None,
    )


def _header_true(headers: Mapping[str, str], name: str) -> bool:
    return headers.get(name, "").strip().lower() == "true"


def retry_after(value: str | None, now: float) -> float | None:
    """The time a `Retry-After` header names (seconds or a date), clamped to [1 s, 24 h]."""
    if not value:
        return None
    text = value.strip()
    when: float | None = None
    if text.isdigit() and len(text) <= 7:
        when = now + int(text)
    else:
        try:
            when = _durations.parse_instant(text).timestamp()
        except ValueError:
            return None
    return min(max(when, now + 1.0), now + 86400.0)


def backoff_delay(attempt: int, retry_interval: float | None) -> float:
    """Seconds to wait before retrying after zero-based `attempt` failed."""
    if retry_interval is not None:
        return retry_interval
    return float(BACKOFF_TABLE[min(attempt, len(BACKOFF_TABLE) - 1)])


def _decode(body: bytes) -> Any:
    try:
        return loads(body)
    except ValueError:
        # What apps have always been allowed to send: `NaN` and the infinities.
        return json.loads(body)


def interpret_response(
    status: int, headers: Mapping[str, str], body: bytes, now: float
) -> CallOutcome:
    """Classify an app's answer to a call (§6.2, §8 steps 3-4)."""
    version_text = headers.get("X-Inngest-Req-Version")
    version = int(version_text) if version_text and version_text.lstrip("-").isdigit() else None
    no_retry = _header_true(headers, "X-Inngest-No-Retry")
    when = retry_after(headers.get("Retry-After"), now)
    if "X-Inngest-SDK" not in headers:
        return CallOutcome(
            error=error_object(
                "Error",
                f"HTTP {status} without an X-Inngest-SDK header: the URL is not an Inngest app",
            ),
            retryable=not no_retry,
            retry_at=when,
            version=version,
            failure=f"invalid status code: {status}" if status >= 300 else None,
        )
    try:
        value = _decode(body) if body.strip() else None
        decoded = True
    except ValueError:
        value, decoded = body.decode(errors="replace"), False
    if status == 200:
        if not decoded:
            return CallOutcome(
                error=error_object("Error", "the app's 200 response is not JSON"), version=version
            )
        return CallOutcome(completed=True, output_json=canonical(value), version=version)
    if status == 206:
        raws = value if isinstance(value, list) else [value] if decoded and value else []
        try:
            ops = tuple(_parse_op(raw) for raw in raws)
        except ProtocolError as exc:
            return CallOutcome(error=error_object("Error", f"bad 206 response: {exc}"))
        return CallOutcome(ops=ops, no_retry=no_retry, version=version)
    if 200 <= status < 300:
        return CallOutcome(
            error=error_object("Error", f"unexpected HTTP {status} from the app"), version=version
        )
    text = value if isinstance(value, str) else ""
    fallback = f"HTTP {status}" + (f": {text[:500]}" if text else "")
    return CallOutcome(
        error=_as_error(value if isinstance(value, Mapping) else None, fallback),
        retryable=not no_retry,
        retry_at=when,
        version=version,
        failure=f"invalid status code: {status}",
        failed_step=_failed_step(headers),
    )


def deadline(value: str, now: float) -> float:
    """Unix time of a sleep/timeout given as a duration or an instant; raises ValueError."""
    start = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    return _durations.deadline_from(value, start).timestamp()
