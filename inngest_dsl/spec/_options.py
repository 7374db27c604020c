"""Function options (flow control, cancellation, timeouts), given as class keywords.

```python
class Checkout(InngestFunction, event="shop/checkout",
               concurrency=Concurrency(limit=2, key="event.data.user_id"),
               throttle=Throttle(limit=5, period="10s"),
               cancel_on=Cancel(event="shop/cart.emptied", match="data.cart_id", timeout="1h")):
    ...
```

These are plain values: the class statement checks them, all at once, and reports every
problem in one `DefinitionError`. Durations are a string (`"30s"`, `"1h30m"`, `"1.5d"`) or a
`timedelta`; keys and conditions are CEL expressions over `event` (the triggering event).
The class names follow the official Python SDK's.

Each option is described here once. Its class holds the normalised value (durations become
`timedelta`s through a converter) and tags each field with the rule it follows (`_rules`);
`FunctionOptions` is the table of options: one field per class keyword, whose metadata says how
users may write it, its wire name and what it excludes. The class statement, the registration
JSON and the dev server's parsing are all derived from these classes, so adding an option is a
class here, a `FunctionOptions` field, and the typed keyword of `InngestFunction`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator, Mapping
from typing import Any, Final, Literal

import attrs
from attrs import field, frozen

from inngest_dsl.spec._event_types import name_of
from inngest_dsl.spec._expressions import match_expression, match_problem
from inngest_dsl.spec._limits import (
    BATCH_TIMEOUT,
    DEBOUNCE_PERIOD,
    MAX_BATCH_SIZE,
    MAX_CANCELS,
    MAX_CONCURRENCY_LIMITS,
    MIN_BATCH_SIZE,
    RATE_LIMIT_PERIOD,
    THROTTLE_PERIOD,
)
from inngest_dsl.spec._rules import (
    Expression,
    Name,
    OneOf,
    Rule,
    Span,
    Whole,
    as_duration,
    rule,
    rule_of,
)

__all__ = [
    "OPTION",
    "Batch",
    "Cancel",
    "Concurrency",
    "Debounce",
    "Duration",
    "FunctionOptions",
    "Option",
    "Priority",
    "RateLimit",
    "Singleton",
    "Throttle",
    "Timeouts",
    "class_problems",
    "normalised",
    "option_fields",
    "option_values",
    "wire_name",
]

Duration = str | _dt.timedelta
"""A length of time: `"30s"`, `"1h30m"`, `"1.5d"`, or a `datetime.timedelta`."""

Problems = Iterator[tuple[str, str]]
"""`(field, problem)` pairs a class finds beyond its fields' own rules (field `""`: the whole)."""

_EXPRESSION = rule(Expression())


def _optional_duration(value: Duration | None) -> _dt.timedelta | None:
    return None if value is None else as_duration(value)


@frozen(kw_only=True)
class Concurrency:
    """At most `limit` steps of this function run at once (0: no limit).

    With `key`, the limit applies to each value of that expression (e.g. per user);
    `scope="env"` or `"account"` shares the limit, per key, with every function using the same
    key in the environment or account (a key is then required).
    """

    limit: int = field(metadata=rule(Whole(0)))
    key: str | None = field(default=None, metadata=_EXPRESSION)
    scope: Literal["fn", "env", "account"] | None = field(
        default=None, metadata=rule(OneOf(("fn", "env", "account")))
    )

    def _problems(self, wire: bool) -> Problems:
        if self.scope in ("env", "account") and self.key is None:
            if wire:
                yield "key", f"required when the scope is {self.scope!r}"
            else:
                yield "scope", (
                    f"a limit shared across functions (scope={self.scope!r}) needs a key="
                )


@frozen(kw_only=True)
class Throttle:
    """At most `limit` runs start per `period` (plus `burst` at once); the rest are queued."""

    limit: int = field(metadata=rule(Whole(1)))
    period: _dt.timedelta = field(converter=as_duration, metadata=rule(Span(THROTTLE_PERIOD)))
    # Inngest reads an omitted or zero burst as 1 (its Throttle.UnmarshalJSON), as the SDKs do.
    burst: int = field(default=1, metadata=rule(Whole(1, zero_is_default=True)))
    key: str | None = field(default=None, metadata=_EXPRESSION)


