"""`InngestFunction`: the base class whose metaclass records class bodies and compiles them.

The metaclass gives each class body a recording namespace; when the class is complete,
`InngestFunction.__init_subclass__` finishes what the body declared, adds what abstract bases
declared, and compiles it all into a frozen `FunctionSpec`, reporting every problem at once in
one `DefinitionError`.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from inngest_dsl.dsl._compile import compile_function
from inngest_dsl.dsl._compile_options import OPTION_KEYWORDS
from inngest_dsl.dsl._recording import (
    Declarations,
    Deferred,
    Namespace,
    Pending,
    body_problem,
)
from inngest_dsl.spec._function import (
    CronTrigger,
    EventTrigger,
    FunctionSpec,
    Op,
    RunOp,
    SleepUntilOp,
    StepOp,
)
from inngest_dsl.spec._middleware import Middleware
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

__all__ = ["InngestFunction"]


class _FunctionMeta(type):
    """Gives class bodies a recording namespace and hands what they declared to the class."""

    @classmethod
    def __prepare__(
        mcs, cls_name: str, bases: tuple[type, ...], /, **kwargs: Any
    ) -> Namespace:
        # Positional-only: `name=` is one of the class keywords.
        return Namespace()

    def __new__(
        mcs, cls_name: str, bases: tuple[type, ...], namespace: dict[str, Any], /, **kwargs: Any
    ) -> _FunctionMeta:
        body = dict(namespace)
        declarations = namespace.declarations if isinstance(namespace, Namespace) else None
        unknown = _unknown_keywords(bases, kwargs)
        if unknown:
            # Reported with the class's other problems, not as a bare TypeError from
            # `__init_subclass__`.
            if declarations is None:
                declarations = Declarations()
            declarations.problems.extend(unknown.values())
            kwargs = {key: value for key, value in kwargs.items() if key not in unknown}
        if declarations is not None:
            body["__inngest_declarations__"] = declarations
        return super().__new__(mcs, cls_name, bases, body, **kwargs)


def _unknown_keywords(bases: tuple[type, ...], given: dict[str, Any]) -> dict[str, str]:
    """The class keywords the function base's `__init_subclass__` does not take, each with its
    problem (a base that overrides it with `**kwargs` takes them all)."""
    base = next((b for b in bases if isinstance(b, _FunctionMeta)), None)
    if not given or base is None:
        return {}
    parameters = inspect.signature(base.__init_subclass__).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return {}
    known = [p.name for p in parameters if p.kind is p.KEYWORD_ONLY]
    problems = {}
    for keyword in given:
        if keyword not in known:
            close = difflib.get_close_matches(keyword, known, n=2)
            hint = f"; did you mean {' or '.join(f'{c}=' for c in close)}?" if close else ""
            problems[keyword] = f"unknown class keyword {keyword}={hint}"
    return problems


if TYPE_CHECKING:
    # Type checkers see a plain base, so they check class keywords against __init_subclass__.
    _Base = object
else:
    _Base = _FunctionMeta("_Base", (), {})


class InngestFunction(_Base):
    """Base class of every function: subclass it and list the blocks in the class body.

    Class keywords: `name`, `id`, the triggers (`event=` / `event_name=`, one name or a list,
    with an optional `expression=` / `if_=` filter; `cron=`, one schedule or a list, with an
    optional `jitter=`; `triggers=[EventTrigger(...), CronTrigger(...)]` for triggers each with
    its own filter or jitter; up to 10 in all), `retries`, and `abstract=True` for a base that
    only contributes blocks.

    Function options, also class keywords, belong to the concrete class (not inherited):
    `concurrency` (a limit, a `Concurrency` or a list of up to two), `throttle` (`Throttle`),
    `rate_limit` (`RateLimit`), `debounce` (`Debounce`), `batch_events` (`Batch`), `cancel_on`
    (an event name, a `Cancel` or a list of up to five), `priority` (an expression or
    `Priority`), `idempotency` (an expression), `timeouts` (`Timeouts`) and `singleton`
    (`Singleton`). `@on_failure` in the body declares the failure handler; `middleware` (a
    list of `Middleware`) runs around its calls, after the client's.

    `event=` and `cancel_on=` also take `@event_type` classes, which stand for their names;
    the run's `ctx.event.data` is then an instance of the class (`ctx: Context[SignedUp]`).
    """

    __inngest_spec__: ClassVar[FunctionSpec | None] = None
    __inngest_own_ops__: ClassVar[tuple[Op, ...]] = ()
    __inngest_own_ids__: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(
        cls,
        *,
        name: str | None = None,
        id: str | None = None,
        event: str | type[Any] | Sequence[str | type[Any]] | None = None,
        event_name: str | type[Any] | Sequence[str | type[Any]] | None = None,
        expression: str | None = None,
        if_: str | None = None,
        cron: str | Sequence[str] | None = None,
        jitter: str | timedelta | None = None,
        triggers: Sequence[EventTrigger | CronTrigger] | None = None,
        retries: int | None = None,
        abstract: bool = False,
        concurrency: int | Concurrency | Sequence[int | Concurrency] | None = None,
        throttle: Throttle | None = None,
        rate_limit: RateLimit | None = None,
        debounce: Debounce | None = None,
        batch_events: Batch | None = None,
        cancel_on: str | type[Any] | Cancel | Sequence[str | type[Any] | Cancel] | None = None,
        priority: str | Priority | None = None,
        idempotency: str | None = None,
        timeouts: Timeouts | None = None,
        singleton: Singleton | None = None,
        middleware: Sequence[Middleware] | None = None,
    ) -> None:
        # The option keywords above are typed for type checkers; which of them are options is
        # the table's to say (`FunctionOptions`), not spelt out again here.
        given = locals()
        super().__init_subclass__()
        declarations = cls.__dict__.get("__inngest_declarations__")
        if not isinstance(declarations, Declarations):  # built by type(...), no __prepare__
            declarations = Declarations()
        own_ops, problems = _finishdeclarations(declarations)
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
            jitter=jitter,
            triggers=triggers,
            retries=retries,
            abstract=abstract,
            options={keyword: given[keyword] for keyword in OPTION_KEYWORDS},
            on_failure=declarations.failure_handlers[0] if declarations.failure_handlers else None,
            middleware=middleware,
        )

    def __init__(self) -> None:
        """Instances are made by the engine, one per request; bodies get `self` as usual."""


def _finishdeclarations(decl: Declarations) -> tuple[tuple[Op, ...], list[str]]:
    problems = list(decl.problems)
    problems.extend(
        f"parallel {group._id!r}: use it as `with parallel(...):` around the blocks it groups"
        for group in decl.groups
        if not group.entered
    )
    ops: list[Op] = []
    for item in decl.items:
        if isinstance(item, Deferred):
            item.finish(ops, problems)
            continue
        if not isinstance(item, Pending):
            ops.append(item)
            continue
        where = f"{item.kind} {item.id!r}"
        if not item.applied:
            problems.append(
                f'{where}: {item.kind}("...") declares a block and must decorate its method'
            )
        elif not callable(item.body):
            problems.append(f"{where}: the decorated object is not callable: {item.body!r}")
        elif (problem := body_problem(where, item.body)) is not None:
            problems.append(problem)
        elif item.kind == "run":
            ops.append(
                RunOp(id=item.id, body=item.body, log_every_request=item.log_every_request)
            )
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
