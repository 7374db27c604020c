"""What `run_function` is given, checked: the triggering events, mocks, scripted waits, the
start time. Every problem is a `RunFunctionError` saying what to pass instead."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from inngest_dsl.devserver.core.matching import evaluate, trigger_names
from inngest_dsl.errors import EventError, InngestError
from inngest_dsl.spec._cron import scheduled_event
from inngest_dsl.spec._event import Event, to_events
from inngest_dsl.spec._event_types import event_name
from inngest_dsl.spec._function import (
    CronTrigger,
    EventTrigger,
    FunctionSpec,
    InvokeOp,
    RunOp,
    SleepUntilOp,
    StepOp,
    WaitForEventOp,
)
from inngest_dsl.testing._environment import adds_steps
from inngest_dsl.testing._step_keys import (
    CtxStep,
    did_you_mean,
    method_id,
    unknown_id_problem,
)
from inngest_dsl.testing._time import TestEnvironmentError, start_instant
from inngest_dsl.wire._json import dumps

__all__ = [
    "EventLike",
    "Mocks",
    "RunFunctionError",
    "check_mocks",
    "check_trigger",
    "check_waits",
    "default_event",
    "json_round_trip",
    "mockable",
    "start_time",
    "to_event",
]

EventLike = Event | Mapping[str, Any] | attrs.AttrsInstance
"""An `Event`, a mapping with its fields (`name`, `data`, `user`, `id`, `ts`, `v`), or an
instance of an `@event_type` class (the event's data; the class gives the name)."""
_EVENT_FIELDS = frozenset({"name", "data", "user", "id", "ts", "v"})


class RunFunctionError(InngestError):
    """`run_function` cannot drive the run as asked: a wait with no scripted event, a mock for
    a block that does not exist, an invoke with neither a mock nor a callee class, a run that
    never ends, an input that is not valid."""




def json_round_trip(value: Any, where: str) -> Any:
    """`value` as it arrives on the other side of the wire (tuples become lists, ...)."""
    try:
        return json.loads(dumps(value))
    except (TypeError, ValueError) as exc:
        raise RunFunctionError(f"{where} is not JSON-serialisable: {exc}") from None


def to_event(value: object, where: str, default_name: str | None = None) -> Event:
    """An event given to the kit (`where` names it), as the function would receive it."""
    if isinstance(value, Event):
        wire: Mapping[str, Any] = value.to_wire()
    elif event_name(type(value)) is not None:
        try:
            wire = to_events(value)[0].to_wire()  # type: ignore[arg-type]  # a typed event
        except EventError as exc:
            raise RunFunctionError(f"{where}: {exc}") from None
    elif isinstance(value, Mapping):
        unknown = sorted(str(key) for key in set(value) - _EVENT_FIELDS)
        if unknown:
            raise RunFunctionError(
                f"{where}: unknown event field(s) {', '.join(unknown)}; "
                f"an event has {', '.join(sorted(_EVENT_FIELDS))}"
            )
        wire = value if "name" in value or default_name is None else {**value, "name": default_name}
        if "name" not in wire:
            raise RunFunctionError(f"{where}: the event has no name")
    else:
        raise RunFunctionError(
            f"{where} must be an Event, a mapping such as "
            f"{{'name': 'app/thing.happened', 'data': {{...}}}} or an instance of an "
            f"@event_type class, got {type(value).__name__}"
        )
    try:
        # As the function would receive it: through JSON. Reserved `inngest/...` names are
        # allowed, since the server sends those too.
        return Event.from_wire(json_round_trip(dict(wire), where))
    except EventError as exc:
        raise RunFunctionError(f"{where}: {exc}") from None


def default_event(spec: FunctionSpec, now: _dt.datetime) -> Event:
    """The event a run of `spec` gets when the test gives none: its trigger's, empty."""
    for trigger in spec.triggers:
        if isinstance(trigger, EventTrigger) and "*" not in trigger.event:
            return Event.from_wire({"name": trigger.event, "data": {}})
        if isinstance(trigger, CronTrigger):
            return Event.from_wire(scheduled_event(trigger.cron, now, now))
    raise RunFunctionError(
        f"function {spec.id!r} has no trigger to make a default event from; pass event="
    )


def _block_indexes(spec: FunctionSpec) -> dict[str, list[int]]:
    indexes: dict[str, list[int]] = {}
    for index, op in enumerate(spec.ops):
        indexes.setdefault(op.id, []).append(index)
    return indexes


def mockable(spec: FunctionSpec) -> list[str]:
    """The ids of `spec`'s blocks that `steps=` can mock."""
    return [
        op.id
        for op in spec.ops
        if getattr(op, "body", None) is not None or isinstance(op, InvokeOp)
    ]


@attrs.define
class Mocks:
    """`steps=` sorted out: declared bodies by index, invokes and steps added at run time by id.

    An id that is no declared block may be a `ctx.step` step: whether it is shows only once
    the run has ended, so such mocks are checked then (`unused`).
    """

    bodies: dict[int, Any] = attrs.field(factory=dict)
    by_id: dict[str, Any] = attrs.field(factory=dict)
    dynamic: set[str] = attrs.field(factory=set)
    used: set[str] = attrs.field(factory=set)

    def unused(self) -> list[str]:
        return sorted(self.dynamic - self.used)


def _key_id(
    spec: FunctionSpec, key: object, handles: tuple[type, ...], given: str
) -> tuple[str, bool]:
    """The id a `steps=` / `waits=` key names, and whether it is a `ctx_step(...)` key."""
    if isinstance(key, CtxStep):
        return key.id, True
    if isinstance(key, handles):
        return str(getattr(key, "id")), False  # noqa: B009 - any of the handle classes
    try:
        method = method_id(key, [spec])
    except ValueError as exc:
        raise RunFunctionError(f"{given} {exc}") from None
    if method is not None:
        return method, False
    if not isinstance(key, str):
        raise RunFunctionError(
            f"{given} keys are block ids (strings), handles from the class body (a block's "
            f"method, as Checkout.charge) or ctx_step('id'), got {key!r}"
        )
    return key, False


def _no_steps_added(spec: FunctionSpec, given: str, key_id: str) -> RunFunctionError:
    return RunFunctionError(
        f"{given} ctx_step({key_id!r}), but function {spec.id!r} adds no steps at run time "
        "(only async run and step bodies can use ctx.step)"
    )


def check_mocks(spec: FunctionSpec, steps: Mapping[Any, Any] | None) -> Mocks:
    """`steps=` sorted out by what each id mocks, before anything runs.

    `RunFunctionError` for an id that is no block with a body, unless a body may add a step
    of that id at run time (then the run checks it was used); an id close to a block's is
    taken for a misspelling (`ctx_step(id)` says it is not).
    """
    mocks = Mocks()
    indexes = _block_indexes(spec)
    can_mock = mockable(spec)
    dynamic_ok = adds_steps(spec)
    given = "steps= mocks"
    for key, value in (steps or {}).items():
        block_id, dynamic = _key_id(spec, key, (RunOp, StepOp, SleepUntilOp, InvokeOp), given)
        if dynamic:
            if not dynamic_ok:
                raise _no_steps_added(spec, given, block_id)
            mocks.by_id[block_id] = value
            mocks.dynamic.add(block_id)
            continue
        found = [i for i in indexes.get(block_id, ()) if spec.ops[i].id in can_mock]
        if not found:
            is_wait = any(
                isinstance(spec.ops[i], WaitForEventOp) for i in indexes.get(block_id, ())
            )
            if is_wait:
                raise RunFunctionError(
                    f"{given} {block_id!r}, which is a wait_for_event of function "
                    f"{spec.id!r}: script it with waits={{{block_id!r}: ...}}"
                )
            problem = unknown_id_problem(
                given,
                block_id,
                f"a block with a body of function {spec.id!r}",
                can_mock,
                "blocks that can be mocked",
                adds_steps=dynamic_ok,
            )
            if problem is not None:
                raise RunFunctionError(problem)
            mocks.dynamic.add(block_id)
        mocks.by_id[block_id] = value
        for index in found:
            if not isinstance(spec.ops[index], InvokeOp):  # an invoke's mock is its result
                mocks.bodies[index] = value
    return mocks


def check_waits(
    spec: FunctionSpec, waits: Mapping[Any, Any] | None
) -> tuple[dict[str, Any], set[str]]:
    """The scripted waits by id, and those that are no declared wait (maybe `ctx.step` ones),
    checked as `check_mocks` checks mocks."""
    wait_ids = [op.id for op in spec.ops if isinstance(op, WaitForEventOp)]
    dynamic_ok = adds_steps(spec)
    given = "waits= scripts"
    scripted: dict[str, Any] = {}
    dynamic: set[str] = set()
    for key, value in (waits or {}).items():
        wait_id, is_dynamic = _key_id(spec, key, (WaitForEventOp,), given)
        if is_dynamic and not dynamic_ok:
            raise _no_steps_added(spec, given, wait_id)
        if is_dynamic or wait_id not in wait_ids:
            problem = None if is_dynamic else unknown_id_problem(
                given,
                wait_id,
                f"a wait_for_event of function {spec.id!r}",
                wait_ids,
                "its waits",
                adds_steps=dynamic_ok,
            )
            if problem is not None:
                raise RunFunctionError(problem)
            dynamic.add(wait_id)
        scripted[wait_id] = value
    return scripted, dynamic


def check_trigger(spec: FunctionSpec, events: Sequence[Event]) -> None:
    """`RunFunctionError` for an event none of the function's triggers would start it for:
    none has its name, or each that has it has an expression (`if_=`) that is false for it,
    as the server evaluates it (the events Inngest itself sends for invokes, schedules and
    failures aside)."""
    triggers = [
        (t.event, t.expression)
        for t in spec.triggers
        if isinstance(t, EventTrigger) and isinstance(t.event, str)
    ]
    names = [name for name, _ in triggers]
    for event in events:
        if event.name.startswith("inngest/"):
            continue
        named = [expression for name, expression in triggers if trigger_names(name, event.name)]
        if not named:
            listed = ", ".join(map(repr, names)) if names else "none (it runs on a schedule)"
            raise RunFunctionError(
                f"event {event.name!r} would never start function {spec.id!r}"
                f"{did_you_mean(event.name, names)} (its event triggers: {listed})"
            )
        wire = {"event": event.to_wire()}
        if not any(expression is None or evaluate(expression, wire) for expression in named):
            false = " nor ".join(map(repr, named))
            raise RunFunctionError(
                f"function {spec.id!r} would not be triggered by this {event.name!r} event: "
                f"its trigger's expression {false} is not true for it (data: "
                f"{dumps(event.data).decode()}); give an event the function would run for"
            )


def start_time(now: _dt.datetime | str | None) -> _dt.datetime:
    """The virtual start of a run: `now=`, or the real time now."""
    try:
        return start_instant(now)
    except TestEnvironmentError as exc:
        raise RunFunctionError(str(exc)) from None