@frozen(kw_only=True)
class RateLimit:
    """At most `limit` runs start per `period` (at most 24 hours); the rest are dropped."""

    limit: int = field(metadata=rule(Whole(1)))
    period: _dt.timedelta = field(converter=as_duration, metadata=rule(Span(RATE_LIMIT_PERIOD)))
    key: str | None = field(default=None, metadata=_EXPRESSION)


@frozen(kw_only=True)
class Debounce:
    """Wait until no new event came for `period`, then run once with the last event.

    `timeout` caps the total wait, however often events keep arriving.
    """

    period: _dt.timedelta = field(converter=as_duration, metadata=rule(Span(DEBOUNCE_PERIOD)))
    key: str | None = field(default=None, metadata=_EXPRESSION)
    timeout: _dt.timedelta | None = field(
        default=None, converter=_optional_duration, metadata=rule(Span())
    )


@frozen(kw_only=True)
class Batch:
    """Run once per batch of up to `max_size` events, or after `timeout` with what arrived.

    `key` batches per value of that expression; `if_` only batches events for which it is true.
    The run sees every event in `ctx.events`.
    """

    max_size: int = field(metadata=rule(Whole(MIN_BATCH_SIZE, MAX_BATCH_SIZE)))
    timeout: _dt.timedelta = field(
        converter=as_duration, metadata=rule(Span(BATCH_TIMEOUT, hours_only=True))
    )
    key: str | None = field(default=None, metadata=_EXPRESSION)
    if_: str | None = field(default=None, metadata=_EXPRESSION)


@frozen(kw_only=True)
class Cancel:
    """Cancel a run when an `event` arrives that matches it, within `timeout` of its start.

    `match="data.cart_id"` pairs the two events on that field; `if_=` takes a full expression
    over `event` (the run's trigger) and `async` (the cancelling event). Without `timeout` a run
    can be cancelled for up to a year. In the spec, `match` is already turned into its `if_`.
    """

    # An `@event_type` class stands for its name.
    event: str = field(converter=name_of, metadata=rule(Name()))
    match: str | None = None
    if_: str | None = field(default=None, metadata=_EXPRESSION)
    timeout: _dt.timedelta | None = field(
        default=None, converter=_optional_duration, metadata=rule(Span(instants_on_wire=True))
    )

    def _problems(self, wire: bool) -> Problems:
        if self.match is None:
            return
        if self.if_ is not None:
            yield "", "give match= or if_=, not both"
        else:
            problem = match_problem(self.match)
            if problem is not None:
                yield "match", problem

    def _normalised(self) -> Cancel:
        if self.match is None:
            return self
        return Cancel(event=self.event, if_=match_expression(self.match), timeout=self.timeout)


@frozen(kw_only=True)
class Priority:
    """`run` is an expression giving, in seconds, how far ahead of others a run is queued."""

    run: str = field(metadata=_EXPRESSION)


@frozen(kw_only=True)
class Timeouts:
    """Cancel a run not started within `start` of its event, or not finished within `finish`."""

    start: _dt.timedelta | None = field(
        default=None, converter=_optional_duration, metadata=rule(Span())
    )
    finish: _dt.timedelta | None = field(
        default=None, converter=_optional_duration, metadata=rule(Span())
    )

    def _problems(self, wire: bool) -> Problems:
        if not wire and self.start is None and self.finish is None:
            yield "", "give start=, finish= or both"


@frozen(kw_only=True)
class Singleton:
    """At most one run at a time (per `key`): a new run is skipped, or cancels the running one."""

    mode: Literal["skip", "cancel"] = field(metadata=rule(OneOf(("skip", "cancel"))))
    key: str | None = field(default=None, metadata=_EXPRESSION)


# -- the table of options --------------------------------------------------------------------

OPTION: Final = "inngest_dsl.option"
"""The attrs metadata key of a `FunctionOptions` field's `Option`."""


@frozen(kw_only=True)
class Option:
    """How one option is written: the class users pass (`of`), and around it.

    `short` lets a bare value stand for the class: `(int, "limit")` reads `2` as
    `Concurrency(limit=2)` (on the wire too when `short_on_wire`). `many` allows a list of up to
    that many (with `noun` naming them in "at most 2 limits"); `wire` is the registration key
    when it is not the keyword in camelCase; `not_with_batch` is why the server refuses the
    option alongside `batch_events`. An option that is a bare value (`of=str`) follows `rule`.
    """

    of: type
    expected: str
    short: tuple[type | tuple[type, ...], str] | None = None
    short_on_wire: bool = False
    many: int = 0
    noun: str = ""
    wire: str | None = None
    not_with_batch: str | None = None
    rule: Rule | None = None


