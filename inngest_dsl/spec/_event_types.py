"""Typed events: an attrs class (or dataclass) is an event's `data`; `@event_type` names it.

```python
@event_type("auth/signup")
@attrs.frozen
class SignedUp:
    user_id: int
    email: str
```

`SignedUp(user_id=1, email="a@b.c")` is the data of an `auth/signup` event: `client.send` sends
it as one, and the class stands wherever an event name does (`event=SignedUp`,
`wait_for_event(SignedUp, ...)`, `Cancel(SignedUp)`, `cancel_on=SignedUp`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from inngest_dsl.errors import DefinitionError

__all__ = ["EVENT_NAME", "event_name", "event_type", "name_of", "type_of"]

T = TypeVar("T", bound=type)

EVENT_NAME = "__inngest_event__"
"""The class attribute `@event_type` sets: the event's name."""


def event_type(name: str) -> Callable[[T], T]:
    """Make an attrs class (or dataclass) the `data` of events named `name`.

    Instances are structured from and to JSON by cattrs; a payload that does not fit fails
    the run with a `PayloadError` naming the field.
    """
    if not isinstance(name, str) or not name.strip():
        raise DefinitionError(
            "event_type", [f"the event name must be a non-empty string, got {name!r}"]
        )
    if name.startswith("inngest/"):
        raise DefinitionError(
            "event_type", [f"event name {name!r} is reserved: 'inngest/...' names are Inngest's"]
        )

    def mark(cls: T) -> T:
        if not _is_record(cls):
            raise DefinitionError(
                f"event_type({name!r})",
                [f"decorate an attrs class or a dataclass (put @event_type above @attrs.define), "
                 f"got {cls!r}"],
            )
        setattr(cls, EVENT_NAME, name)
        return cls

    return mark


def _is_record(cls: object) -> bool:
    # A dataclass is told by its fields (importing `dataclasses` costs every import).
    return isinstance(cls, type) and (attrs.has(cls) or hasattr(cls, "__dataclass_fields__"))


def event_name(cls: type) -> str | None:
    """The event name of an `@event_type` class; `None` for anything else."""
    name = cls.__dict__.get(EVENT_NAME) if isinstance(cls, type) else None
    return name if isinstance(name, str) else None


def name_of(value: Any) -> Any:
    """`value`'s event name if it is an event type, else `value` unchanged (for the checks that
    follow to judge it): the converter of every field that takes an event name."""
    if isinstance(value, type):
        name = event_name(value)
        if name is not None:
            return name
    return value


def type_of(value: object) -> type | None:
    """The event type `value` is (an `@event_type` class), else `None`."""
    if isinstance(value, type) and event_name(value) is not None:
        return value
    return None
