"""`ctx.logger`: each record once per run, not once per request.

A run is many requests, and each re-runs the `run` blocks before its first unfinished op (and
a body using `ctx.step` re-runs up to its first unfinished step). Records made while code
re-runs work an earlier request already did are dropped, as the official SDKs' logger does.
A call knows where the earlier requests got to from its memo: the last op finished (the
request's stack) and the furthest declared op memoised. Code runs anew once the call has
gone past both; a targeted request re-runs everything before its target; a retry re-runs
the `run` blocks an earlier attempt ran.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["LogGate", "RunLogger"]


class LogGate:
    """Whether code running now in one call is new work, whose records should be emitted.

    The walk says where it is (`run_block`, `new_work`); `ctx.step` says which memoised
    steps it read (`read`).
    """

    __slots__ = (
        "_block",
        "_every",
        "_frontier",
        "_furthest",
        "_hashes",
        "_known",
        "_memo",
        "_new",
        "_ops",
        "_retry",
        "_stack",
        "_targeted",
    )  # fmt: skip

    def __init__(
        self,
        ops: Sequence[object],
        hashes: Mapping[str, int],
        memo: Mapping[str, Any],
        stack: tuple[str, ...],
        *,
        targeted: bool,
        attempt: int,
    ) -> None:
        self._ops = ops
        self._hashes = hashes
        self._memo = memo
        self._stack = stack
        self._targeted = targeted
        self._retry = attempt > 0
        self._new = False
        self._known: bool | None = None  # whether the memo was read;, read when first needed
        self._furthest = -1
        self._frontier: str | None = None
        self._block: object = None
        self._every = False

    def _where_earlier_requests_got(self) -> None:
        hashes = self._hashes
        self._furthest = max((hashes.get(h, -1) for h in self._memo), default=-1)
        last = self._stack[-1] if self._stack else None
        # The last op finished was a step added at run time: code before the call reads it
        # again is a replay, whichever block it is in.
        self._frontier = last if last is not None and last not in hashes else None
        self._known = True

    # -- the walk's side -------------------------------------------------------------------

    def run_block(self, op: object, every_request: bool = False) -> None:
        """The `run` block `op`, one of the plan's ops, starts (`None`: it ended)."""
        self._block = op
        self._every = every_request

    def new_work(self, *, may_replay: bool = False) -> None:
        """The call reached what no earlier request did: an op or a step to run or report.

        `may_replay`: it is a block whose body may replay the step the frontier is.
        """
        self._new = True
        if not may_replay:
            if not self._known:
                self._where_earlier_requests_got()
            self._frontier = None

    def read(self, hashed: str) -> None:
        """`ctx.step` returned the memoised result of step `hashed`."""
        if not self._known:
            self._where_earlier_requests_got()
        if hashed == self._frontier:
            self._frontier = None

    # -- the logger's side -----------------------------------------------------------------

    def emits(self) -> bool:
        """Whether a record made now is new work."""
        if self._block is not None and self._every:
            return True
        if not self._known:
            self._where_earlier_requests_got()
        if self._frontier is not None:
            return False
        if self._new:
            return True
        block = self._block
        if block is None or self._targeted or self._retry:
            return False
        # A run block is new when no op after it has finished yet.
        position = next(i for i, op in enumerate(self._ops) if op is block)
        return position > self._furthest


class RunLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """`ctx.logger`: the function's logger, silent while the call re-runs done work."""

    def __init__(self, logger: logging.Logger | logging.LoggerAdapter[Any], gate: LogGate) -> None:
        super().__init__(logger, {})
        self.gate = gate

    def isEnabledFor(self, level: int) -> bool:
        return self.gate.emits() and self.logger.isEnabledFor(level)

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return msg, kwargs
