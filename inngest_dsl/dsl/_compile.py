"""Turn a class's keywords and declared blocks into a validated `FunctionSpec`.

Every problem is collected first and raised together, so a user fixes a class in one pass.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from inngest_dsl.dsl._compile_options import compile_options
from inngest_dsl.errors import DefinitionError
from inngest_dsl.spec._cron import validate_cron
from inngest_dsl.spec._durations import parse_duration
from inngest_dsl.spec._event_types import name_of, type_of
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
from inngest_dsl.spec._limits import CRON_JITTER, MAX_RETRIES, MAX_TRIGGERS
from inngest_dsl.spec._middleware import Middleware

__all__ = ["compile_function", "slugify"]

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(name: str) -> str:
    """`"App / Email: Awesome Event Func"` -> `"app-email-awesome-event-func"`."""
    return _NOT_SLUG.sub("-", name.lower()).strip("-")


def _default_id(cls_name: str) -> str:
    return slugify(_CAMEL_BOUNDARY.sub("-", cls_name))


def _names(
    value: object, keyword: str, problems: list[str], kinds: tuple[type, ...] = (str,)
) -> list[Any]:
    """`event=` / `cron=` as a list: one string or a sequence of them (`event=` also takes
    `@event_type` classes)."""
    if value is None:
        return []
    if isinstance(value, kinds):
        return [value]
    if isinstance(value, Sequence) and value and all(isinstance(v, kinds) for v in value):
        return list(value)
    problems.append(f"{keyword}= must be a string or a list of strings, got {value!r}")
    return []


def _event_trigger(problems: list[str], trigger: EventTrigger, where: str) -> Trigger | None:
    if isinstance(trigger.event, type):
        data_type = type_of(trigger.event)
        if data_type is None:
            problems.append(
                f"{where} {trigger.event.__qualname__} is not an event type: decorate it with "
                "@event_type('app/some.event')"
            )
            return None
        trigger = EventTrigger(
            name_of(data_type), expression=trigger.expression, data_type=data_type
        )
    if not isinstance(trigger.event, str) or not trigger.event.strip():
        problems.append(f"{where} must be a non-empty event name, got {trigger.event!r}")
        return None
    if trigger.expression is not None:
        problem = (
            expression_problem(trigger.expression)
            if isinstance(trigger.expression, str)
            else f"must be a string, got {trigger.expression!r}"
        )
        if problem is not None:
            problems.append(f"expression= of {trigger.event!r}: {problem}")
    return trigger


def _cron_trigger(problems: list[str], trigger: CronTrigger) -> Trigger | None:
    if not isinstance(trigger.cron, str):
        problems.append(f"cron= must be a string, got {trigger.cron!r}")
        return None
    problem = validate_cron(trigger.cron)
    if problem is not None:
        problems.append(problem)
    if trigger.jitter is None:
        return trigger
    try:
        jitter = parse_duration(trigger.jitter)
    except (TypeError, ValueError) as exc:
        problems.append(f"jitter= of cron {trigger.cron!r}: {exc}")
        return None
    out_of_range = CRON_JITTER.problem(jitter)
    if out_of_range is not None:
        problems.append(f"jitter= of cron {trigger.cron!r} {out_of_range}, got {trigger.jitter!r}")
        return None
    return CronTrigger(cron=trigger.cron, jitter=jitter)


def _triggers(
    problems: list[str],
    event: str | type[Any] | Sequence[str | type[Any]] | None,
    event_name: str | type[Any] | Sequence[str | type[Any]] | None,
    expression: str | None,
    if_: str | None,
    cron: str | Sequence[str] | None,
    jitter: str | _dt.timedelta | None,
    listed: Sequence[Trigger] | None,
) -> tuple[Trigger, ...]:
    if event is not None and event_name is not None:
        problems.append("give event= or event_name= (the same thing), not both")
    event = event if event is not None else event_name
    if expression is not None and if_ is not None:
        problems.append("give expression= or if_= (the same thing), not both")
    expression = expression if expression is not None else if_
    if event is None and expression is not None:
        problems.append("expression= filters the events of event=; give event= too")
    if cron is None and jitter is not None:
        problems.append("jitter= delays the runs of cron=; give cron= too")
    given: list[Trigger] = [
        EventTrigger(event=name, expression=expression)
        for name in _names(event, "event", problems, (str, type))
    ]
    given.extend(CronTrigger(cron=c, jitter=jitter) for c in _names(cron, "cron", problems))
    if listed is not None:
        if isinstance(listed, Sequence) and not isinstance(listed, str):
            given.extend(listed)
        else:
            problems.append(f"triggers= must be a list of EventTrigger/CronTrigger, got {listed!r}")
    if not given and listed is None:
        problems.append("no trigger: give event='app/some.event' or cron='0 9 * * *'")
        return ()
    if not given:
        problems.append("triggers=: give at least one trigger")
        return ()
    compiled: list[Trigger] = []
    for index, trigger in enumerate(given):
        if isinstance(trigger, EventTrigger):
            where = "event=" if len(given) == 1 else f"trigger {index + 1}"
            done = _event_trigger(problems, trigger, where)
        elif isinstance(trigger, CronTrigger):
            done = _cron_trigger(problems, trigger)
        else:
            problems.append(f"triggers=: expected EventTrigger or CronTrigger, got {trigger!r}")
            done = None
        if done is not None:
            compiled.append(done)
    if len(given) > MAX_TRIGGERS:
        problems.append(f"at most {MAX_TRIGGERS} triggers per function, got {len(given)}")
    for identity, count in Counter(_identity(t) for t in compiled).items():
        if count > 1:
            problems.append(f"duplicate trigger {identity} ({count} times)")
    return tuple(compiled)


def _identity(trigger: Trigger) -> str:
    if isinstance(trigger, CronTrigger):
        return f"cron={trigger.cron!r}"
    if trigger.expression is None:
        return f"event={trigger.event!r}"
    return f"event={trigger.event!r} if {trigger.expression!r}"


def _middleware(problems: list[str], given: object) -> tuple[Middleware, ...]:
    if given is None:
        return ()
    items: list[Any] = list(given) if isinstance(given, (list, tuple)) else [given]
    wrong = [item for item in items if not isinstance(item, Middleware)]
    if wrong:
        problems.append(
            f"middleware= must be a list of Middleware instances, got {wrong[0]!r}"
            + (" (a class: instantiate it)" if isinstance(wrong[0], type) else "")
        )
        return ()
    return tuple(items)


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
    event: str | type[Any] | Sequence[str | type[Any]] | None,
    event_name: str | type[Any] | Sequence[str | type[Any]] | None,
    expression: str | None,
    if_: str | None,
    cron: str | Sequence[str] | None,
    retries: int | None,
    abstract: bool,
    jitter: str | _dt.timedelta | None = None,
    triggers: Sequence[Trigger] | None = None,
    options: Mapping[str, object] | None = None,
    on_failure: FailureHandler | None = None,
    middleware: Sequence[Middleware] | None = None,
) -> FunctionSpec | None:
    """The spec of `cls`, `None` for an abstract base; raises `DefinitionError` on any problem.

    `options` maps the option keywords (`OPTION_KEYWORDS`) to the values given.
    """
    problems = list(problems) + _block_problems(ops, explicit_ids)
    options = options or {}
    if abstract:
        given = [
            keyword
            for keyword, value in (
                ("event", event),
                ("event_name", event_name),
                ("cron", cron),
                ("jitter", jitter),
                ("triggers", triggers),
            )
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
        if middleware is not None:
            problems.append(
                "abstract=True bases take no middleware=: give it to the concrete class"
            )
        if on_failure is not None:
            problems.append(
                "abstract=True bases take no @on_failure: declare it on the concrete class "
                "(its body may call a method of this base)"
            )
        if problems:
            raise DefinitionError(cls.__qualname__, problems)
        return None
    compiled_triggers = _triggers(
        problems, event, event_name, expression, if_, cron, jitter, triggers
    )
    retry_count = _retries(problems, retries)
    chain = _middleware(problems, middleware)
    compiled_options = compile_options(problems, options)
    if name is not None and (not isinstance(name, str) or not name.strip()):
        problems.append(f"name= must be a non-empty string, got {name!r}")
    display_name = name if isinstance(name, str) and name.strip() else cls.__name__
    if id is not None and (not isinstance(id, str) or not slugify(id)):
        problems.append(f"id= must be a non-empty string of letters and digits, got {id!r}")
    function_id = id if isinstance(id, str) and id.strip() else (
        slugify(name) if isinstance(name, str) and slugify(name) else _default_id(cls.__name__)
    )
    if problems or not compiled_triggers:
        raise DefinitionError(cls.__qualname__, problems)
    return FunctionSpec(
        id=function_id,
        name=display_name,
        triggers=compiled_triggers,
        ops=ops,
        cls=cls,
        retries=retry_count,
        description=cls.__doc__.strip() if cls.__doc__ else None,
        on_failure=on_failure,
        middleware=chain,
        **compiled_options,
    )
