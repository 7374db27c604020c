"""Definition time: the class-body verbs and the metaclass that records them.

The metaclass's `__prepare__` hands the class body a recording namespace (as `enum` does);
each verb finds that namespace one frame up and appends what it declares, in order. When the
class is complete, `InngestFunction.__init_subclass__` compiles the declarations into a frozen
`FunctionSpec` and reports every problem at once in one `DefinitionError`.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

import attrs
from attrs import define, field

from inngest_dsl.dsl._compile import compile_function
from inngest_dsl.errors import DefinitionError, EventError
from inngest_dsl.spec._durations import format_duration, parse_duration, parse_instant
from inngest_dsl.spec._event import Event, to_events
from inngest_dsl.spec._expressions import match_expression
from inngest_dsl.spec._function import (
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
from inngest_dsl.spec._options import (
    Batch,
    Cancel,
    Concurrency,
    Debounce,
    Priority,
    RateLimit,
    Singleton,
    Throttle,
    Timeouts,
)

__all__ = [
    "InngestFunction",
    "invoke",
    "on_failure",
    "parallel",
    "run",
    "send_event",
    "sleep",
    "sleep_until",
    "step",
    "wait_for_event",
]

F = TypeVar("F", bound=Callable[..., Any])
# A failure handler: `(self, ctx: Context, failure: Failure)`. Definition time names no
# request-time types; the arity is what a type checker can hold a handler to here.
H = TypeVar("H", bound=Callable[[Any, Any, Any], Any])

_NO_TIMEOUT = _dt.timedelta(0)


@define
class _Pending:
    """A block whose body arrives later, from the decorator the verb returned."""

    kind: str
    id: str
    body: Callable[..., Any] | None = None
    applied: bool = False


@define
class _Declarations:
    """What one class body declared: ops in order, and the problems found on the way."""

    items: list[Op | _Pending | _Deferred] = field(factory=list)
    explicit_ids: list[str] = field(factory=list)
    problems: list[str] = field(factory=list)
    failure_handlers: list[Callable[..., Any]] = field(factory=list)
    open_group: str | None = None
    groups: list[_ParallelGroup] = field(factory=list)


class _Namespace(dict[str, Any]):
    """The class-body namespace: an ordinary dict that also records declarations."""

    def __init__(self) -> None:
        super().__init__()
        self.declarations = _Declarations()


def _declarations(verb: str) -> _Declarations:
    # The verb's caller is the first frame outside this module; it must be a class body
    # executing in our recording namespace.
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals is globals():
        frame = frame.f_back
    namespace = frame.f_locals
    if not isinstance(namespace, _Namespace):
        raise DefinitionError(
            f"{verb}()",
            [f"{verb}() can only be called in the body of an InngestFunction subclass"],
        )
    return namespace.declarations


def _check_message(decl: _Declarations, verb: str, message: object, id: str | None) -> str:
    if callable(message):
        decl.problems.append(f'{verb}: give the block a message, as in @{verb}("send welcome")')
        return getattr(message, "__name__", verb)
    if not isinstance(message, str) or not message.strip():
        decl.problems.append(f"{verb}: the message must be a non-empty string, got {message!r}")
        return str(message)
    if id is not None and (not isinstance(id, str) or not id.strip()):
        decl.problems.append(f"{verb} {message!r}: id= must be a non-empty string, got {id!r}")
        return message
    block_id = id if id is not None else message
    decl.explicit_ids.append(block_id)
    return block_id


def _decorator_verb(kind: str, message: str, id: str | None) -> Callable[[F], F]:
    decl = _declarations(kind)
    pending = _Pending(kind, _check_message(decl, kind, message, id))
    decl.items.append(pending)

    def attach(body: F) -> F:
        pending.body = body
        pending.applied = True
        return body

    return attach


def run(message: str, *, id: str | None = None) -> Callable[[F], F]:
    """Declare a block that runs on every request reaching it (not memoised).

    Use as a decorator on a `(self, ctx)` method, sync or async.
    """
    return _decorator_verb("run", message, id)


def step(message: str, *, id: str | None = None) -> Callable[[F], F]:
    """Declare a memoised step: it runs once, its result is kept, and it is retried on its own.

    Use as a decorator on a `(self, ctx)` method, sync or async; its id is the message.
    """
    return _decorator_verb("step", message, id)


def sleep(duration: str | _dt.timedelta, *, id: str | None = None) -> None:
    """Declare a pause of `duration` (`"30s"`, `"1h30m"`, `"1.5d"` or a `timedelta`)."""
    decl = _declarations("sleep")
    try:
        delta = parse_duration(duration)
    except (TypeError, ValueError) as exc:
        decl.problems.append(f"sleep: {exc}")
        return
    if id is None:
        # Automatic ids may repeat; the wire hashes repeats as "<id>:1", "<id>:2", ...
        block_id = f"sleep {format_duration(delta)}"
    else:
        block_id = _check_message(decl, "sleep", id, None)
    decl.items.append(SleepOp(id=block_id, duration=delta))


@overload
def sleep_until(
    message: str, *, at: str | _dt.datetime | _dt.date, id: str | None = None
) -> None: ...


@overload
def sleep_until(message: str, *, id: str | None = None) -> Callable[[F], F]: ...


def sleep_until(
    message: str,
    *,
    at: str | _dt.datetime | _dt.date | None = None,
    id: str | None = None,
) -> Callable[[F], F] | None:
    """Declare a pause until an instant.

    Either give the instant now, `sleep_until("launch", at="2027-01-01T09:00:00Z")`, or decorate
    a `(self, ctx)` method returning it (a `datetime` or a string in an accepted layout).
    """
    if at is None:
        return _decorator_verb("sleep_until", message, id)
    decl = _declarations("sleep_until")
    block_id = _check_message(decl, "sleep_until", message, id)
    try:
        instant = parse_instant(at)
    except (TypeError, ValueError) as exc:
        decl.problems.append(f"sleep_until {block_id!r}: {exc}")
        return None
    decl.items.append(SleepUntilOp(id=block_id, at=instant))
    return None


def wait_for_event(
    event: str,
    *,
    timeout: str | _dt.timedelta | None = None,
    match: str | None = None,
    if_: str | None = None,
    id: str | None = None,
) -> WaitForEventOp:
    """Declare a wait for a later event named `event`, for at most `timeout`.

    `match="data.user_id"` pairs it with the triggering event on that field; `if_=` takes a
    full expression over `event` (the trigger) and `async` (the candidate). Returns a handle:
    `ctx[self.handle]` is the event, or `None` after a timeout.
    """
    decl = _declarations("wait_for_event")
    if not isinstance(event, str) or not event.strip():
        decl.problems.append(
            f"wait_for_event: the event name must be a non-empty string, got {event!r}"
        )
        event = str(event)
    block_id = _check_message(decl, "wait_for_event", event, id)
    where = f"wait_for_event {block_id!r}"
    delta = _NO_TIMEOUT
    if timeout is None:
        decl.problems.append(f"{where}: timeout= is required (e.g. timeout='1d')")
    else:
        try:
            delta = parse_duration(timeout)
        except (TypeError, ValueError) as exc:
            decl.problems.append(f"{where}: timeout: {exc}")
    expression = if_
    if match is not None and if_ is not None:
        decl.problems.append(f"{where}: give match= or if_=, not both")
    elif match is not None:
        if not isinstance(match, str) or not match.strip():
            decl.problems.append(f"{where}: match= must be a field path such as 'data.user_id'")
        else:
            expression = match_expression(match)
    op = WaitForEventOp(id=block_id, event=event, timeout=delta, if_=expression)
    decl.items.append(op)
    return op


@overload
def on_failure(handler: H) -> H: ...


@overload
def on_failure() -> Callable[[H], H]: ...


def on_failure(handler: H | None = None) -> H | Callable[[H], H]:
    """Declare the method that runs after the function has failed for good (retries exhausted).

    Use as a decorator, `@on_failure` (or `@on_failure()`), once per class, on a
    `(self, ctx, failure)` method, sync or async; `failure` is a `Failure` (the failed run's
    event, its error as a `StepError`, its run id). Inngest runs it as a companion function,
    `<id>-failure`, which is not retried.
    """
    decl = _declarations("on_failure")
    if handler is None:
        return lambda method: _failure_handler(decl, method)
    return _failure_handler(decl, handler)


def _failure_handler(decl: _Declarations, handler: H) -> H:
    if isinstance(handler, str):
        decl.problems.append(
            "on_failure takes no message: write @on_failure above the method, "
            f"not @on_failure({handler!r})"
        )
        return _unchanged  # keeps the class body running
    name = getattr(handler, "__name__", repr(handler))
    if not callable(handler):
        decl.problems.append(f"on_failure: the decorated object is not callable: {handler!r}")
    elif decl.failure_handlers:
        first = getattr(decl.failure_handlers[0], "__name__", "?")
        decl.problems.append(
            f"on_failure: a function has one failure handler, got {first!r} and {name!r}"
        )
    else:
        try:
            inspect.signature(handler).bind(None, None, None)
        except TypeError:
            decl.problems.append(
                f"on_failure {name!r}: the method must take (self, ctx, failure)"
            )
        except ValueError:  # no signature to inspect (some builtins): trust the caller
            pass
        decl.failure_handlers.append(handler)
    return handler


def _unchanged(method: H) -> H:
    return method


@define
class _Deferred:
    """A block that works either as given (plain form) or with a body from its decorator."""

    template: InvokeOp | SendEventOp
    verb: str
    # The keyword that gave the plain form its value (`data=`), if given; and the one the
    # plain form cannot do without (`events=`), if any.
    static: str | None = None
    required: str | None = None
    body: Callable[..., Any] | None = None
    applied: bool = False

    def attach(self, body: F) -> F:
        self.body = body
        self.applied = True
        return body

    def finish(self, ops: list[Op], problems: list[str]) -> None:
        where = f"{self.verb} {self.template.id!r}"
        if not self.applied:
            if self.required is not None and self.static is None:
                problems.append(
                    f"{where}: give {self.required} or decorate a method that returns them"
                )
            else:
                ops.append(self.template)
        elif self.static is not None:
            problems.append(f"{where}: give {self.static} or decorate a method, not both")
        elif not callable(self.body):
            problems.append(f"{where}: the decorated object is not callable: {self.body!r}")
        else:
            ops.append(attrs.evolve(self.template, body=self.body))


def _json_problem(value: object) -> str | None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return str(exc)
    return None


def _callee(
    where: str, function: object, problems: list[str]
) -> tuple[str, bool, type | None]:
    """(function id, same app?, class) of an invoke target, or a problem."""
    if isinstance(function, str):
        if not function.strip():
            problems.append(f"{where}: function= must name a function, got {function!r}")
        return function, False, None
    spec = function if isinstance(function, FunctionSpec) else None
    if spec is None and isinstance(function, type) and issubclass(function, InngestFunction):
        spec = function.__inngest_spec__
    if spec is None:
        problems.append(
            f"{where}: function= must be a concrete InngestFunction class or a "
            f"'<app id>-<function id>' string, got {function!r}"
        )
        return str(function), True, None
    return spec.id, True, spec.cls


def invoke(
    message: str,
    *,
    function: type | FunctionSpec | str,
    data: Mapping[str, Any] | None = None,
    timeout: str | _dt.timedelta | None = None,
    id: str | None = None,
) -> Callable[[F], F]:
    """Declare a call of another function: it runs as its own run and this one waits for it.

    `function` is the callee's class (invoked in the same app) or its wire id
    `"<app id>-<function id>"`. The callee's trigger event carries `data` (plain form,
    `invoke("charge", function=Charge, data={...})`), or what a decorated `(self, ctx)` method
    returns (`@invoke("charge", function=Charge)`). Memoised: the callee's return value is
    folded into `ctx.data` like a step's; a failed callee (or `timeout` passing) fails this
    function as a failed step does.
    """
    decl = _declarations("invoke")
    block_id = _check_message(decl, "invoke", message, id)
    where = f"invoke {block_id!r}"
    function_id, same_app, callee = _callee(where, function, decl.problems)
    if data is not None:
        if not isinstance(data, Mapping):
            decl.problems.append(f"{where}: data= must be a mapping, got {type(data).__name__}")
            data = None
        else:
            problem = _json_problem(dict(data))
            if problem is not None:
                decl.problems.append(f"{where}: data= is not JSON-serialisable: {problem}")
    delta = None
    if timeout is not None:
        try:
            delta = parse_duration(timeout)
        except (TypeError, ValueError) as exc:
            decl.problems.append(f"{where}: timeout: {exc}")
    op = InvokeOp(
        id=block_id,
        function_id=function_id,
        same_app=same_app,
        data=dict(data) if data is not None else None,
        timeout=delta,
        callee=callee,
    )
    deferred = _Deferred(op, "invoke", static=None if data is None else "data=")
    decl.items.append(deferred)
    return deferred.attach


def _static_events(where: str, events: object, problems: list[str]) -> tuple[Event, ...] | None:
    try:
        return tuple(to_events(events))  # type: ignore[arg-type]  # checked by to_events
    except EventError as exc:
        problems.append(f"{where}: {exc}")
        return None


def send_event(
    message: str,
    *,
    events: Event | Mapping[str, Any] | Sequence[Event | Mapping[str, Any]] | None = None,
    id: str | None = None,
) -> Callable[[F], F]:
    """Declare a memoised step that sends events exactly once.

    Decorate a `(self, ctx)` method returning an `Event`, a mapping, or a list of them, or
    give `events=` in the plain form. The events go through the serving `Inngest` client;
    those without an `id` get one derived from the run id and the step (so a retried send is
    deduplicated by the server: functions it triggers do not run twice). The block's result
    is the list of event ids, stored in `ctx.data` under the block id.
    """
    decl = _declarations("send_event")
    block_id = _check_message(decl, "send_event", message, id)
    where = f"send_event {block_id!r}"
    static = None if events is None else _static_events(where, events, decl.problems)
    deferred = _Deferred(
        SendEventOp(id=block_id, events=static),
        "send_event",
        static=None if events is None else "events=",
        required="events=",
    )
    decl.items.append(deferred)
    return deferred.attach


class _ParallelGroup:
    """The context manager `parallel(...)` returns: the blocks declared inside form a group."""

    def __init__(self, decl: _Declarations, block_id: str) -> None:
        self._decl = decl
        self._id = block_id
        self._start = -1
        self.entered = False

    def __enter__(self) -> None:
        self.entered = True
        decl = self._decl
        if decl.open_group is not None:
            decl.problems.append(
                f"parallel {self._id!r}: parallel groups cannot be nested "
                f"(it is inside parallel {decl.open_group!r})"
            )
            return
        decl.open_group = self._id
        self._start = len(decl.items)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        decl = self._decl
        if self._start < 0:
            return
        decl.open_group = None
        if exc_type is not None:
            return
        members = decl.items[self._start :]
        where = f"parallel {self._id!r}"
        if not members:
            decl.problems.append(f"{where}: the group declares no blocks")
            return
        for item in members:
            if isinstance(item, _Pending) and item.kind == "run":
                decl.problems.append(
                    f"{where}: run block {item.id!r} cannot run in parallel; a group holds "
                    "memoised blocks only (step, sleep, sleep_until, wait_for_event, invoke, "
                    "send_event)"
                )
        decl.items.insert(self._start, ParallelOp(id=self._id, size=len(members)))


def parallel(message: str, *, id: str | None = None) -> _ParallelGroup:
    """Declare a group of memoised blocks that run side by side; use it as `with parallel(...):`.

    When the run reaches the group, every unfinished block in it is reported at once and runs
    in its own request; the run goes on once all have finished, with their results folded
    into `ctx.data` in declaration order. Each block sees `ctx.data` as it was before the
    group. Groups cannot be nested, hold no `run` blocks, and their steps cannot use
    `ctx.step`.
    """
    decl = _declarations("parallel")
    block_id = id if id is not None else message
    if not isinstance(block_id, str) or not block_id.strip():
        decl.problems.append(f"parallel: the message must be a non-empty string, got {block_id!r}")
        block_id = str(block_id)
    group = _ParallelGroup(decl, block_id)
    decl.groups.append(group)
    return group


class _FunctionMeta(type):
    """Gives class bodies a recording namespace and hands what they declared to the class."""

    @classmethod
    def __prepare__(
        mcs, cls_name: str, bases: tuple[type, ...], /, **kwargs: Any
    ) -> _Namespace:
        # Positional-only: `name=` is one of the class keywords.
        return _Namespace()

    def __new__(
        mcs, cls_name: str, bases: tuple[type, ...], namespace: dict[str, Any], /, **kwargs: Any
    ) -> _FunctionMeta:
        body = dict(namespace)
        if isinstance(namespace, _Namespace):
            body["__inngest_declarations__"] = namespace.declarations
        return super().__new__(mcs, cls_name, bases, body, **kwargs)


if TYPE_CHECKING:
    # Type checkers see a plain base, so they check class keywords against __init_subclass__.
    _Base = object
else:
    _Base = _FunctionMeta("_Base", (), {})


class InngestFunction(_Base):
    """Base class of every function: subclass it and list the blocks in the class body.

    Class keywords: `name`, `id`, one trigger (`event=` / `event_name=` with an optional
    `expression=` / `if_=` filter, or `cron=`), `retries`, and `abstract=True` for a base that
    only contributes blocks.

    Function options, also class keywords, belong to the concrete class (not inherited):
    `concurrency` (a limit, a `Concurrency` or a list of up to two), `throttle` (`Throttle`),
    `rate_limit` (`RateLimit`), `debounce` (`Debounce`), `batch_events` (`Batch`), `cancel_on`
    (an event name, a `Cancel` or a list of up to five), `priority` (an expression or
    `Priority`), `idempotency` (an expression), `timeouts` (`Timeouts`) and `singleton`
    (`Singleton`). `@on_failure` in the body declares the failure handler.
    """

    __inngest_spec__: ClassVar[FunctionSpec | None] = None
    __inngest_own_ops__: ClassVar[tuple[Op, ...]] = ()
    __inngest_own_ids__: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(
        cls,
        *,
        name: str | None = None,
        id: str | None = None,
        event: str | None = None,
        event_name: str | None = None,
        expression: str | None = None,
        if_: str | None = None,
        cron: str | None = None,
        retries: int | None = None,
        abstract: bool = False,
        concurrency: int | Concurrency | Sequence[int | Concurrency] | None = None,
        throttle: Throttle | None = None,
        rate_limit: RateLimit | None = None,
        debounce: Debounce | None = None,
        batch_events: Batch | None = None,
        cancel_on: str | Cancel | Sequence[str | Cancel] | None = None,
        priority: str | Priority | None = None,
        idempotency: str | None = None,
        timeouts: Timeouts | None = None,
        singleton: Singleton | None = None,
    ) -> None:
        super().__init_subclass__()
        declarations = cls.__dict__.get("__inngest_declarations__")
        if not isinstance(declarations, _Declarations):  # built by type(...), no __prepare__
            declarations = _Declarations()
        own_ops, problems = _finish_declarations(declarations)
        cls.__inngest_own_ops__ = own_ops
        cls.__inngest_own_ids__ = tuple(declarations.explicit_ids)
        inherited_ops, inherited_ids, inherit_problems = _inherited(cls)
        cls.__inngest_spec__ = compile_function(
            cls,
            ops=inherited_ops + own_ops,
            explicit_ids=inherited_ids + cls.__inngest_own_ids__,
            problems=inherit_problems + problems,
            name=name,
            id=id,
            event=event,
            event_name=event_name,
            expression=expression,
            if_=if_,
            cron=cron,
            retries=retries,
            abstract=abstract,
            options={
                "concurrency": concurrency,
                "throttle": throttle,
                "rate_limit": rate_limit,
                "debounce": debounce,
                "batch_events": batch_events,
                "cancel_on": cancel_on,
                "priority": priority,
                "idempotency": idempotency,
                "timeouts": timeouts,
                "singleton": singleton,
            },
            on_failure=declarations.failure_handlers[0] if declarations.failure_handlers else None,
        )

    def __init__(self) -> None:
        """Instances are made by the engine, one per request; bodies get `self` as usual."""


def _finish_declarations(decl: _Declarations) -> tuple[tuple[Op, ...], list[str]]:
    problems = list(decl.problems)
    problems.extend(
        f"parallel {group._id!r}: use it as `with parallel(...):` around the blocks it groups"
        for group in decl.groups
        if not group.entered
    )
    ops: list[Op] = []
    for item in decl.items:
        if isinstance(item, _Deferred):
            item.finish(ops, problems)
            continue
        if not isinstance(item, _Pending):
            ops.append(item)
            continue
        where = f"{item.kind} {item.id!r}"
        if not item.applied:
            problems.append(
                f'{where}: {item.kind}("...") declares a block and must decorate its method'
            )
        elif not callable(item.body):
            problems.append(f"{where}: the decorated object is not callable: {item.body!r}")
        elif item.kind == "run":
            ops.append(RunOp(id=item.id, body=item.body))
        elif item.kind == "step":
            ops.append(StepOp(id=item.id, body=item.body))
        else:
            ops.append(SleepUntilOp(id=item.id, body=item.body))
    return tuple(ops), problems


def _inherited(cls: type) -> tuple[tuple[Op, ...], tuple[str, ...], list[str]]:
    """Blocks of abstract bases, most basic first; each base counted once."""
    problems: list[str] = []
    ops: list[Op] = []
    ids: list[str] = []
    for base in reversed(cls.__mro__[1:]):
        if not issubclass(base, InngestFunction) or base is InngestFunction:
            continue
        if base.__inngest_spec__ is not None:
            problems.append(
                f"cannot subclass {base.__qualname__}: a function with a trigger is final; "
                "put shared blocks on a base declared with abstract=True"
            )
            continue
        ops.extend(base.__dict__.get("__inngest_own_ops__", ()))
        ids.extend(base.__dict__.get("__inngest_own_ids__", ()))
    return tuple(ops), tuple(ids), problems
