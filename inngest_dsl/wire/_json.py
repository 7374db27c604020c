"""Wire JSON: the one cattrs converter for the protocol's classes, and the encoder of bodies.

The registration and response modules register their hooks on `converter`; `dumps` writes a
response body with it (and `Event`s as their wire dict).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from typing import Any

import attrs
import cattrs

from inngest_dsl.spec._durations import format_duration
from inngest_dsl.spec._event import Event

__all__ = ["check_json", "converter", "dumps", "to_json"]

converter = cattrs.Converter(omit_if_default=True)
"""The one converter for wire JSON; attributes left at their default (`None`) are omitted."""

converter.register_unstructure_hook(_dt.timedelta, format_duration)
"""Durations are time strings on the wire: `"30s"`, `"1h30m"`, `"7d"`."""


def to_json(value: Any) -> Any:
    """Unstructure any wire class (or container of them) to plain JSON values."""
    return converter.unstructure(value)


def _encode_default(value: Any) -> Any:
    if isinstance(value, Event):
        return value.to_wire()
    if isinstance(value, Mapping):
        return dict(value)
    if attrs.has(type(value)):
        return converter.unstructure(value)
    raise TypeError(f"{type(value).__qualname__} is not JSON-serialisable")


def dumps(value: Any) -> bytes:
    """Encode a response body: wire classes via the converter, `Event`s as their wire dict."""
    return json.dumps(value, default=_encode_default, separators=(",", ":")).encode()


def check_json(value: Any) -> None:
    """Raise `TypeError`/`ValueError` if `value` cannot be sent as JSON."""
    json.dumps(value, default=_encode_default, allow_nan=False)
