"""The one JSON codec (`wire/_json.py`): the bytes of `json.dumps`, the values of `json.loads`.

orjson (`dumps`) and msgspec (`loads`) do the work where they give the same result as the
standard library; these tests hold `dumps`/`loads` to the standard library on what they would do
differently (big integers, floats' exponent form, non-ASCII text, non-string keys, lone
surrogates, `NaN`, a byte-order mark).
"""

from __future__ import annotations

import datetime
import enum
import json
import math
import random
import struct
from collections import OrderedDict
from typing import Any

import attrs
import pytest

from inngest_dsl import Event
from inngest_dsl.wire._json import check_json, dumps, loads
from inngest_dsl.wire._responses import ErrorBody, Opcode, Userland, encode_result_body


def stdlib(value: Any, **options: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), **options).encode()


class Colour(enum.IntEnum):
    RED = 1


class Name(str):
    pass


VALUES = [
    {"z": 1, "a": [1, 2.5, None, True, False], "nested": {"b": "x"}},
    2**64,
    -(2**63) - 1,
    {"big": 123456789012345678901234567890},
    [1e-05, 1e-07, 1.5e-9, 0.0001, 1e16, 1e22, 1.5e300, -0.0, 0.1, 1e-300],
    "é ü 中文 😀 \u2028 \u2029 \x7f \x00 \x1f \t\n\"\\/",
    {"é": 1, "😀": 2},
    {1: "int key", 2.5: "float key", None: "null key"},
    "\ud800 lone surrogate",
    OrderedDict(b=1, a=2),
    Colour.RED,
    Name("a str subclass"),
    "e-mail 0.0000 text that looks like numbers",
]


@pytest.mark.parametrize("value", VALUES)
def test_dumps_writes_the_bytes_json_dumps_writes(value: Any) -> None:
    assert dumps(value) == stdlib(value)


@pytest.mark.parametrize("value", VALUES)
def test_sorted_utf8_dumps_matches_json_dumps(value: Any) -> None:
    if isinstance(value, dict) and any(not isinstance(k, str) for k in value):
        return  # json cannot sort keys of mixed types
    expected = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    encoded = expected.encode("utf-8", "surrogatepass")
    assert dumps(value, sort_keys=True, ensure_ascii=False) == encoded


def test_dumps_matches_json_dumps_on_random_floats() -> None:
    rng = random.Random(15)
    floats = [struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0] for _ in range(5000)]
    floats += [rng.random() * 10 ** rng.randint(-12, 25) for _ in range(5000)]
    finite = [f for f in floats if math.isfinite(f)]
    assert dumps(finite) == stdlib(finite)


def test_dumps_writes_events_and_wire_classes() -> None:
    event = Event(name="shop/order", data={"id": 1})
    assert dumps([event]) == stdlib([event.to_wire()])
    error = ErrorBody(name="E", message="m", code="c")
    assert loads(dumps(error)) == {"code": "c", "message": "m", "name": "E", "stack": None}


def test_dumps_refuses_what_json_refuses() -> None:
    with pytest.raises(TypeError, match="object is not JSON-serialisable"):
        dumps({"x": object()})
    with pytest.raises(TypeError):
        dumps({"when": datetime.datetime(2030, 1, 1)})


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a":18446744073709551616}',
        b"-9223372036854775809",
        b"123456789012345678901234567890",
        b'[18446744073709551615,-9223372036854775808,9007199254740993]',
    ],
)
def test_loads_keeps_integers_of_any_size_exact(raw: bytes) -> None:
    value = loads(raw)
    assert value == json.loads(raw)
    assert dumps(value) == raw


@pytest.mark.parametrize("raw", [b'{"a": NaN}', b"[Infinity]", b"-Infinity", "NaN"])
def test_loads_refuses_nan_and_the_infinities(raw: bytes | str) -> None:
    with pytest.raises(ValueError, match="is not JSON"):
        loads(raw)


