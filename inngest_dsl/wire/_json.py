"""Wire JSON: the one cattrs converter for the protocol's classes, and the one JSON codec.

The registration and response modules register their hooks on `converter`. `dumps` and
`loads` are the JSON entry points of the serve path, the client and the dev server: `dumps` on
`orjson` and `loads` on `msgspec` where they give the very bytes (and values) the standard
library would, the standard library where they would not (integers past 64 bits and tiny
floats' exponent form in `dumps`, non-string keys, lone surrogates), so switching codecs
changes no byte on the wire.
"""

from __future__ import annotations

import codecs
import datetime as _dt
import json
import math
import re
from collections.abc import Mapping
from typing import Any

import attrs
import cattrs
import msgspec
import orjson

from inngest_dsl.spec._durations import format_duration
from inngest_dsl.spec._event import Event

__all__ = [
    "check_json",
    "converter",
    "dumps",
    "finite_float",
    "loads",
    "reject_constant",
    "to_json",
]

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


# -- encoding ---------------------------------------------------------------------------------

# Everything orjson would write differently from `json.dumps` goes to the default hook (which
# refuses it, sending the value to the standard library): subclasses of str/int/dict/list,
# dataclasses and datetimes, which `json` does not know.
_ORJSON_OPTIONS = (
    orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)  # fmt: skip

# orjson writes floats below 1e-4 as `0.00001` / `1e-7` where Python writes `1e-05` / `1e-07`.
_SHORT_EXPONENT = re.compile(rb"0\.0000|[0-9]e-[0-9](?![0-9])")


def _maybe_short_exponent(out: bytes) -> bool:
    """Whether orjson may have written a float as `1e-7` or `0.00001`. Looks at each `-` and
    `.` (found by memchr, quick even in megabytes of text) rather than searching for `e-`."""
    for mark, before, after in ((b"-", 1, 0), (b".", 1, 4)):
        seen = 0
        at = out.find(mark)
        while at != -1:
            near = out[at - before : at + after + 1]
            if near in (b"e-", b"0.0000"):
                return True
            seen += 1
            if seen > 64:  # a text full of them: the regular expression decides
                return True
            at = out.find(mark, at + 1)
    return False


def _orjson_default(value: Any) -> Any:
    if isinstance(value, Event):
        return value.to_wire()
    if isinstance(value, Mapping):  # dict subclasses too, as `json` writes them
        return dict(value)
    if attrs.has(type(value)):
        return converter.unstructure(value)
    raise TypeError  # the passed-through types: the standard library decides


def _json_escape(error: UnicodeError) -> tuple[str, int]:
    # `ensure_ascii`: every non-ASCII character as \uXXXX, astral ones as a surrogate pair.
    assert isinstance(error, UnicodeEncodeError)
    out = []
    for char in error.object[error.start : error.end]:
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            out.append(f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out), error.end


codecs.register_error("inngest_dsl.json_escape", _json_escape)


def _stdlib_dumps(value: Any, sort_keys: bool, ensure_ascii: bool) -> bytes:
    return json.dumps(
        value,
        default=_encode_default,
        separators=(",", ":"),
        sort_keys=sort_keys,
        ensure_ascii=ensure_ascii,
    ).encode("utf-8", "surrogatepass")  # a lone surrogate fails where the text is stored


def dumps(value: Any, *, sort_keys: bool = False, ensure_ascii: bool = True) -> bytes:
    """Encode a body as compact JSON: wire classes via the converter, `Event`s as their wire
    dict; byte for byte what `json.dumps(value, separators=(",", ":"), ...)` writes (UTF-8).

    For values `check_json` accepted (every step result and output is checked): orjson also
    writes enum members and UUIDs, and `NaN` as `null`, which `check_json` refuses.
    """
    options = _ORJSON_OPTIONS | orjson.OPT_SORT_KEYS if sort_keys else _ORJSON_OPTIONS
    try:
        out = orjson.dumps(value, default=_orjson_default, option=options)
    except TypeError:  # big integers, non-string keys, surrogates, types `json` decides on
        return _stdlib_dumps(value, sort_keys, ensure_ascii)
    if _maybe_short_exponent(out) and _SHORT_EXPONENT.search(out):
        return _stdlib_dumps(value, sort_keys, ensure_ascii)
    if ensure_ascii:
        if not out.isascii():
            out = out.decode().encode("ascii", "inngest_dsl.json_escape")
        if b"\x7f" in out:  # DEL is ASCII, but `json` escapes it too
            out = out.replace(b"\x7f", b"\\u007f")
    return out


def check_json(value: Any) -> bytes:
    """`value` as `dumps` writes it; `TypeError`/`ValueError` if it cannot be sent as JSON
    (`NaN` and the infinities included), so a checked value is encoded only once."""
    return json.dumps(
        value, default=_encode_default, allow_nan=False, separators=(",", ":")
    ).encode()


# -- decoding ---------------------------------------------------------------------------------

# msgspec reads what `json.loads` reads, to the same values (integers of any size exact, floats
# correctly rounded, the last of repeated keys), and refuses `NaN`, `Infinity` and numbers past
# a double; it parses a body of megabytes of text 2-3x faster than orjson, which would also
# read integers past 64 bits as floats, to be looked for afterwards.
_decode = msgspec.json.Decoder().decode


def reject_constant(name: str) -> Any:
    """`parse_constant` for `json.loads`: `NaN` and `Infinity` are not JSON."""
    raise ValueError(f"{name} is not JSON")


def finite_float(token: str) -> float:
    """`parse_float` for `json.loads` refusing numbers beyond a double's range."""
    number = float(token)
    if math.isinf(number):
        raise ValueError(f"{token} is beyond the range of a JSON number (a double)")
    return number


def _stdlib_loads(raw: bytes | str, finite: bool = False) -> Any:
    try:
        if finite:
            return json.loads(raw, parse_constant=reject_constant, parse_float=finite_float)
        return json.loads(raw, parse_constant=reject_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def loads(raw: bytes | str, *, finite: bool = False) -> Any:
    """Parse JSON, refusing the `NaN` / `Infinity` constants JSON does not have; with
    `finite`, numbers beyond a double's range too (else they read as infinities). Integers of
    any size stay exact. Raises `ValueError` if `raw` is not JSON or is nested too deeply."""
    try:
        return _decode(raw)
    except (msgspec.DecodeError, RecursionError, UnicodeEncodeError):
        # The standard library decides: the same error as before, or what msgspec will not
        # read but `json` does (lone surrogates, a byte-order mark, numbers past a double
        # without `finite`).
        return _stdlib_loads(raw, finite)
