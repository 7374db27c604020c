"""A JSON object a person typed (the UI's Send and Invoke forms, `--data` on the command
line), read as the event API reads bodies: no `NaN` or `Infinity`, nothing nested deeper than
a parser can follow, integers of any size exact. What is wrong is said in one line."""

from __future__ import annotations

import json
from typing import Any

from inngest_dsl.wire._json import loads

__all__ = ["PayloadError", "json_object"]


class PayloadError(ValueError):
    """Typed text that is not a JSON object; the message names the field and the problem."""


def json_object(text: str, field: str) -> dict[str, Any]:
    """`text` as a JSON object (blank text is `{}`); raises `PayloadError` naming `field`."""
    if not text.strip():
        return {}
    try:
        value = loads(text, finite=True)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise PayloadError(f"{field} is not valid JSON: {exc.msg} ({where})") from None
    except ValueError as exc:  # NaN, Infinity, a number past a double, nested too deeply
        raise PayloadError(f"{field} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise PayloadError(f'{field} must be a JSON object, e.g. {{"user_id": 1}}')
    return value