@pytest.mark.parametrize("raw", [b"", b"{", b"[1,]", b"\xff", b'{"a" 1}'])
def test_loads_raises_value_error_on_what_is_not_json(raw: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - whichever message json gives
        loads(raw)


@pytest.mark.parametrize(
    "raw",
    [
        '"\\ud800"',  # an escaped lone surrogate, which msgspec refuses and json reads
        '["\ud800"]',  # the same, unescaped in a str (which msgspec cannot encode)
        b'\xef\xbb\xbf{"a":1}',  # a byte-order mark, which json skips
        b'{"a":1,"a":2}',  # repeated keys: the last wins
        b"[1e400]",  # past the float range: json reads it as inf, as before
        '{"u":"é 😀","f":1.5,"n":null}',
        b'{"u":"\\u00e9"}',
    ],
)
def test_loads_reads_what_json_reads(raw: bytes | str) -> None:
    assert loads(raw) == json.loads(raw)


def test_loads_reads_random_floats_as_json_does() -> None:
    rng = random.Random(7)
    texts = []
    for _ in range(2000):
        number = struct.unpack("<d", rng.randbytes(8))[0]
        if math.isfinite(number):
            texts += [repr(number), f"{number:.17e}", f"{number:.6g}"]
    raw = "[" + ",".join(texts) + "]"
    assert [repr(x) for x in loads(raw)] == [repr(x) for x in json.loads(raw)]


def test_loads_refuses_integers_json_refuses_as_too_long() -> None:
    with pytest.raises(ValueError, match="4300 digits"):
        loads(b"9" * 5000)


def test_check_json_refuses_nan_and_returns_the_bytes_dumps_writes() -> None:
    value = {"a": [1, "é", 2.5e-7]}
    assert check_json(value) == dumps(value)
    for bad in (math.nan, math.inf, {"x": -math.inf}):
        with pytest.raises(ValueError, match="not JSON compliant"):
            check_json(bad)
    with pytest.raises(TypeError):
        check_json({1, 2})


def test_a_checked_step_result_is_spliced_in_byte_for_byte() -> None:
    result = {"é": [1, 2.5e-7, 2**70], "s": "x" * 1000}
    op = Opcode(
        op="StepRun",
        id="abc",
        name="n",
        display_name="n",
        userland=Userland(id="n"),
        data=result,
        encoded=(result, check_json(result)),
    )
    plain = Opcode(
        op="StepRun", id="abc", name="n", display_name="n", userland=Userland(id="n"), data=result
    )
    assert encode_result_body([op, op]) == dumps([plain, plain])


def test_a_stale_encoding_is_not_spliced() -> None:
    old = {"old": 1}
    op = Opcode(
        op="StepRun",
        id="abc",
        name="n",
        display_name="n",
        userland=Userland(id="n"),
        data=old,
        encoded=(old, b'{"old":1}'),
    )
    assert loads(encode_result_body([op]))[0]["data"] == old
    changed = attrs.evolve(op, data={"new": 2})
    assert loads(encode_result_body([changed]))[0]["data"] == {"new": 2}


def test_dumps_matches_json_dumps_on_random_text() -> None:
    rng = random.Random(15)
    ranges = [(0, 0x7F), (0x80, 0x7FF), (0x800, 0xD7FF), (0xE000, 0xFFFF), (0x10000, 0x10FFFF)]

    def text() -> str:
        return "".join(chr(rng.randint(*rng.choice(ranges))) for _ in range(rng.randint(0, 12)))

    values = [{text(): [text(), text()]} for _ in range(2000)]
    assert dumps(values) == stdlib(values)


def test_loads_finite_refuses_numbers_past_a_double() -> None:
    assert loads(b"[1e400]") == [math.inf]
    with pytest.raises(ValueError, match="beyond the range of a JSON number"):
        loads(b'{"a":[1e400]}', finite=True)
    assert loads(b'{"a":1.5,"b":18446744073709551616}', finite=True) == {
        "a": 1.5,
        "b": 18446744073709551616,
    }


def test_loads_refuses_json_nested_too_deeply_with_a_value_error() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(ValueError, match="nested too deeply"):
        loads(deep)
