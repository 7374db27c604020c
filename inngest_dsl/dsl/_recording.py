"""The recording namespace of a class body, and what it records.

The metaclass's `__prepare__` hands the class body a `Namespace` (as `enum` does); each verb
finds it by walking up from its own frame to the first frame outside this package, and
appends what it declares, in order: finished ops, blocks waiting for their decorated method
(`Pending`, `Deferred`), parallel groups. Problems are collected, not raised, so the class
statement can report them all at once.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, cast

import attrs
from attrs import define, field

from inngest_dsl.errors import DefinitionError
from inngest_dsl.spec._function import InvokeOp, Op, ParallelOp, SendEventOp

__all__ = [
    "Declarations",
    "Deferred",
    "Namespace",
    "ParallelGroup",
    "Pending",
    "body_problem",
    "check_message",
    "declarations",
    "decorator_verb",
]

F = TypeVar("F", bound=Callable[..., Any])

# Frames of this package's modules lie between a verb's caller and the verb's bookkeeping.
_PACKAGE = f"{__name__.rpartition('.')[0]}."


@define
class Pending:
    """A block whose body arrives later, from the decorator the verb returned."""

    kind: str
    id: str
    body: Callable[..., Any] | None = None
    applied: bool = False
    log_every_request: bool = False


@define
class Declarations:
    """What one class body declared: ops in order, and the problems found on the way."""

    items: list[Op | Pending | Deferred] = field(factory=list)
    explicit_ids: list[str] = field(factory=list)
    problems: list[str] = field(factory=list)
    failure_handlers: list[Callable[..., Any]] = field(factory=list)
    open_group: str | None = None
    groups: list[ParallelGroup] = field(factory=list)


class Namespace(dict[str, Any]):
    """The class-body namespace: an ordinary dict that also records declarations."""

    def __init__(self) -> None:
        super().__init__()
        self.declarations = Declarations()


def declarations(verb: str) -> Declarations:
    """What the class body calling `verb` declared so far; `DefinitionError` outside one."""
    # The verb's caller is the first frame outside this package; it must be a class body
    # executing in our recording namespace.
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith(_PACKAGE):
        frame = frame.f_back
    namespace = frame.f_locals
    if not isinstance(namespace, Namespace):
        problem = f"{verb}() can only be called in the body of an InngestFunction subclass"
        at_run_time = _AT_RUN_TIME.get(verb)
        if at_run_time is not None:
            # Most often called from a block's body, where a step is added with ctx.step.
            problem += (
                f"; it declares a block. In a block's body (an async run or step) add one at "
                f"run time with `await ctx.step.{at_run_time}`"
            )
        raise DefinitionError(f"{verb}()", [problem])
    return namespace.declarations


# What each verb is in a body, with `ctx.step`.
_AT_RUN_TIME = {
    "run": 'run("id", fn)',
    "step": 'run("id", fn)',
    "sleep": 'sleep("id", "1h")',
    "sleep_until": 'sleep_until("id", at)',
    "wait_for_event": 'wait_for_event("id", event="app/name", timeout="1d")',
    "invoke": 'invoke("id", function=Other, data={...})',
    "send_event": 'send_event("id", events)',
    "parallel": "parallel(...)",
}


def check_message(decl: Declarations, verb: str, message: object, id: str | None) -> str:
    """The block id a verb's message (or `id=`) gives; a problem is recorded if it is bad."""
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


def body_problem(where: str, body: Callable[..., Any]) -> str | None:
    """What is wrong with `body` as the method of a block (`where` names it), if anything:
    it must take `(self, ctx)` and return its result (a generator never returns one)."""
    if inspect.isgeneratorfunction(body) or inspect.isasyncgenfunction(body):
        return (
            f"{where}: the method is a generator (it yields); a block returns its result: "
            "use return"
        )
    try:
        signature = inspect.signature(body)
    except (TypeError, ValueError):  # no signature to inspect (some builtins): trust it
        return None
    try:
        signature.bind(None, None)
    except TypeError:
        name = getattr(body, "__name__", "the method")
        listed = ", ".join(
            f"*{p.name}" if p.kind is p.VAR_POSITIONAL
            else f"**{p.name}" if p.kind is p.VAR_KEYWORD
            else p.name
            for p in signature.parameters.values()
        )  # fmt: skip
        return f"{where}: the method must take (self, ctx), got {name}({listed})"
    return None


def decorator_verb(
    kind: str, message: str, id: str | None, *, log_every_request: bool = False
) -> Callable[[F], F]:
    """Record a block of `kind` whose body is the method the returned decorator gets."""
    decl = declarations(kind)
    pending = Pending(
        kind, check_message(decl, kind, message, id), log_every_request=log_every_request
    )
    decl.items.append(pending)
    if callable(message):
        # A bare `@step` got the method itself: that problem is recorded once, above, and the
        # method is taken as decorated so that it is not reported again as undecorated.
        pending.body, pending.applied = message, True
        return cast(Callable[[F], F], message)

    def attach(body: F) -> F:
        pending.body = body
        pending.applied = True
        return body

    return attach


@define
class Deferred:
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
        elif (problem := body_problem(where, self.body)) is not None:
            problems.append(problem)
        else:
            ops.append(attrs.evolve(self.template, body=self.body))



class ParallelGroup:
    """The context manager `parallel(...)` returns: the blocks declared inside form a group."""

    def __init__(self, decl: Declarations, block_id: str, race: bool = False) -> None:
        self._decl = decl
        self._id = block_id
        self._race = race
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
            if isinstance(item, Pending) and item.kind == "run":
                decl.problems.append(
                    f"{where}: run block {item.id!r} cannot run in parallel; a group holds "
                    "memoised blocks only (step, sleep, sleep_until, wait_for_event, invoke, "
                    "send_event)"
                )
        decl.items.insert(
            self._start, ParallelOp(id=self._id, size=len(members), race=self._race)
        )