def _option(**entry: Any) -> Mapping[str, Option]:
    return {OPTION: Option(**entry)}


@frozen(kw_only=True)
class FunctionOptions:
    """Every function option, as validated: the class keywords' table, and `FunctionSpec`'s base.

    Each field is one class keyword; the class statement checks them, and the registration
    lists them, in this order (PROTOCOL §5.2's). Unset options are `None`, or `()` for those
    that take a list.
    """

    concurrency: tuple[Concurrency, ...] = field(
        default=(),
        metadata=_option(
            of=Concurrency, expected="a limit such as 2 or Concurrency(...)",
            short=(int, "limit"), short_on_wire=True, many=MAX_CONCURRENCY_LIMITS, noun="limits",
        ),
    )
    rate_limit: RateLimit | None = field(
        default=None, metadata=_option(of=RateLimit, expected="RateLimit(...)")
    )
    throttle: Throttle | None = field(
        default=None, metadata=_option(of=Throttle, expected="Throttle(...)")
    )
    debounce: Debounce | None = field(
        default=None,
        metadata=_option(
            of=Debounce, expected="Debounce(...)",
            not_with_batch="batching and debouncing are mutually exclusive",
        ),
    )
    batch_events: Batch | None = field(
        default=None, metadata=_option(of=Batch, expected="Batch(...)")
    )
    cancel_on: tuple[Cancel, ...] = field(
        default=(),
        metadata=_option(
            of=Cancel, expected="an event name or Cancel(...)", short=((str, type), "event"),
            many=MAX_CANCELS, noun="cancellation events", wire="cancel",
            not_with_batch="batching and cancellation are mutually exclusive",
        ),
    )
    priority: Priority | None = field(
        default=None,
        metadata=_option(
            of=Priority, expected="an expression or Priority(run=...)", short=(str, "run"),
            not_with_batch="a batch has no single event to compute a priority from",
        ),
    )
    idempotency: str | None = field(
        default=None, metadata=_option(of=str, expected="an expression", rule=Expression())
    )
    timeouts: Timeouts | None = field(
        default=None, metadata=_option(of=Timeouts, expected="Timeouts(...)")
    )
    singleton: Singleton | None = field(
        default=None,
        metadata=_option(
            of=Singleton, expected="Singleton(...)",
            not_with_batch="batching and singleton runs are mutually exclusive",
        ),
    )  # fmt: skip


def option_fields() -> tuple[tuple[attrs.Attribute[Any], Option], ...]:
    """`FunctionOptions`' fields with their `Option`, in order."""
    return tuple((f, f.metadata[OPTION]) for f in attrs.fields(FunctionOptions))


def wire_name(name: str) -> str:
    """A Python field name as the protocol spells it: `max_size` -> `maxSize`, `if_` -> `if`."""
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part.capitalize() for part in rest)


def class_problems(item: Any, wire: bool, *, fields: bool = True) -> Problems:
    """The problems of one option value: its fields' rules (unless `fields` is false: the
    wire checks them as it reads them), then the class's own checks."""
    for attribute in attrs.fields(type(item)) if fields else ():
        found = rule_of(attribute.metadata)
        value = getattr(item, attribute.name)
        if found is None or (value is None and attribute.default is None):
            continue
        problem = found.wire_problem(value) if wire else found.sdk_problem(value)
        if problem is not None:
            yield attribute.name, problem
    extra = getattr(item, "_problems", None)
    if extra is not None:
        yield from extra(wire)


def normalised(item: Any) -> Any:
    """An option value as the spec keeps it (a `Cancel`'s `match` turned into its `if_`)."""
    finish = getattr(item, "_normalised", None)
    return item if finish is None else finish()


def option_values(options: FunctionOptions) -> Mapping[str, Any]:
    """The options set in `options`, by keyword."""
    return {
        f.name: getattr(options, f.name)
        for f in attrs.fields(FunctionOptions)
        if getattr(options, f.name) not in (None, ())
    }
