"""Validating what the public event API receives (§9)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ulid import ULID

__all__ = ["MAX_BATCH", "MAX_NAME", "EventValidationError", "ids_from_seed", "normalise_events"]

MAX_BATCH = 5000
MAX_NAME = 512
_MIN_TS = 315532800000  # 1980-01-01
_MAX_TS = 4102444800000  # 2100-01-01


class EventValidationError(ValueError):
    """An event the API refuses; the message names the event (by index) and the field."""


def _normalise(raw: Any, index: int, many: bool) -> dict[str, Any]:
    where = f"event {index}: " if many else ""
    if not isinstance(raw, dict):
        raise EventValidationError(f"{where}must be a JSON object")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise EventValidationError(f"{where}name: required")
    if len(name) > MAX_NAME:
        raise EventValidationError(f"{where}name: longer than {MAX_NAME} characters")
    if name.startswith("inngest/"):
        raise EventValidationError(f"{where}name: {name!r} is reserved for internal events")
    data = raw.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise EventValidationError(f"{where}data: must be a JSON object")
    data = {k: v for k, v in data.items() if k != "_inngest"}
    user = raw.get("user")
    if user is None:
        user = {}
    if not isinstance(user, dict):
        raise EventValidationError(f"{where}user: must be a JSON object")
    event: dict[str, Any] = {"name": name, "data": data, "user": user}
    event_id = raw.get("id")
    if event_id is not None and event_id != "":
        if not isinstance(event_id, str):
            raise EventValidationError(f"{where}id: must be a string")
        event["id"] = event_id
    ts = raw.get("ts")
    if ts is not None and ts != 0:
        if isinstance(ts, bool) or not isinstance(ts, (int, float)):
            raise EventValidationError(f"{where}ts: must be milliseconds since the epoch")
        if not _MIN_TS <= ts <= _MAX_TS:
            raise EventValidationError(f"{where}ts: must lie between 1980 and 2100 (milliseconds)")
        event["ts"] = int(ts)
    version = raw.get("v")
    if version is not None:
        if not isinstance(version, str):
            raise EventValidationError(f"{where}v: must be a string")
        event["v"] = version
    return event


def normalise_events(body: Any) -> list[dict[str, Any]]:
    """One event or an array of up to `MAX_BATCH` events, validated and normalised."""
    if isinstance(body, list):
        if not body:
            raise EventValidationError("no events in the array")
        if len(body) > MAX_BATCH:
            raise EventValidationError(f"at most {MAX_BATCH} events per request, got {len(body)}")
        return [_normalise(raw, index, True) for index, raw in enumerate(body)]
    return [_normalise(body, 0, False)]


def ids_from_seed(seed: str, count: int) -> list[str]:
    """The internal ids of `count` events sent with `X-Inngest-Event-Id-Seed: <ms>,<base64>`.

    As Inngest does: the seed's time and 10 random bytes, plus the event's index, make a ULID,
    so a retried request with the same seed names the same events.
    """
    millis, sep, encoded = seed.partition(",")
    try:
        if not sep or not millis.isdigit():
            raise ValueError
        entropy = base64.b64decode(encoded, validate=True)
        if len(entropy) != 10 or int(millis) >= 2**48:
            raise ValueError
    except (ValueError, binascii.Error):
        raise EventValidationError(
            "X-Inngest-Event-Id-Seed: expected '<unix ms>,<base64 of 10 bytes>'"
        ) from None
    start = int.from_bytes(entropy, "big")
    stamp = int(millis).to_bytes(6, "big")
    return [
        str(ULID.from_bytes(stamp + ((start + index) % 2**80).to_bytes(10, "big")))
        for index in range(count)
    ]
