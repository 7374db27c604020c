"""The event: what you send to Inngest and what triggers a function."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic

import attrs

from inngest_dsl.errors import EventError
from inngest_dsl.spec._event_types import event_name

__all__ = ["MAX_NAME_LENGTH", "D", "Event", "SendableEvents", "to_events", "typed_event"]

if TYPE_CHECKING:
    from typing_extensions import TypeVar

    D = TypeVar("D", covariant=True, default=Mapping[str, Any])
    """The type of an event's `data`: a mapping, or the attrs class of a typed event."""
else:
    from typing import TypeVar

    # The default only matters to type checkers (`Event` means `Event[Mapping[str, Any]]`).
    D = TypeVar("D", covariant=True)

MAX_NAME_LENGTH = 512
"""Longest event name the event API accepts."""

RESERVED_PREFIX = "inngest/"
"""Names Inngest itself uses (`inngest/scheduled.timer`, `inngest/function.failed`, ...)."""

# Bounds of `ts` the event API accepts: 1980-01-01 and 2100-01-01, in ms since the epoch.
_MIN_TS = 315_532_800_000
_MAX_TS = 4_102_444_800_000


def _empty_to_none(value: str | None) -> str | None:
    # An empty id means "no idempotency key": the event API would otherwise dedupe on "".
    return value or None


_ALWAYS = ("name", "data", "user")
_OPTIONAL = ("id", "ts", "v")


@attrs.frozen(eq=False)
class Event(Mapping[str, Any], Generic[D]):
    """An Inngest event.

    `name` says what happened (`"shop/order.placed"`); `data` carries the payload; `id` is an
    optional idempotency key (events with the same id are only accepted once); `ts` is the time
    it happened in milliseconds since the epoch (the sender fills in "now" when absent); `v` is
    an optional schema version. `user` is deprecated but still carried.

    An event also reads as a read-only mapping of its wire form (`to_wire()`), like every other
    value in `ctx.data`: `event["data"]["tag"]`, `event["name"]`, `event.get("id")`,
    `dict(event)` work next to `event.data["tag"]`; `id`, `ts` and `v` are keys only when set.
    It compares equal to another event, or to a mapping, with the same wire form, and is
    written to JSON as that form.

    Constructing an event validates it the way the event API would, raising `EventError`.

    In a function with a typed trigger (`event=SignedUp`, `ctx: Context[SignedUp]`),
    `ctx.event.data` is a `SignedUp`: `Event[SignedUp]`. Its wire form is the JSON of it.
    """

    name: str
    data: D = attrs.field(factory=dict)  # type: ignore[assignment]  # the default is a mapping
    user: Mapping[str, Any] = attrs.field(factory=dict)
    id: str | None = attrs.field(default=None, converter=_empty_to_none)
    ts: int | None = None
    v: str | None = None
    # Events that come from the server (including `inngest/...` ones) skip the send-side rules.
    _received: bool = attrs.field(
        default=False, alias="_received", repr=False, eq=False, kw_only=True
    )

    def __attrs_post_init__(self) -> None:
        _check_shape(self)
        if not self._received:
            _check_sendable(self)

    # -- the read-only mapping of the wire form ----------------------------------------------

    def __getitem__(self, key: str) -> Any:
        if key in _ALWAYS:
            value = getattr(self, key)
            # A typed event's data reads as its JSON here, as the wire form has it.
            return value if key != "data" or isinstance(value, Mapping) else _plain(value)
        if key in _OPTIONAL:
            value = getattr(self, key)
            if value is not None:
                return value
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        yield from _ALWAYS
        for key in _OPTIONAL:
            if getattr(self, key) is not None:
                yield key

    def __len__(self) -> int:
        return len(_ALWAYS) + sum(getattr(self, key) is not None for key in _OPTIONAL)

    def to_wire(self) -> dict[str, Any]:
        """The JSON object the event API expects; absent optional fields are omitted."""
        wire: dict[str, Any] = {
            "name": self.name,
            "data": _plain(self.data),
            "user": dict(self.user),
        }
        for key in ("id", "ts", "v"):
            value = getattr(self, key)
            if value is not None:
                wire[key] = value
        return wire

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> Event[Mapping[str, Any]]:
        """Build an event from a received JSON object.

        Lenient, because the server produced it: unknown keys are ignored, `data`/`user` may be
        missing or null, `ts` may be a float, and reserved `inngest/...` names are allowed.
        """
        if not isinstance(wire, Mapping):
            raise EventError(f"an event must be a JSON object, got {type(wire).__name__}")
        ts = wire.get("ts")
        if isinstance(ts, float):
            ts = int(ts)
        data: Mapping[str, Any] = wire.get("data") or {}
        return Event(
            name=wire.get("name"),  # type: ignore[arg-type]  # checked in _check_shape
            data=data,
            user=wire.get("user") or {},
            id=wire.get("id"),
            ts=ts,
            v=wire.get("v"),
            _received=True,
        )


