"""Call responses (PROTOCOL §6.2, §7): the opcodes of a 206, errors, the call's result."""

from __future__ import annotations

from typing import Any

from attrs import frozen

from inngest_dsl.wire._json import converter

__all__ = ["CallResult", "ErrorBody", "Opcode", "Userland"]


@frozen
class ErrorBody:
    """An error as the protocol carries it, in step ops and function-level failures."""

    name: str
    message: str
    code: str
    stack: str | None = None


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


def _unstructure_opcode(op: Opcode) -> dict[str, Any]:
    # Hand-written for the hot path; `data` stays present (even null) on StepRun, where a
    # step returning None is still a result.
    wire: dict[str, Any] = {
        "id": op.id,
        "op": op.op,
        "name": op.name,
        "displayName": op.display_name,
        "opts": op.opts,
        "userland": {"id": op.userland.id, "index": op.userland.index},
    }
    if op.op == "StepRun" or op.data is not None:
        wire["data"] = op.data
    if op.error is not None:
        wire["error"] = converter.unstructure(op.error)
    return wire


converter.register_unstructure_hook(Opcode, _unstructure_opcode)


@frozen
class CallResult:
    """What the engine decided for one call: status, JSON body, retry headers.

    `body` is a JSON value that may contain `Event`s (encoded by `dumps`); `no_retry` is the
    value of `X-Inngest-No-Retry` (`None` to omit it), `retry_after` that of `Retry-After`.
    """

    status: int
    body: Any
    no_retry: bool | None = None
    retry_after: str | None = None

    def headers(self) -> dict[str, str]:
        """The retry headers this result adds to the response."""
        headers: dict[str, str] = {}
        if self.no_retry is not None:
            headers["X-Inngest-No-Retry"] = "true" if self.no_retry else "false"
        if self.retry_after is not None:
            headers["Retry-After"] = self.retry_after
        return headers
