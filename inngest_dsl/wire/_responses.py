"""Call responses (PROTOCOL §6.2, §7): the opcodes of a 206, errors, the call's result."""

from __future__ import annotations

import json
from typing import Any

from attrs import field, frozen

from inngest_dsl.wire._json import converter, dumps

__all__ = [
    "FAILED_STEP_HEADER",
    "CallResult",
    "ErrorBody",
    "Opcode",
    "Userland",
    "encode_result_body",
]


@frozen
class ErrorBody:
    """An error as the protocol carries it, in step ops and function-level failures.

    On the wire as the official Python SDK writes it: `code`, `message`, `name`, `stack`, in
    that order, `stack` present (`null`) even when there is none.
    """

    name: str
    message: str
    code: str
    stack: str | None = None


def _unstructure_error(error: ErrorBody) -> dict[str, Any]:
    return {
        "code": error.code,
        "message": error.message,
        "name": error.name,
        "stack": error.stack,
    }


converter.register_unstructure_hook(ErrorBody, _unstructure_error)


@frozen
class Userland:
    """The step id as the user wrote it, and which repeat of it this is (`None` for the first)."""

    id: str
    index: int | None = None


@frozen
class Opcode:
    """One op reported in a 206 response."""

    op: str
    id: str
    name: str
    display_name: str
    userland: Userland
    opts: dict[str, Any] | None = None
    data: Any = None
    error: ErrorBody | None = None
    encoded: tuple[Any, bytes] | None = field(default=None, eq=False, repr=False)
    """`(data, its JSON)` when `data` was encoded as it was checked, so it is not encoded
    again: `encode_result_body` splices the JSON in while `data` is still that object."""


def _unstructure_opcode(op: Opcode) -> dict[str, Any]:
    # Hand-written for the hot path, in the official Python SDK's key order; `data` is on every
    # opcode (`null` when there is none), as Inngest's expected responses have it.
    wire: dict[str, Any] = {
        "displayName": op.display_name,
        "id": op.id,
        "name": op.name,
        "op": op.op,
        "opts": op.opts,
        "userland": {"id": op.userland.id, "index": op.userland.index},
    }
    if op.error is not None:
        wire["error"] = _unstructure_error(op.error)
    wire["data"] = op.data
    return wire


converter.register_unstructure_hook(Opcode, _unstructure_opcode)

_NULL_DATA_END = b'"data":null}'


def _encode_opcode(op: Opcode) -> bytes:
    encoded = op.encoded
    if encoded is None or encoded[0] is not op.data:
        return dumps(_unstructure_opcode(op))
    wire = _unstructure_opcode(op)
    wire["data"] = None  # `data` is the last key: its JSON goes where this `null` was
    out = dumps(wire)
    return out[: -len(_NULL_DATA_END)] + b'"data":' + encoded[1] + b"}"


def encode_result_body(body: Any) -> bytes:
    """`dumps(body)`, byte for byte, with the step results of its opcodes not encoded twice."""
    if type(body) is list and body and all(type(op) is Opcode for op in body):
        return b"[" + b",".join(_encode_opcode(op) for op in body) + b"]"
    return dumps(body)


FAILED_STEP_HEADER = "X-Inngest-Failed-Step"
"""Response header naming, as ASCII JSON `{"id", "name"}`, the step whose error failed a call."""


@frozen
class CallResult:
    """What the engine decided for one call: status, JSON body, retry headers.

    `body` is a JSON value that may contain `Event`s (encoded by `dumps`); `no_retry` is the
    value of `X-Inngest-No-Retry` (`None` to omit it), `retry_after` that of `Retry-After`.
    `failed_step` is `(hashed id, name)` of the step whose error fails the whole call
    (`NonRetriableError`, `RetryAfterError`), sent as `FAILED_STEP_HEADER` so that a server
    can show the step; the official SDKs name none.
    """

    status: int
    body: Any
    no_retry: bool | None = None
    retry_after: str | None = None
    failed_step: tuple[str, str] | None = None

    def headers(self) -> dict[str, str]:
        """The retry headers this result adds to the response."""
        headers: dict[str, str] = {}
        if self.no_retry is not None:
            headers["X-Inngest-No-Retry"] = "true" if self.no_retry else "false"
        if self.retry_after is not None:
            headers["Retry-After"] = self.retry_after
        if self.failed_step is not None:
            hashed, name = self.failed_step
            headers[FAILED_STEP_HEADER] = json.dumps({"id": hashed, "name": name})
        return headers
