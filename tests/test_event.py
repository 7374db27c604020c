"""Event validation and wire conversion."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import pytest

from inngest_dsl.errors import EventError
from inngest_dsl.spec._event import Event, to_events
from inngest_dsl.wire._json import dumps, to_json

TS = 1_700_000_000_000


def test_defaults_and_wire_form_omit_nulls() -> None:
    event = Event("shop/order.placed", {"order_id": 7})
    assert event.user == {}
    assert event.to_wire() == {"name": "shop/order.placed", "data": {"order_id": 7}, "user": {}}


def test_wire_form_carries_optional_fields() -> None:
    event = Event("a/b", {"x": [1, "2", None]}, user={"u": 1}, id="key-1", ts=TS, v="2024-01-01.1")
    assert event.to_wire() == {
        "name": "a/b",
        "data": {"x": [1, "2", None]},
        "user": {"u": 1},
        "id": "key-1",
        "ts": TS,
        "v": "2024-01-01.1",
    }


def test_empty_id_means_no_id() -> None:
    assert Event("a", id="").id is None
    assert "id" not in Event("a", id="").to_wire()


def test_is_frozen() -> None:
    event = Event("a")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.name = "b"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, "non-empty"),
        ({"name": 3}, "non-empty string"),
        ({"name": "x" * 513}, "513 characters"),
        ({"name": "inngest/function.failed"}, "reserved"),
        ({"name": "a", "data": [1, 2]}, "data must be a JSON object"),
        ({"name": "a", "data": "text"}, "data must be a JSON object"),
        ({"name": "a", "user": 5}, "user must be a JSON object"),
        ({"name": "a", "data": {"tags": {"x"}}}, "contains a set"),
        ({"name": "a", "data": {"at": dt.datetime(2024, 1, 1)}}, "contains a datetime.datetime"),
        ({"name": "a", "user": {"n": float("nan")}}, "user is not JSON-serialisable"),
        ({"name": "a", "data": {(1, 2): "tuple key"}}, "data is not JSON-serialisable"),
        ({"name": "a", "ts": 1_700_000_000}, "outside 1980..2100"),
        ({"name": "a", "ts": 4_102_444_800_000}, "outside 1980..2100"),
        ({"name": "a", "ts": 1.7e12}, "ts must be an int"),
        ({"name": "a", "ts": True}, "ts must be an int"),
        ({"name": "a", "id": 12}, "id must be a string"),
        ({"name": "a", "v": 2}, "v must be a string"),
    ],
)
def test_invalid_events_are_refused_with_a_reason(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(EventError, match=message):
        Event(**kwargs)


def test_boundaries_are_accepted() -> None:
    assert Event("x" * 512).name == "x" * 512
    assert Event("a", ts=315_532_800_000).ts == 315_532_800_000
    assert Event("inngestish/ok").name == "inngestish/ok"


def test_from_wire_is_lenient() -> None:
    event = Event.from_wire(
        {"name": "a/b", "ts": 1.7e12, "extra": True, "data": None, "id": "01J", "unknown": [1]}
    )
    assert event == Event("a/b", {}, {}, id="01J", ts=TS)


def test_from_wire_missing_fields_default() -> None:
    event = Event.from_wire({"name": "a/b"})
    assert (event.data, event.user, event.id, event.ts, event.v) == ({}, {}, None, None, None)


@pytest.mark.parametrize("name", ["inngest/scheduled.timer", "inngest/function.failed"])
def test_from_wire_accepts_internal_events(name: str) -> None:
    event = Event.from_wire({"name": name, "data": {"function_id": "f"}, "ts": TS})
    assert event.name == name
    assert event.data == {"function_id": "f"}


def test_wire_round_trip() -> None:
    event = Event("a/b", {"n": 1}, user={"id": "u"}, id="k", ts=TS, v="1")
    assert Event.from_wire(event.to_wire()) == event


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ([1, 2], "must be a JSON object"),
        ({"data": {}}, "name must be a non-empty string"),
        ({"name": "a", "data": [1]}, "data must be a JSON object"),
    ],
)
def test_from_wire_still_checks_shape(wire: Any, message: str) -> None:
    with pytest.raises(EventError, match=message):
        Event.from_wire(wire)


# -- an event reads as a mapping of its wire form -----------------------------------------


def test_an_event_reads_as_its_wire_form() -> None:
    event = Event.from_wire({"name": "app/resume", "data": {"tag": "t1"}, "id": "e1", "ts": TS})
    assert event["data"]["tag"] == event.data["tag"] == "t1"
    assert event["name"] == event.name == "app/resume"
    assert (event["id"], event["ts"], event["user"]) == ("e1", TS, {})
    assert event["data"] is event.data
    assert dict(event) == event.to_wire()
    assert list(event) == ["name", "data", "user", "id", "ts"]
    assert len(event) == 5
    assert event.get("v") is None
    assert "v" not in event
    assert "id" in event
    assert "missing" not in event
    assert dict(event.items()) == event.to_wire()
    with pytest.raises(KeyError):
        event["v"]
    with pytest.raises(KeyError):
        event["missing"]


def test_unset_optional_fields_are_not_keys() -> None:
    event = Event("a/b")
    assert list(event) == ["name", "data", "user"]
    assert event.get("id", "none") == "none"
    with pytest.raises(KeyError):
        event["id"]


def test_an_event_mapping_is_read_only() -> None:
    event = Event("a/b", {"x": 1})
    with pytest.raises(TypeError):
        event["name"] = "c/d"  # type: ignore[index]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.name = "c/d"  # type: ignore[misc]


def test_an_event_equals_its_wire_form_and_events_alike() -> None:
    wire = {"name": "a/b", "data": {"x": 1}, "user": {}, "id": "k"}
    event = Event("a/b", {"x": 1}, id="k")
    assert event == wire
    assert wire == event
    assert event == Event.from_wire(wire)
    assert event != Event("a/b", {"x": 2}, id="k")
    assert event != {**wire, "id": "other"}
    assert event != "a/b"
    assert Event("a/b", ts=TS) != Event("a/b")


def test_an_event_is_written_to_json_as_its_wire_form() -> None:
    event = Event("a/b", {"x": 1}, id="k")
    assert dumps({"reply": event}) == b'{"reply":{"name":"a/b","data":{"x":1},"user":{},"id":"k"}}'
    assert to_json(event) == event.to_wire()


def test_an_event_is_still_sendable_as_given() -> None:
    event = Event("a/b", {"x": 1})
    assert to_events(event) == [event]
    assert to_events([event, dict(event)]) == [event, event]
