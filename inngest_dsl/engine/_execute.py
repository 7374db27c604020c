"""Request time, no I/O of its own: run one call of a function and decide the response.

Resume, don't replay: the op list is declared, so a call walks it once, folds memoised results
into `ctx.data` without calling their bodies, re-runs `run` blocks, and stops at the first
unfinished op. The per-spec work (hashing step ids, classifying bodies, grouping parallel
blocks) happens once, in `plan_for`. The only I/O is what bodies do, and a `send_event`
block's send through the serving client.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
from attrs import field, frozen

from inngest_dsl.engine._context import Context
from inngest_dsl.engine._outcomes import (
    WRAPPED_KEYS,
    StepRef,
    failure,
    function_error,
    hash_step_id,
    invoke_opcode,
    memoised_failure,
    run_step,
    send_step,
    sent_ids,
    sleep_opcode,
    sleep_until_opcode,
    to_events,
    unserialisable,
    wait_opcode,
)
from inngest_dsl.engine._steps import StepObserver, Steps, Stop
from inngest_dsl.errors import EventError
from inngest_dsl.spec._durations import parse_instant
from inngest_dsl.spec._event import Event
from inngest_dsl.spec._function import (
    Body,
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
from inngest_dsl.wire._registration import CallRequest, CallResult, Opcode, Userland, check_json

if TYPE_CHECKING:
    from inngest_dsl.client import Inngest

__all__ = ["ExecutionPlan", "PlannedOp", "execute", "hash_step_id", "plan_for"]

# Kinds of planned op, compared by identity on the hot path.
_RUN, _STEP, _SLEEP, _SLEEP_UNTIL, _WAIT, _INVOKE, _SEND, _GROUP = range(8)
_KINDS: dict[type, int] = {
    RunOp: _RUN,
    StepOp: _STEP,
    SleepOp: _SLEEP,
    SleepUntilOp: _SLEEP_UNTIL,
    WaitForEventOp: _WAIT,
    InvokeOp: _INVOKE,
    SendEventOp: _SEND,
    ParallelOp: _GROUP,
}
_VERBS = ("run", "step", "sleep", "sleep_until", "wait_for_event", "invoke", "send_event",
          "parallel")  # fmt: skip
_ABSENT: Any = object()


def verb_of(op: Op) -> str:
    """The verb that declares `op` in a class body ("step", "sleep", ...)."""
    return _VERBS[_KINDS[type(op)]]


@frozen
class PlannedOp:
    """One declared op with everything a request needs precomputed.

    `members` are the ops of a parallel group (for the group's marker op only).
    """

    op: Op
    kind: int
    user_id: str
    hashed: str
    index: int | None
    body: Body | None
    is_async: bool
    members: tuple[PlannedOp, ...] = ()

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
    """

    spec: FunctionSpec
    ops: tuple[PlannedOp, ...]
    hashes: Mapping[str, int]
    top: tuple[PlannedOp, ...]
    rows: tuple[tuple[int, str, str, PlannedOp], ...] = field(init=False)

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
        if entry.kind != _GROUP:
            top.append(entry)
            continue
        assert isinstance(entry.op, ParallelOp)
        members = tuple(planned[position : position + entry.op.size])
        position += entry.op.size
        if len(members) != entry.op.size or not members or any(
            member.kind in (_RUN, _GROUP) for member in members
        ):
            raise ValueError(
                f"function {spec.id!r}: parallel {entry.user_id!r} must be followed by "
                f"{entry.op.size} memoised ops (no run blocks, no nested groups)"
            )
        grouped = attrs.evolve(entry, members=members)
        planned[position - entry.op.size - 1] = grouped
        top.append(grouped)
    return top


def plan_for(spec: FunctionSpec) -> ExecutionPlan:
    """The execution plan of `spec` (hashed ids, body kinds): build it once and keep it."""
    seen: dict[str, int] = {}
    planned: list[PlannedOp] = []
    hashes: dict[str, int] = {}
    for op in spec.ops:
        kind = _KINDS[type(op)]
        body: Body | None = getattr(op, "body", None)
        hashed, index = "", None
        if kind not in (_RUN, _GROUP):
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
            )
        )
    top = _grouped(spec, planned)
    return ExecutionPlan(
        spec=spec, ops=tuple(planned), hashes=hashes, top=tuple(top)
    )


