"""Turn a class's keywords and declared blocks into a validated `FunctionSpec`.

Every problem is collected first and raised together, so a user fixes a class in one pass.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

from inngest_dsl.dsl._compile_options import compile_options
from inngest_dsl.errors import DefinitionError
from inngest_dsl.spec._cron import validate_cron
from inngest_dsl.spec._expressions import expression_problem
from inngest_dsl.spec._function import (
    CronTrigger,
    EventTrigger,
    FailureHandler,
    FunctionSpec,
    Op,
    Trigger,
    WaitForEventOp,
)
from inngest_dsl.spec._limits import MAX_RETRIES

__all__ = ["compile_function", "slugify"]

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(name: str) -> str:
    """`"App / Email: Awesome Event Func"` -> `"app-email-awesome-event-func"`."""
    return _NOT_SLUG.sub("-", name.lower()).strip("-")


def _default_id(cls_name: str) -> str:
    return slugify(_CAMEL_BOUNDARY.sub("-", cls_name))


def _trigger(
    problems: list[str],
    event: str | None,
    event_name: str | None,
    expression: str | None,
    if_: str | None,
    cron: str | None,
) -> Trigger | None:
    if event is not None and event_name is not None:
        problems.append("give event= or event_name= (the same thing), not both")
    event = event if event is not None else event_name
    if expression is not None and if_ is not None:
        problems.append("give expression= or if_= (the same thing), not both")
    expression = expression if expression is not None else if_
    if event is not None and cron is not None:
        problems.append("give one trigger: event= or cron=, not both")
        return None
    if event is None and cron is None:
        problems.append("no trigger: give event='app/some.event' or cron='0 9 * * *'")
        return None
    if cron is not None:
        if expression is not None:
            problems.append("expression= filters events; a cron trigger takes none")
        if not isinstance(cron, str):
            problems.append(f"cron= must be a string, got {cron!r}")
            return None
        problem = validate_cron(cron)
        if problem is not None:
            problems.append(problem)
        return CronTrigger(cron=cron)
    if not isinstance(event, str) or not event.strip():
        problems.append(f"event= must be a non-empty event name, got {event!r}")
        return None
    if expression is not None:
        problem = expression_problem(expression)
        if problem is not None:
            problems.append(f"expression=: {problem}")
    return EventTrigger(event=event, expression=expression)


def _retries(problems: list[str], retries: int | None) -> int | None:
    if retries is None:
        return None
    if isinstance(retries, bool) or not isinstance(retries, int):
        problems.append(f"retries= must be a whole number of retries, got {retries!r}")
        return None
    if not 0 <= retries <= MAX_RETRIES:
        problems.append(f"retries= must be between 0 and {MAX_RETRIES}, got {retries}")
        return None
    return retries


def _block_problems(ops: Sequence[Op], explicit_ids: Sequence[str]) -> list[str]:
    problems = [
        f"duplicate block id {block_id!r} ({count} blocks): give each block its own message or id="
        for block_id, count in Counter(explicit_ids).items()
        if count > 1
    ]
    for op in ops:
        if isinstance(op, WaitForEventOp) and op.if_ is not None:
            problem = expression_problem(op.if_)
            if problem is not None:
                problems.append(f"wait_for_event {op.id!r}: {problem}")
    return problems


def compile_function(
    cls: type,
    *,
    ops: tuple[Op, ...],
    explicit_ids: tuple[str, ...],
    problems: list[str],
    name: str | None,
    id: str | None,
    event: str | None,
    event_name: str | None,
    expression: str | None,
    if_: str | None,
    cron: str | None,
    retries: int | None,
    abstract: bool,
    options: Mapping[str, object] | None = None,
    on_failure: FailureHandler | None = None,
) -> FunctionSpec | None:
    """The spec of `cls`, `None` for an abstract base; raises `DefinitionError` on any problem.

    `options` maps the option keywords (`OPTION_KEYWORDS`) to the values given.
    """
    problems = list(problems) + _block_problems(ops, explicit_ids)
    options = options or {}
    if abstract:
        given = [
            keyword
            for keyword, value in (("event", event), ("event_name", event_name), ("cron", cron))
            if value is not None
        ]
        if given:
            problems.append(f"abstract=True bases take no trigger, got {', '.join(given)}=")
        set_options = [keyword for keyword, value in options.items() if value is not None]
        if retries is not None:
            set_options.insert(0, "retries")
        if set_options:
            problems.append(
                f"abstract=True bases take no function options, got "
                f"{'=, '.join(set_options)}=: options belong to the concrete class"
            )
        if on_failure is not None:
            problems.append(
                "abstract=True bases take no @on_failure: declare it on the concrete class "
                "(its body may call a method of this base)"
            )
        if problems:
            raise DefinitionError(cls.__qualname__, problems)
        return None
    trigger = _trigger(problems, event, event_name, expression, if_, cron)
    retry_count = _retries(problems, retries)
    compiled_options = compile_options(problems, options)
    if name is not None and (not isinstance(name, str) or not name.strip()):
        problems.append(f"name= must be a non-empty string, got {name!r}")
    display_name = name if isinstance(name, str) and name.strip() else cls.__name__
    if id is not None and (not isinstance(id, str) or not slugify(id)):
        problems.append(f"id= must be a non-empty string of letters and digits, got {id!r}")
    function_id = id if isinstance(id, str) and id.strip() else (
        slugify(name) if isinstance(name, str) and slugify(name) else _default_id(cls.__name__)
    )
    if problems or trigger is None:
        raise DefinitionError(cls.__qualname__, problems)
    return FunctionSpec(
        id=function_id,
        name=display_name,
        triggers=(trigger,),
        ops=ops,
        cls=cls,
        retries=retry_count,
        description=cls.__doc__.strip() if cls.__doc__ else None,
        on_failure=on_failure,
        **compiled_options,
    )
