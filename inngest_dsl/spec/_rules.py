"""The rules an option's fields follow, written once for the SDK and the dev server.

An option class (`_options`) tags each field with a rule in its attrs metadata: `Whole` numbers
in a range, `Span`s of time in a `DurationRange`, CEL `Expression`s, `OneOf` a few words, an
event `Name`. The class statement checks what the user wrote (`sdk_problem`); the dev server
checks what arrived on the wire (`wire_problem`). Both read the same bounds from `_limits`; they
differ only where the inputs differ (a `timedelta` or a time string, `2` or `2.0`) and in how
they phrase a problem, which each side's users already know.

`as_duration` is the converter of duration fields: a time string or a `timedelta` becomes a
`timedelta` that remembers what was written (`Written`), for messages such as "got '8d'". What
it cannot read it keeps as given, for the class statement to report with every other problem
instead of raising from the option's constructor.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from typing import Any, Final

from attrs import field, frozen

from inngest_dsl.spec._durations import parse_duration, parse_instant
from inngest_dsl.spec._expressions import expression_problem
from inngest_dsl.spec._limits import SDK_MIN_DURATION, DurationRange

__all__ = [
    "RULE",
    "Expression",
    "Name",
    "OneOf",
    "Rule",
    "Span",
    "Whole",
    "Written",
    "as_duration",
    "rule",
    "rule_of",
]

RULE: Final = "inngest_dsl.rule"
"""The attrs metadata key under which a field's rule is kept."""


class Written(_dt.timedelta):
    """A `timedelta` that remembers how it was given (`"1h30m"`), for messages; equal to and
    hashed as the plain `timedelta`."""

    given: object

    def __new__(cls, delta: _dt.timedelta, given: object) -> Written:
        self = super().__new__(cls, delta.days, delta.seconds, delta.microseconds)
        self.given = given
        return self

    def __repr__(self) -> str:
        return _dt.timedelta.__repr__(_dt.timedelta(self.days, self.seconds, self.microseconds))

    def __reduce__(self) -> Any:
        return (_dt.timedelta, (self.days, self.seconds, self.microseconds))


def as_duration(value: str | _dt.timedelta) -> _dt.timedelta:
    """A duration field's converter: the `timedelta` of `value`, or `value` if it is not one."""
    if isinstance(value, Written):
        return value
    try:
        return Written(parse_duration(value), value)
    except (TypeError, ValueError):
        return value  # type: ignore[return-value]  # reported by the class statement


def _given(value: object) -> object:
    return value.given if isinstance(value, Written) else value


@frozen
class Whole:
    """A whole number from `minimum` to `maximum`; on the wire, `zero_is_default` reads 0 or
    nothing as the field's default (as Inngest reads a throttle's `burst`)."""

    minimum: int
    maximum: int | None = None
    zero_is_default: bool = False

    def sdk_problem(self, value: object) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be a whole number, got {value!r}"
        if value < self.minimum or (self.maximum is not None and value > self.maximum):
            bounds = (
                f"at least {self.minimum}"
                if self.maximum is None
                else f"{self.minimum}..{self.maximum}"
            )
            return f"must be {bounds}, got {value}"
        return None

    def wire_problem(self, value: object) -> str | None:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (isinstance(value, float) and not (math.isfinite(value) and value.is_integer()))
        ):
            return "must be an integer"
        if value < self.minimum and not (self.zero_is_default and value == 0):
            return f"must be at least {self.minimum}"
        if self.maximum is not None and value > self.maximum:
            return f"must be at most {self.maximum}"
        return None

    def from_wire(self, value: Any, default: object) -> object:
        return default if self.zero_is_default and value == 0 else int(value)


@frozen
class Span:
    """A length of time within `bounds`; `hours_only` when the server reads it with Go's
    `time.ParseDuration` (no days or weeks on the wire); `instants_on_wire` when the server also
    takes an RFC 3339 instant there (a cancellation's timeout), which is then kept as written."""

    bounds: DurationRange = field(factory=DurationRange)
    hours_only: bool = False
    instants_on_wire: bool = False

    def sdk_problem(self, value: object) -> str | None:
        if not isinstance(value, Written):  # `as_duration` could not read it
            try:
                parse_duration(value)  # type: ignore[arg-type]  # for its message
            except (TypeError, ValueError) as exc:
                return str(exc)
            value = as_duration(value)  # type: ignore[arg-type]  # set after construction
        # The SDK writes whole milliseconds and Inngest rounds to seconds: 1s at least.
        minimum = max(self.bounds.minimum or SDK_MIN_DURATION, SDK_MIN_DURATION)
        problem = DurationRange(minimum, self.bounds.maximum).problem(value)
        return None if problem is None else f"{problem}, got {_given(value)!r}"

    def wire_problem(self, value: object) -> str | None:
        if isinstance(value, bool) or not isinstance(value, str) or not value.strip():
            return "must be a duration string like '30s' or '1h'"
        if self.instants_on_wire and len(value) >= 10:
            try:
                parse_instant(value)
                return None
            except ValueError:
                pass
        if self.hours_only and any(unit in value for unit in ("d", "w")):
            return (
                f"{value!r} uses days or weeks, which this field does not accept "
                "(use hours, e.g. '48h')"
            )
        try:
            delta = parse_duration(value)
        except ValueError as exc:
            return str(exc)
        problem = self.bounds.problem(delta)
        return None if problem is None else f"{problem}, got {value!r}"

    def from_wire(self, value: Any, default: object) -> object:
        return as_duration(value)


@frozen
class Expression:
    """A CEL expression over `event` (on the wire, `""` means none)."""

    def sdk_problem(self, value: object) -> str | None:
        return expression_problem(value)

    def wire_problem(self, value: object) -> str | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            return "must be a CEL expression string"
        return expression_problem(value)

    def from_wire(self, value: Any, default: object) -> object:
        return value or default


@frozen
class OneOf:
    """One of a few words (on the wire, `""` means the default)."""

    choices: tuple[str, ...]

    def sdk_problem(self, value: object) -> str | None:
        if value in self.choices:
            return None
        quoted = [repr(choice) for choice in self.choices]
        return f"must be {', '.join(quoted[:-1])} or {quoted[-1]}, got {value!r}"

    def wire_problem(self, value: object) -> str | None:
        if value in self.choices or value == "":
            return None
        return f"must be one of {', '.join(self.choices)}"

    def from_wire(self, value: Any, default: object) -> object:
        return value or default


@frozen
class Name:
    """A non-empty event name."""

    def sdk_problem(self, value: object) -> str | None:
        if isinstance(value, str) and value.strip():
            return None
        return f"must be a non-empty event name, got {value!r}"

    def wire_problem(self, value: object) -> str | None:
        return None if isinstance(value, str) else "required"

    def from_wire(self, value: Any, default: object) -> object:
        return value


Rule = Whole | Span | Expression | OneOf | Name


def rule(value: Rule) -> Mapping[str, Rule]:
    """The attrs metadata tagging a field with `value`: `field(metadata=rule(Whole(1)))`."""
    return {RULE: value}


def rule_of(metadata: Mapping[Any, Any]) -> Rule | None:
    """The rule of a field, from its attrs metadata; `None` for a field without one."""
    found = metadata.get(RULE)
    return found if isinstance(found, (Whole, Span, Expression, OneOf, Name)) else None