# ---------------------------------------------------------------------------------------------
# Folding results into ctx.data


def _fold(data: dict[str, Any], key: str, value: Any) -> None:
    """DESIGN §2: a mapping merges, None adds nothing, anything else is stored under `key`."""
    if value is None:
        return
    if isinstance(value, Mapping):
        data.update(value)
    else:
        data[key] = value


def _wait_result(value: Any) -> Any:
    if isinstance(value, dict):
        try:
            return Event.from_wire(value)
        except EventError:
            return value
    return value


def _fold_memo(data: dict[str, Any], entry: PlannedOp, value: Any) -> None:
    """Fold the (unwrapped) memo value of a finished op, by its kind."""
    kind = entry.kind
    if kind in (_STEP, _INVOKE):
        _fold(data, entry.user_id, value)
    elif kind == _WAIT:
        data[entry.user_id] = _wait_result(value)
    elif kind == _SEND:
        _fold(data, entry.user_id, sent_ids(value))
    # Sleeps finish with a bare null and add nothing.


# ---------------------------------------------------------------------------------------------
# The walk


def _context(plan: ExecutionPlan, request: CallRequest, app_id: str) -> Context:
    ctx = request.ctx
    max_attempts = plan.spec.max_attempts if ctx.max_attempts is None else ctx.max_attempts
    return Context(
        event=request.event,
        events=request.events,
        data={},
        run_id=ctx.run_id,
        attempt=ctx.attempt,
        max_attempts=max_attempts,
        function_id=plan.spec.composite_id(app_id) if app_id else plan.spec.id,
    )


async def execute(
    plan: ExecutionPlan,
    request: CallRequest,
    *,
    target: str | None = None,
    app_id: str = "",
    client: Inngest | None = None,
    observer: StepObserver | None = None,
) -> CallResult:
    """Run one call request; `target` is the `stepId` query value (`None`/"step" = discovery).

    `client` is the serving client: `send_event` blocks send through it, and its app id
    names invoked functions (unless `app_id` is given). `observer` watches `ctx.step` calls
    (the testing kit). Never raises for anything user code or the request does: every
    outcome is a `CallResult`.
    """
    if target == "step":
        target = None
    elif target is not None and target in request.steps:
        # A repeated call for a step that already finished: nothing to do. Carrying on as a
        # discovery would report its still-running siblings (a parallel group) a second time.
        return CallResult(206, [])
    if client is not None and not app_id:
        app_id = client.app_id
    ctx = _context(plan, request, app_id)
    # Made on demand: a call that only folds memoised results needs none of it.
    call: _Call | None = None
    data = ctx.data
    memo = request.steps
    for kind, hashed, user_id, entry in plan.rows:
        if kind == _RUN:
            if call is None:
                call = _Call(plan, request, ctx, target, app_id, client, observer)
            steps = call.steps
            # A run block may add steps at run time; they answer to the request's target.
            steps.enter(user_id, target, "")
            try:
                result = await _call_body(entry, call.instance(), ctx)
            except Stop as stop:
                return stop.result
            except Exception as exc:
                return function_error(exc)
            finally:
                steps.leave()
            if steps.stopped is not None:
                return steps.stopped
            if result is not None:
                try:
                    check_json(result)
                except (TypeError, ValueError) as exc:
                    return unserialisable(entry.what, exc)
                _fold(data, user_id, result)
            continue
        if kind == _GROUP:
            if call is None:
                call = _Call(plan, request, ctx, target, app_id, client, observer)
            outcome = await call.group(entry)
            if outcome is not None:
                return outcome
            continue
        value = memo.get(hashed, _ABSENT)
        if value is _ABSENT:
            if call is None:
                call = _Call(plan, request, ctx, target, app_id, client, observer)
            return await call.pending(entry)
        if type(value) is dict and value.keys() <= WRAPPED_KEYS:
            if value.get("error") is not None:
                return memoised_failure(user_id, value["error"])
            value = value.get("data")
        if kind == _STEP:
            # The hot path: memo values are plain JSON, so test exact types before the ABC.
            if type(value) is dict:
                data.update(value)
            elif value is not None:
                _fold(data, user_id, value)
        else:
            _fold_memo(data, entry, value)
    if target is not None:  # a target no block reached
        return _not_found(plan, target)
    return CallResult(200, data)


