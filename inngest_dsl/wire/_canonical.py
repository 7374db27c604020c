"""Canonical JSON (JCS, RFC 8785) with integers kept exact: the one canonicaliser.

JCS writes numbers the ECMAScript way, which would turn integers beyond 2**53 into float64
approximations; here integers are written digit for digit instead (floats still follow JCS),
so a value survives canonicalisation unchanged. The SDK signs and verifies with it and the dev
server stores and sends it.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

from inngest_dsl.wire._json import dumps, finite_float, reject_constant

__all__ = ["canonical_bytes", "canonical_text", "layout_only_canonical"]


def _sorted_compact_is_canonical(value: Any) -> bool:
    """True if sorted compact JSON of `value` is already canonical: no floats (JCS spells
    numbers the ECMAScript way) and no keys outside the BMP (JCS sorts by UTF-16)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            for key, child in item.items():
                if not key.isascii() and any(ord(char) > 0xFFFF for char in key):
                    return False
                stack.append(child)
        elif kind is list:
            stack.extend(item)
        elif kind is float:
            return False
    return True


def _write(value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: str(kv[0]).encode("utf-16be"))
        out.append("{")
        for index, (key, child) in enumerate(items):
            if not isinstance(key, str):
                raise ValueError(f"object keys must be strings, not {type(key).__name__}")
            out.append("," if index else "")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _write(child, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, child in enumerate(value):
            out.append("," if index else "")
            _write(child, out)
        out.append("]")
    elif isinstance(value, float):
        out.append(_float_text(value))
    elif value is None or isinstance(value, (bool, int, str)):
        out.append(json.dumps(value, ensure_ascii=False))
    else:
        raise ValueError(f"{type(value).__name__} is not a JSON value")


def _float_text(value: float) -> str:
    try:
        return bytes(rfc8785.dumps(value)).decode()
    except rfc8785.CanonicalizationError as exc:  # NaN and infinities
        raise ValueError(f"{value!r} is not a JSON number") from exc


def canonical_text(value: Any) -> str:
    """The canonical JSON text of `value`; `ValueError` if it is not a JSON value.

    The C encoder's sorted compact output is used whenever it is already canonical (the usual
    case: no floats, keys in the BMP).
    """
    if _sorted_compact_is_canonical(value):  # so no floats: no NaN for orjson to write as null
        try:
            return dumps(value, sort_keys=True, ensure_ascii=False).decode()
        except (TypeError, UnicodeError) as exc:
            raise ValueError(str(exc)) from exc
    out: list[str] = []
    _write(value, out)
    return "".join(out)


def canonical_bytes(value: Any) -> bytes:
    """`canonical_text` as UTF-8 bytes: what gets signed."""
    return canonical_text(value).encode()


def layout_only_canonical(raw: bytes) -> bytes | None:
    """The canonical form of a received JSON body when canonicalising changes only its layout
    (whitespace, key order, string escapes), else None.

    None also when a number is not spelt canonically (`1.0`, `1e2`): its canonical spelling
    could verify a signature given for a different number than the one the body carries.
    Empty bodies give `b""`; `ValueError` if the body is not JSON.
    """
    if not raw.strip():
        return b""
    respelt: list[str] = []

    def read_float(token: str) -> float:
        number = finite_float(token)
        if _float_text(number) != token:
            respelt.append(token)
        return number

    value = json.loads(raw, parse_float=read_float, parse_constant=reject_constant)
    if respelt:
        return None
    return canonical_bytes(value)
