"""What one call knows, shared by the walk and by `ctx.step`.

The request (with its memo), the attempt, the serving app and its client, and whoever watches
the steps bodies add at run time. The walk builds it; `ctx.step` reads it and never reaches
back into the walk.
"""

from __future__ import annotations

from typing import Any, Protocol

from attrs import frozen

from inngest_dsl.engine._outcomes import EventSender, StepRef
from inngest_dsl.wire._calls import CallRequest

__all__ = ["ABSENT", "NO_MOCK", "CallState", "StepObserver"]

ABSENT: Any = object()
"""What a memo lookup gives for an op that has not finished."""

NO_MOCK: Any = object()
"""What `StepObserver.dynamic_mock` returns for a step whose function should run."""


class StepObserver(Protocol):
    """What the testing kit is told about dynamic steps (the engine works without one)."""

    def dynamic_reached(self, ref: StepRef, kind: str, callee: type | None) -> None:
        """An unfinished dynamic step of `kind` was run or reported."""

    def dynamic_mock(self, ref: StepRef) -> Any:
        """The mocked result of a dynamic `run` step, or `NO_MOCK`."""

    def dynamic_started(self, ref: StepRef, mocked: bool) -> None:
        """A dynamic `run` step's function is being called (or its mock used)."""

    def dynamic_returned(self, ref: StepRef, value: Any) -> None:
        """A dynamic `run` step's function returned `value`."""

    def dynamic_raised(self, ref: StepRef, exc: BaseException) -> None:
        """A dynamic `run` step's function raised `exc`."""


@frozen
class CallState:
    """One call's facts: `request` (memo and all), this attempt of `max_attempts`, the serving
    app (`app_id`, `client`) and the `observer` of dynamic steps, if any."""

    request: CallRequest
    attempt: int
    max_attempts: int
    app_id: str
    client: EventSender | None
    observer: StepObserver | None

    @property
    def run_id(self) -> str:
        """The run this call belongs to."""
        return self.request.ctx.run_id

    def memo(self, hashed: str) -> Any:
        """The raw memo value of step `hashed`, or `ABSENT` if it has not finished."""
        return self.request.steps.get(hashed, ABSENT)
