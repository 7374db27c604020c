"""A spec's ops made ready for requests: hashed step ids, body kinds, parallel groups.

The per-spec work happens once, in `plan_for`; a request then only reads the plan.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from attrs import field, frozen

from inngest_dsl.engine._outcomes import StepRef, hash_step_id
from inngest_dsl.spec._function import (
    Body,
    EventTrigger,
    FunctionSpec,
    InvokeOp,
    Op,
    ParallelOp,
    RunOp,
    SendEventOp,
    SleepOp,
    SleepUntilOp,
    StepOp,
    WaitForEventOp,
)
from inngest_dsl.spec._payloads import PLAIN, result_type
from inngest_dsl.wire._responses import Userland

__all__ = [
    "GROUP",
    "INVOKE",
    "RUN",
    "SEND",
    "SLEEP",
    "SLEEP_UNTIL",
    "STEP",
    "WAIT",
    "ExecutionPlan",
    "PlannedOp",
    "plan_for",
    "resolved_result_type",
    "verb_of",
]

INVOKED = "inngest/function.invoked"
"""The name of the event an invoked function runs on; its data is the invoker's payload."""

# Kinds of planned op, compared by identity on the hot path.
RUN, STEP, SLEEP, SLEEP_UNTIL, WAIT, INVOKE, SEND, GROUP = range(8)
_KINDS: dict[type, int] = {
    RunOp: RUN,
    StepOp: STEP,
    SleepOp: SLEEP,
    SleepUntilOp: SLEEP_UNTIL,
    WaitForEventOp: WAIT,
    InvokeOp: INVOKE,
    SendEventOp: SEND,
    ParallelOp: GROUP,
}
_VERBS = ("run", "step", "sleep", "sleep_until", "wait_for_event", "invoke", "send_event",
          "parallel")  # fmt: skip


def verb_of(op: Op) -> str:
    """The verb that declares `op` in a class body ("step", "sleep", ...)."""
    return _VERBS[_KINDS[type(op)]]


@frozen
class PlannedOp:
    """One declared op with everything a request needs precomputed.

    `members` are the ops of a parallel group (for the group's marker op only);
    `result_type` is what a step's result is read back as (`PLAIN`: JSON as it is).
    """

    op: Op
    kind: int
    user_id: str
    hashed: str
    index: int | None
    body: Body | None
    is_async: bool
    members: tuple[PlannedOp, ...] = ()
    result_type: Any = PLAIN

    @property
    def userland(self) -> Userland:
        return Userland(id=self.user_id, index=self.index)

    @property
    def ref(self) -> StepRef:
        return StepRef(self.user_id, self.hashed, self.index)

    @property
    def what(self) -> str:
        """How messages name the block: `step 'send welcome'`."""
        return f"{_VERBS[self.kind]} {self.user_id!r}"


@frozen
class ExecutionPlan:
    """A spec's ops, hashed and classified once.

    `ops` matches `spec.ops` one to one; `hashes` maps wire ids to positions in it; `top` are
    the ops the walk visits (a parallel group's members only through the group).

    For typed reads: `steps` finds a step by its method (`ctx[self.charge]`), `event_types`
    maps the names of typed triggers to their `@event_type` classes.
    """

    spec: FunctionSpec
    ops: tuple[PlannedOp, ...]
    hashes: Mapping[str, int]
    top: tuple[PlannedOp, ...]
    rows: tuple[tuple[int, str, str, PlannedOp], ...] = field(init=False)
    steps: Mapping[Callable[..., Any], PlannedOp] = field(init=False)
    event_types: Mapping[str, type[Any]] = field(init=False)

    def event_type_of(self, name: str) -> type[Any] | None:
        """The `@event_type` class the data of a trigger event named `name` is read as."""
        types = self.event_types
        if not types:
            return None
        found = types.get(name)
        if found is None and name == INVOKED and len(set(types.values())) == 1:
            # Invoked: the invoker's payload stands for the function's one typed trigger.
            found = next(iter(types.values()))
        return found

    @steps.default
    def _steps(self) -> Mapping[Callable[..., Any], PlannedOp]:
        # Keyed by the method as written: the testing kit wraps bodies (functools.wraps).
        return {
            inspect.unwrap(p.body): p for p in self.ops if p.kind == STEP and p.body is not None
        }

    @event_types.default
    def _event_types(self) -> Mapping[str, type[Any]]:
        return {
            str(t.event): t.data_type
            for t in self.spec.triggers
            if isinstance(t, EventTrigger) and t.data_type is not None
        }

    @rows.default
    def _rows(self) -> tuple[tuple[int, str, str, PlannedOp], ...]:
        # What the walk reads for every op, unpacked from a tuple rather than looked up.
        return tuple((p.kind, p.hashed, p.user_id, p) for p in self.top)


def _grouped(spec: FunctionSpec, planned: list[PlannedOp]) -> list[PlannedOp]:
    """The top-level ops, each parallel marker carrying its members (which follow it)."""
    top: list[PlannedOp] = []
    position = 0
    while position < len(planned):
        entry = planned[position]
        position += 1
        if entry.kind != GROUP:
            top.append(entry)
            continue
        assert isinstance(entry.op, ParallelOp)
        members = tuple(planned[position : position + entry.op.size])
        position += entry.op.size
        if len(members) != entry.op.size or not members or any(
            member.kind in (RUN, GROUP) for member in members
        ):
            raise ValueError(
                f"function {spec.id!r}: parallel {entry.user_id!r} must be followed by "
                f"{entry.op.size} memoised ops (no run blocks, no nested groups)"
            )
        grouped = attrs.evolve(entry, members=members)
        planned[position - entry.op.size - 1] = grouped
        top.append(grouped)
    return top


@functools.lru_cache(maxsize=4096)
def _resolved(body: Callable[..., Any]) -> Any:
    return result_type(body)


def resolved_result_type(body: Callable[..., Any]) -> Any:
    """`result_type` of `body` (a block's method, a `ctx.step.run` function), once per body.

    A block's is resolved when its function is first planned: its module is loaded by then,
    so a type defined below the class resolves too.
    """
    try:
        return _resolved(inspect.unwrap(body))
    except TypeError:  # not hashable (a callable object): resolve it every time
        return result_type(body)


def _result_type(body: Body) -> Any:
    return resolved_result_type(body)


def plan_for(spec: FunctionSpec) -> ExecutionPlan:
    """The execution plan of `spec` (hashed ids, body kinds): build it once and keep it."""
    seen: dict[str, int] = {}
    planned: list[PlannedOp] = []
    hashes: dict[str, int] = {}
    for op in spec.ops:
        kind = _KINDS[type(op)]
        body: Body | None = getattr(op, "body", None)
        hashed, index = "", None
        if kind not in (RUN, GROUP):
            # Repeats hash "<id>:1", "<id>:2", ... exactly as the official SDKs count them.
            count = seen.get(op.id, 0)
            seen[op.id] = count + 1
            index = count or None
            hashed = hash_step_id(f"{op.id}:{count}" if count else op.id)
            hashes[hashed] = len(planned)
        planned.append(
            PlannedOp(
                op=op,
                kind=kind,
                user_id=op.id,
                hashed=hashed,
                index=index,
                body=body,
                is_async=body is not None and inspect.iscoroutinefunction(body),
                result_type=_result_type(body) if kind == STEP and body is not None else PLAIN,
            )
        )
    top = _grouped(spec, planned)
    return ExecutionPlan(
        spec=spec, ops=tuple(planned), hashes=hashes, top=tuple(top)
    )
