"""The event: what you send to Inngest and what triggers a function."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from inngest_dsl.errors import EventError

__all__ = ["MAX_NAME_LENGTH", "Event", "SendableEvents", "to_events"]

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
class Event(Mapping[str, Any]):
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
    """

    name: str
    data: Mapping[str, Any] = attrs.field(factory=dict)
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
            return getattr(self, key)
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
            "data": dict(self.data),
            "user": dict(self.user),
        }
        for key in ("id", "ts", "v"):
            value = getattr(self, key)
            if value is not None:
                wire[key] = value
        return wire

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> Event:
        """Build an event from a received JSON object.

        Lenient, because the server produced it: unknown keys are ignored, `data`/`user` may be
        missing or null, `ts` may be a float, and reserved `inngest/...` names are allowed.
        """
        if not isinstance(wire, Mapping):
            raise EventError(f"an event must be a JSON object, got {type(wire).__name__}")
        ts = wire.get("ts")
        if isinstance(ts, float):
            ts = int(ts)
        return cls(
            name=wire.get("name"),  # type: ignore[arg-type]  # checked in _check_shape
            data=wire.get("data") or {},
            user=wire.get("user") or {},
            id=wire.get("id"),
            ts=ts,
            v=wire.get("v"),
            _received=True,
        )


def _check_shape(event: Event) -> None:
    """Rules every event obeys, sent or received: types of each field."""
    if not isinstance(event.name, str) or not event.name:
        raise EventError(f"event name must be a non-empty string, got {event.name!r}")
    for field in ("data", "user"):
        value = getattr(event, field)
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


def _check_sendable(event: Event) -> None:
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
        _check_json(field, getattr(event, field))


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


SendableEvents = Event | Mapping[str, Any] | Sequence[Event | Mapping[str, Any]]
"""What `send` accepts: one event or a list of events, each an `Event` or a mapping."""


def _to_event(item: object) -> Event:
    if isinstance(item, Event):
        return item
    if isinstance(item, Mapping):
        unknown = sorted(set(item) - {"name", "data", "user", "id", "ts", "v"})
        if unknown:
            raise EventError(f"unknown event field(s): {', '.join(map(str, unknown))}")
        if "name" not in item:
            raise EventError("event has no name")
        return Event(**item)
    raise EventError(f"cannot send a {type(item).__name__}: expected an Event or a mapping")


def to_events(events: SendableEvents) -> list[Event]:
    """`events` as a list of validated `Event`s; `EventError` for anything that is not one."""
    if isinstance(events, (Event, Mapping)):
        return [_to_event(events)]
    if isinstance(events, (str, bytes)) or not isinstance(events, Iterable):
        raise EventError(
            f"cannot send a {type(events).__name__}: expected an Event, a mapping, or a list"
        )
    return [_to_event(item) for item in events]