async def _call_body(entry: PlannedOp, instance: object, ctx: Context) -> Any:
    body = entry.body
    assert body is not None  # planned ops with a body kind always carry one
    if entry.is_async:
        return await body(instance, ctx)
    # Sync bodies may block (requests, time.sleep): keep them off the event loop.
    result = await asyncio.to_thread(body, instance, ctx)
    if inspect.isawaitable(result):
        result = await result
    return result


def _not_found(plan: ExecutionPlan, target: str) -> CallResult:
    return failure(
        f"step {target!r} is not a step of function {plan.spec.id!r}; "
        "was the function changed while this run was in flight?",
        "step_not_found",
        retry=False,
    )


class _Call:
    """One call in progress, for everything off the hot path: pending ops and groups."""

    __slots__ = (
        "_instance",
        "app_id",
        "client",
        "ctx",
        "observer",
        "plan",
        "request",
        "search",
        "steps",
        "target",
    )

    def __init__(
        self,
        plan: ExecutionPlan,
        request: CallRequest,
        ctx: Context,
        target: str | None,
        app_id: str,
        client: Inngest | None,
        observer: StepObserver | None,
    ) -> None:
        self.plan = plan
        self.request = request
        self.ctx = ctx
        self.target = target
        # A target that is no declared op may be a step a body adds at run time: look for it.
        self.search = target is not None and target not in plan.hashes
        self.app_id = app_id
        self.client = client
        self.observer = observer
        self.steps = ctx._steps = Steps(self)
        self._instance: object = None

    def instance(self) -> object:
        """The function class's instance the bodies of this call get as `self`."""
        if self._instance is None:
            self._instance = self.plan.spec.cls()
        return self._instance

    async def body(
        self,
        entry: PlannedOp,
        *,
        block: str | None = None,
        target: str | None = None,
        where: str = "",
    ) -> Any:
        """Call `entry`'s body; only a `block` body may use ctx.step (`where` says why not)."""
        steps = self.steps
        steps.enter(block, target, where or f"in the body of {entry.what}")
        try:
            return await _call_body(entry, self.instance(), self.ctx)
        finally:
            steps.leave()

    def not_found(self) -> CallResult:
        assert self.target is not None
        return _not_found(self.plan, self.target)

    # -- the first unfinished op -----------------------------------------------------------

    async def pending(self, entry: PlannedOp) -> CallResult:
        """Run the op (a step the server lets run now) or report it."""
        target = self.target
        if target is not None and target != entry.hashed:
            if self.search:
                return await self.search_in(entry)
            return failure(
                f"targeted step {target!r} is not the next unfinished op "
                f"(that is {entry.user_id!r}); the run's memo does not match this function",
                "step_unexpected",
                retry=False,
            )
        if entry.kind in (_STEP, _SEND):
            if self.request.ctx.disable_immediate_execution and target is None:
                return CallResult(206, [entry.ref.opcode("StepPlanned", entry.user_id)])
            return await self.run(entry, container=True)
        reported = await self.report(entry)
        if isinstance(reported, CallResult):
            return reported
        return CallResult(206, [reported])

    async def search_in(self, entry: PlannedOp) -> CallResult:
        """The target may be a step `entry`'s body adds at run time: replay it to find out."""
        if entry.kind != _STEP or not entry.is_async:
            return self.not_found()  # sync bodies cannot add steps
        try:
            await self.body(entry, block=entry.user_id, target=self.target)
        except Stop as stop:
            return stop.result
        except Exception as exc:
            return function_error(exc)
        return self.steps.stopped or self.not_found()

    async def run(self, entry: PlannedOp, *, container: bool) -> CallResult:
        """Run a step or send step now; a `container` step's body may use ctx.step."""
        ctx = self.ctx
        assert ctx.max_attempts is not None  # `_context` always sets it
        if entry.kind == _SEND:
            produce = self._sender(entry)
        elif container:

            async def produce() -> Any:
                return await self.body(entry, block=entry.user_id)

        else:

            async def produce() -> Any:
                return await self.body(
                    entry, where=f"in {entry.what}, which is in a parallel group"
                )

        try:
            result = await run_step(
                entry.ref, entry.what, produce, attempt=ctx.attempt, max_attempts=ctx.max_attempts
            )
        except Stop as stop:
            return stop.result
        return self.steps.stopped or result

    def _sender(self, entry: PlannedOp) -> Any:
        op = entry.op
        assert isinstance(op, SendEventOp)

        async def send() -> dict[str, list[str]]:
            if op.events is not None:
                events = list(op.events)
            else:
                events = to_events(entry.what, await self.body(entry))
            return await send_step(
                self.client, entry.what, events, run_id=self.ctx.run_id, hashed=entry.hashed
            )

        return send

    async def report(self, entry: PlannedOp) -> Opcode | CallResult:
        """The opcode of an op the server carries out (sleep, wait, invoke)."""
        op = entry.op
        ref = entry.ref
        if isinstance(op, SleepOp):
            return sleep_opcode(ref, op.duration)
        if isinstance(op, WaitForEventOp):
            return wait_opcode(ref, op.event, op.timeout, op.if_)
        if isinstance(op, SleepUntilOp):
            return await self._sleep_until(entry, op)
        if isinstance(op, InvokeOp):
            return await self._invoke(entry, op)
        # Steps: reported inside a group, to run in their own request.
        return ref.opcode("StepPlanned", entry.user_id)

    async def _sleep_until(self, entry: PlannedOp, op: SleepUntilOp) -> Opcode | CallResult:
        at = op.at
        if at is None:
            try:
                returned = await self.body(entry)
            except Exception as exc:
                return function_error(exc)
            try:
                at = parse_instant(returned)
            except (TypeError, ValueError) as exc:
                return failure(
                    f"{entry.what} must return a datetime or an instant string: {exc}",
                    "invalid_sleep_until",
                    retry=False,
                )
        return sleep_until_opcode(entry.ref, at)

    async def _invoke(self, entry: PlannedOp, op: InvokeOp) -> Opcode | CallResult:
        data: Any = op.data
        if op.body is not None:
            try:
                data = await self.body(entry)
            except Exception as exc:
                return function_error(exc)
            if data is not None and not isinstance(data, Mapping):
                return failure(
                    f"{entry.what} must return a mapping (the invoked function's event data),"
                    f" got {type(data).__name__}",
                    "invalid_invoke_data",
                    retry=False,
                )
            try:
                check_json(data)
            except (TypeError, ValueError) as exc:
                return unserialisable(entry.what, exc)
        return invoke_opcode(entry.ref, op.composite_id(self.app_id), data or {}, op.timeout)

    # -- parallel groups -------------------------------------------------------------------

    async def group(self, entry: PlannedOp) -> CallResult | None:
        """A parallel group: `None` once all members are done (folded in declaration order),
        else the response that moves it on: all unfinished members reported together, or
        the targeted member run."""
        memo = self.request.steps
        done: list[tuple[PlannedOp, Any]] = []
        unfinished: list[PlannedOp] = []
        for member in entry.members:
            value = memo.get(member.hashed, _ABSENT)
            if value is _ABSENT:
                unfinished.append(member)
                continue
            if type(value) is dict and value.keys() <= WRAPPED_KEYS:
                if value.get("error") is not None:
                    return memoised_failure(member.user_id, value["error"])
                value = value.get("data")
            done.append((member, value))
        if not unfinished:
            for member, value in done:
                _fold_memo(self.ctx.data, member, value)
            return None
        target = self.target
        if target is not None:
            for member in unfinished:
                if member.hashed == target and member.kind in (_STEP, _SEND):
                    return await self.run(member, container=False)
            if self.search:
                return self.not_found()
            return failure(
                f"targeted step {target!r} is not an unfinished step of {entry.what}; "
                "the run's memo does not match this function",
                "step_unexpected",
                retry=False,
            )
        reported: list[Opcode] = []
        for member in unfinished:
            op = await self.report(member)
            if isinstance(op, CallResult):
                return op
            reported.append(op)
        return CallResult(206, reported)