def _plain(data: object) -> dict[str, Any]:
    if isinstance(data, Mapping):
        return dict(data)
    from inngest_dsl.spec._payloads import unstructure  # cattrs loads when a typed event is used

    plain: dict[str, Any] = unstructure(data)
    return plain


def typed_event(event: Event[Any], data_type: type[Any] | None) -> Event[Any]:
    """`event` with its data structured as `data_type`, an `@event_type` class (unchanged for
    `None`); `PayloadError` naming the field when the data does not fit."""
    if data_type is None or not isinstance(event.data, Mapping):
        return event
    from inngest_dsl.spec._payloads import structure

    data = structure(dict(event.data), data_type, f"the data of event {event.name!r}")
    return attrs.evolve(event, data=data)


def _check_shape(event: Event[Any]) -> None:
    """Rules every event obeys, sent or received: types of each field."""
    if not isinstance(event.name, str) or not event.name:
        raise EventError(f"event name must be a non-empty string, got {event.name!r}")
    for field in ("data", "user"):
        value = getattr(event, field)
        if field == "data" and event_name(type(value)) is not None:
            continue  # a typed event's data
        if not isinstance(value, Mapping):
            raise EventError(
                f"event {field} must be a JSON object (a mapping), got {type(value).__name__}"
            )
    for field in ("id", "v"):
        value = getattr(event, field)
        if value is not None and not isinstance(value, str):
            raise EventError(f"event {field} must be a string, got {type(value).__name__}")
    if event.ts is not None and (isinstance(event.ts, bool) or not isinstance(event.ts, int)):
        raise EventError(
            f"event ts must be an int (ms since the epoch), got {type(event.ts).__name__}"
        )


def _check_sendable(event: Event[Any]) -> None:
    """Rules the event API enforces on events it receives."""
    if len(event.name) > MAX_NAME_LENGTH:
        raise EventError(
            f"event name is {len(event.name)} characters long; the limit is {MAX_NAME_LENGTH}"
        )
    if event.name.startswith(RESERVED_PREFIX):
        raise EventError(
            f"event name {event.name!r} is reserved: names starting with "
            f"{RESERVED_PREFIX!r} belong to Inngest"
        )
    if event.ts is not None and not _MIN_TS <= event.ts < _MAX_TS:
        raise EventError(
            f"event ts {event.ts} is outside 1980..2100; it must be milliseconds since the epoch"
        )
    for field in ("data", "user"):
        _check_json(field, _plain(getattr(event, field)))


class _NotJSON(Exception):
    def __init__(self, value: object) -> None:
        self.value = value


def _refuse(value: object) -> Any:
    raise _NotJSON(value)


def _check_json(field: str, value: Mapping[str, Any]) -> None:
    try:
        json.dumps(dict(value), allow_nan=False, default=_refuse)
    except _NotJSON as exc:
        kind = type(exc.value)
        where = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
        raise EventError(
            f"event {field} is not JSON-serialisable: it contains a "
            f"{where}{kind.__qualname__} ({exc.value!r:.60})"
        ) from None
    except (TypeError, ValueError) as exc:
        # Non-string keys of other types, NaN/Infinity, circular references.
        raise EventError(f"event {field} is not JSON-serialisable: {exc}") from None


SendableEvents = (
    Event[Any]
    | Mapping[str, Any]
    | attrs.AttrsInstance
    | Sequence[Event[Any] | Mapping[str, Any] | attrs.AttrsInstance]
)
"""What `send` accepts: one event or a list of events, each an `Event`, a mapping, or the
data of a typed event (an instance of an `@event_type` class)."""


def _to_event(item: object) -> Event[Any]:
    if isinstance(item, Event):
        return item
    name = event_name(type(item))
    if name is not None:
        return Event(name, _plain(item))
    if isinstance(item, Mapping):
        unknown = sorted(set(item) - {"name", "data", "user", "id", "ts", "v"})
        if unknown:
            raise EventError(f"unknown event field(s): {', '.join(map(str, unknown))}")
        if "name" not in item:
            raise EventError("event has no name")
        return Event(**item)
    raise EventError(
        f"cannot send a {type(item).__name__}: expected an Event, a mapping or an instance "
        "of an @event_type class"
    )


def to_events(events: SendableEvents) -> list[Event[Any]]:
    """`events` as a list of validated `Event`s; `EventError` for anything that is not one."""
    if isinstance(events, (Event, Mapping)) or event_name(type(events)) is not None:
        return [_to_event(events)]
    if isinstance(events, (str, bytes)) or not isinstance(events, Iterable):
        raise EventError(
            f"cannot send a {type(events).__name__}: expected an Event, a mapping, an instance "
            "of an @event_type class, or a list of them"
        )
    return [_to_event(item) for item in events]
