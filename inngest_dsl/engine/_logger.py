"""`ctx.logger`: each record once per run, not once per request.

A run is many requests, and each re-runs the `run` blocks before its first unfinished op (and
a body using `ctx.step` re-runs up to its first unfinished step). Records made while code
re-runs work an earlier request already did are dropped, as the official SDKs' logger does.
A call knows where the earlier requests got to from its memo: a `run` block with a finished
op after it ran before, and while the last op finished (the request's stack) is a step added
at run time, code before the call reads it again is a replay. Once the call reaches an op or
step no earlier request finished, what runs is new. A targeted request re-runs everything
before its target, and a retry the `run` blocks an earlier attempt ran.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from inngest_dsl.engine._plan import PlannedOp

__all__ = ["LogGate", "RunLogger"]


class LogGate:
    """Whether code running now in one call is new work, whose records should be emitted.

    The walk says where it is (`run_block`, `new_work`); `ctx.step` says which memoised
    steps it read (`read`). Nothing is worked out until a record asks.
    """

    __slots__ = (
        "_block",
        "_every",
        "_frontier",
        "_hashes",
        "_known",
        "_memo",
        "_new",
        "_retry",
        "_stack",
        "_targeted",
        "_top",
    )  # fmt: skip

    def __init__(
        self,
        top: Sequence[PlannedOp],
        hashes: Mapping[str, int],
        memo: Mapping[str, Any],
        stack: tuple[str, ...],
        *,
        targeted: bool,
        attempt: int,
    ) -> None:
        self._top = top
        self._hashes = hashes
        self._memo = memo
        self._stack = stack
        self._targeted = targeted
        self._retry = attempt > 0
        self._new = False
        self._known = False  # the stack is read when first needed
        self._frontier: str | None = None
        self._block: PlannedOp | None = None
        self._every = False

    def _read_stack(self) -> None:
        last = self._stack[-1] if self._stack else None
        # The last op finished was a step added at run time: code before the call reads it
        # again is a replay, whichever block it is in.
        self._frontier = last if last is not None and last not in self._hashes else None
        self._known = True

    def _done_after(self, block: PlannedOp) -> bool:
        """Whether an op declared after `block` has finished: an earlier request got past it."""
        memo = self._memo
        top = self._top
        # Where the block is: found only when a record asks, and the search stops at the
        # first finished op, which in a replay is usually the next one.
        position = next(i for i, entry in enumerate(top) if entry is block)
        for entry in top[position + 1 :]:
            if entry.hashed in memo or any(m.hashed in memo for m in entry.members):
                return True
        return False

    # -- the walk's side -------------------------------------------------------------------

    def run_block(self, block: PlannedOp | None, every_request: bool = False) -> None:
        """The `run` block `block`, one of the plan's top ops, starts (`None`: it ended)."""
        self._block = block
        self._every = every_request

    def new_work(self, *, may_replay: bool = False) -> None:
        """The call reached what no earlier request did: an op or a step to run or report.

        `may_replay`: it is a block whose body may replay the step the frontier is.
        """
        self._new = True
        if not may_replay:
            self._known = True
            self._frontier = None

    def read(self, hashed: str) -> None:
        """`ctx.step` returned the memoised result of step `hashed`."""
        if not self._known:
            self._read_stack()
        if hashed == self._frontier:
            self._frontier = None

    # -- the logger's side -----------------------------------------------------------------

    def emits(self) -> bool:
        """Whether a record made now is new work."""
        block = self._block
        if block is not None and self._every:
            return True
        if not self._known:
            self._read_stack()
        if self._frontier is not None:
            return False
        if self._new:
            return True
        if block is None or self._targeted or self._retry:
            return False
        return not self._done_after(block)


class RunLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """`ctx.logger`: the function's logger, silent while the call re-runs done work."""

    def __init__(self, logger: logging.Logger | logging.LoggerAdapter[Any], gate: LogGate) -> None:
        super().__init__(logger, {})
        self.gate = gate

    def isEnabledFor(self, level: int) -> bool:
        return self.logger.isEnabledFor(level) and self.gate.emits()

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        # The adapter's own would replace the caller's `extra=`; it has none to add.
        return msg, kwargs
