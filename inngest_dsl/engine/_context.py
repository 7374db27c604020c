"""What a block body receives: the triggering event(s), the data accumulated so far, run facts."""

from __future__ import annotations

import inspect
import logging
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar, cast, overload

from attrs import define, field

from inngest_dsl.errors import DefinitionError, NonRetriableError
from inngest_dsl.spec._event import D, Event, typed_event
from inngest_dsl.spec._event_types import event_name
from inngest_dsl.spec._function import EventTrigger, WaitForEventOp
from inngest_dsl.spec._handles import AsyncStepMethod, BoundAsyncStep, BoundStep, StepMethod

if TYPE_CHECKING:
    from inngest_dsl.engine._plan import ExecutionPlan
    from inngest_dsl.engine._steps import Steps

__all__ = ["Context", "ReadOnlyData", "RunData", "check_context_types"]

T = TypeVar("T")
E = TypeVar("E")

_default_logger = logging.getLogger("inngest_dsl.function")


class ReadOnlyData(Mapping[str, Any]):
    """The type of `ctx.data`: a read-only mapping of the results so far, and `copy()`.

    Type checkers report a write (`ctx.data["x"] = 1`); at run time a write fails the run,
    saying to return the value from a step instead (only what blocks return is kept).
    """

    __slots__ = ()

    def copy(self) -> dict[str, Any]:
        """A plain, writable copy."""
        return dict(self)


class RunData(dict[str, Any], ReadOnlyData):
    """`ctx.data`: the results so far, read-only to bodies.

    A write would be lost at the next request (only what blocks return is remembered), so
    it fails at once, saying what to do instead. The engine writes through `fold`/`store`.
    """

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        key = args[0] if args and isinstance(args[0], str) else "key"
        raise NonRetriableError(
            "ctx.data is read-only: a value written to it would be lost at the next request. "
            f"Return it from a step instead (`return {{{key!r}: value}}`): what a step returns "
            "is kept and folded into ctx.data for the blocks after it"
        )

    __setitem__ = _refuse
    __delitem__ = _refuse
    __ior__ = _refuse
    update = _refuse
    setdefault = _refuse
    pop = _refuse
    popitem = _refuse
    clear = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        # copy.copy, copy.deepcopy and pickle make plain, writable dicts.
        return (dict, (dict(self),))

_NO_MEMO: Mapping[str, Any] = {}
ABSENT: Any = object()

