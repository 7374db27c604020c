"""What a block body receives: the triggering event(s), the data accumulated so far, run facts."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, overload

from attrs import define, field

from inngest_dsl.spec._function import WaitForEventOp

if TYPE_CHECKING:
    from inngest_dsl.engine._steps import Steps
    from inngest_dsl.spec._event import Event

__all__ = ["Context"]

_default_logger = logging.getLogger("inngest_dsl.function")


@define(eq=False)
class Context:
    """The per-request view of a run, passed to every block as `ctx`.

    `data` holds the results of the blocks before this one, folded in declaration order;
    `ctx[self.some_wait]` reads a wait's event (or `None` after a timeout).

    Run facts: `run_id`; `attempt`, counted from 0 for each step or request (a retry is 1),
    of `max_attempts`; `function_id`, the wire id; `request_id`, the id of this one request,
    and `job_id`, that of the queue item it runs for (from the call's `ctx`, else its
    `X-Request-ID` / `X-Inngest-Job-Id` headers; `""` when the server sends none).
    """

    event: Event
    events: tuple[Event, ...]
    data: dict[str, Any] = field(factory=dict)
    run_id: str = ""
    attempt: int = 0
    max_attempts: int | None = None
    function_id: str = ""
    request_id: str = ""
    job_id: str = ""
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger] = _default_logger
    _steps: Steps | None = field(default=None, repr=False, alias="_steps")

    @property
    def step(self) -> Steps:
        """Steps added at run time, in async `run` and `step` blocks.

        `await ctx.step.run("id", fn, *args)`, `.sleep`, `.sleep_until`, `.wait_for_event`,
        `.invoke`, `.send_event`, `.parallel`. Each is memoised; a block using them is
        replayed until they are all done (code between them re-runs), then goes on.
        """
        steps = self._steps
        if steps is None:
            raise RuntimeError(
                "ctx.step is only available in the blocks of a function the engine is running"
            )
        return steps

    @overload
    def __getitem__(self, key: WaitForEventOp) -> Event | None: ...

    @overload
    def __getitem__(self, key: str) -> Any: ...

    def __getitem__(self, key: str | WaitForEventOp) -> Any:
        if isinstance(key, WaitForEventOp):
            return self.data.get(key.id)
        return self.data[key]