@define(eq=False)
class Context(Generic[D]):
    """The per-request view of a run, passed to every block as `ctx`.

    `data` holds the results of the blocks before this one, folded in declaration order;
    `ctx[self.some_wait]` reads a wait's event (or `None` after a timeout), and
    `ctx[self.some_step]` a step's result, as the type the step's method returns.

    `Context[SignedUp]` types `ctx.event.data` as `SignedUp`, for a function triggered by an
    `@event_type` class (`event=SignedUp`): the data arrives structured as one.

    Run facts: `run_id`; `attempt`, counted from 0 for each step or request (a retry is 1),
    of `max_attempts`; `function_id`, the wire id; `request_id`, the id of this one request,
    and `job_id`, that of the queue item it runs for (from the call's `ctx`, else its
    `X-Request-ID` / `X-Inngest-Job-Id` headers; `""` when the server sends none).
    """

    _event: Event[Any] = field(alias="event")
    _events: tuple[Event[Any], ...] = field(alias="events")
    data: ReadOnlyData = field(factory=RunData)
    run_id: str = ""
    attempt: int = 0
    max_attempts: int | None = None
    function_id: str = ""
    request_id: str = ""
    job_id: str = ""
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger] = _default_logger
    _steps: Steps | None = field(default=None, repr=False, alias="_steps")
    # What typed reads need: the plan (step types, event types) and the call's memo.
    _plan: ExecutionPlan | None = field(default=None, repr=False, alias="_plan")
    _memo: Mapping[str, Any] = field(default=_NO_MEMO, repr=False, alias="_memo")
    # Typed reads, made once per call; most calls make none, so made on first use.
    _typed_cache: dict[object, Any] | None = field(default=None, repr=False, init=False)

    @property
    def _typed(self) -> dict[object, Any]:
        cache = self._typed_cache
        if cache is None:
            cache = self._typed_cache = {}
        return cache

    def writable_data(self) -> dict[str, Any]:
        """`data` as the engine folds results into it (bodies get the read-only view)."""
        return cast("dict[str, Any]", self.data)

    def bind(self, plan: ExecutionPlan, memo: Mapping[str, Any]) -> None:
        """Give typed reads the function's plan and the call's memo (the engine calls it)."""
        self._plan = plan
        self._memo = memo

    @property
    def event(self) -> Event[D]:
        """The event that triggered the run (the first of a batch); typed, see the class."""
        return self._typed_event("event", self._event, self._data_type(self._event.name))

    @property
    def events(self) -> tuple[Event[D], ...]:
        """The run's events: a batch, or the one triggering event."""
        typed = self._typed.get("events", ABSENT)
        if typed is ABSENT:
            typed = self._typed["events"] = tuple(
                self._typed_event(("events", i), e, self._data_type(e.name))
                for i, e in enumerate(self._events)
            )
        events: tuple[Event[D], ...] = typed
        return events

    def _typed_event(
        self, key: object, event: Event[Any], data_type: type[Any] | None
    ) -> Event[Any]:
        typed = self._typed.get(key, ABSENT)
        if typed is ABSENT:
            typed = self._typed[key] = typed_event(event, data_type)
        return typed  # type: ignore[no-any-return]

    def _data_type(self, name: str) -> type[Any] | None:
        plan = self._plan
        return None if plan is None else plan.event_type_of(name)

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
    def __getitem__(self, key: WaitForEventOp[E]) -> Event[E] | None: ...

    @overload
    def __getitem__(self, key: BoundAsyncStep[T]) -> T: ...

    @overload
    def __getitem__(self, key: AsyncStepMethod[T]) -> T: ...

    @overload
    def __getitem__(self, key: StepMethod[T]) -> T: ...

    @overload
    def __getitem__(self, key: BoundStep[T]) -> T: ...

    @overload
    def __getitem__(self, key: str) -> Any: ...

    def __getitem__(self, key: object) -> Any:
        if isinstance(key, str):
            return self.data[key]
        if isinstance(key, WaitForEventOp):
            event = self.data.get(key.id)
            if key.data_type is None or not isinstance(event, Event):
                return event
            return self._typed_event(key, event, key.data_type)
        if callable(key):
            return self._step_result(key)
        raise TypeError(
            f"ctx[...] takes a key of ctx.data, a wait's handle or a step's method, got {key!r}"
        )

    def _step_result(self, method: Any) -> Any:
        """The result of the step whose method is `method` (`self.charge`), typed."""
        # Loaded here: `import inngest_dsl` names Context but runs no call.
        from inngest_dsl.engine._outcomes import WRAPPED_KEYS, memoised_error
        from inngest_dsl.engine._step_runner import misuse
        from inngest_dsl.spec._payloads import PLAIN, structure

        function = inspect.unwrap(getattr(method, "__func__", method))
        plan = self._plan
        entry = plan.steps.get(function) if plan is not None else None
        name = getattr(function, "__qualname__", repr(function))
        if entry is None:
            raise misuse(
                f"ctx[{name}]: not a step of this function; ctx[self.method] reads the result "
                "of a @step block (a run block's result is in ctx.data)"
            )
        cached = self._typed.get(entry.hashed, ABSENT)
        if cached is not ABSENT:
            return cached
        value = self._memo.get(entry.hashed, ABSENT)
        if value is ABSENT:
            raise misuse(
                f"ctx[{name}]: step {entry.user_id!r} has not finished; a block reads the "
                "results of the steps declared before it"
            )
        if type(value) is dict and value.keys() <= WRAPPED_KEYS:
            if value.get("error") is not None:
                raise memoised_error(entry.user_id, value["error"])
            value = value.get("data")
        if entry.result_type is not PLAIN and value is not None:
            value = structure(value, entry.result_type, f"the result of {entry.what}")
        self._typed[entry.hashed] = value
        return value


def _context_type(body: Any) -> Any:
    """The `T` of a body's `ctx: Context[T]`, or `None` (plain `Context`, no annotation, or
    one that cannot be resolved)."""
    try:
        hints = typing.get_type_hints(inspect.unwrap(body))
    except Exception:  # a name only imported for type checkers, ...: nothing to check
        return None
    for hint in hints.values():
        if typing.get_origin(hint) is Context:
            args = typing.get_args(hint)
            return args[0] if args else None
    return None


def check_context_types(plan: ExecutionPlan) -> None:
    """`DefinitionError` for blocks whose `ctx: Context[SignedUp]` names an `@event_type`
    class the function is not triggered by (their `ctx.event.data` would not be one).

    Checked when a function is served or tested, once its module is loaded and annotations
    resolve; a block whose annotation does not resolve is not checked."""
    spec = plan.spec
    typed = set(plan.event_types.values())
    names = [str(t.event) for t in spec.triggers if isinstance(t, EventTrigger)]
    problems = []
    for entry in plan.ops:
        wanted = None if entry.body is None else _context_type(entry.body)
        name = event_name(wanted) if isinstance(wanted, type) else None
        if name is None or wanted in typed:
            continue
        assert isinstance(wanted, type)
        cls = wanted.__qualname__
        if name in names:
            fix = f"declare the trigger with the class, event={cls}, so the data arrives as one"
        else:
            listed = ", ".join(map(repr, names)) or "none"
            fix = f"its event triggers are {listed}; trigger on {cls} or annotate ctx: Context"
        problems.append(
            f"{entry.what}: ctx is Context[{cls}], but the function's ctx.event.data is no "
            f"{cls} ({name!r}): {fix}"
        )
    if problems:
        raise DefinitionError(spec.cls.__qualname__, problems)
