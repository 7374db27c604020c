"""Signatures and bearer tokens against the protocol's shared test vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from inngest_dsl.wire._signing import (
    bearer_token,
    canonical_json,
    canonicalize_body,
    hash_event_key,
    hash_signing_key,
    sign,
    verify,
)

_VECTORS_FILE = Path(__file__).parent / "data" / "vectors.json"
VECTORS: dict[str, Any] = json.loads(_VECTORS_FILE.read_text())


@pytest.mark.parametrize("case", VECTORS["request_signature"]["cases"])
def test_request_signature_vectors(case: dict[str, Any]) -> None:
    canonical = canonicalize_body(case["body"].encode())
    assert canonical == case["canonical_body"].encode()
    assert sign(canonical, case["signing_key"], case["t"]) == case["header"]


@pytest.mark.parametrize("case", VECTORS["request_signature"]["cases"])
def test_verify_accepts_vector_within_window(case: dict[str, Any]) -> None:
    canonical = canonicalize_body(case["body"].encode())
    key = verify(case["header"], canonical, [case["signing_key"]], now=case["t"] + 10)
    assert key == case["signing_key"]


@pytest.mark.parametrize("case", VECTORS["request_signature"]["cases"])
def test_verify_accepts_vector_body_as_received(case: dict[str, Any]) -> None:
    """The body as sent (`{"b":2, "a":1}`), not its canonical form: only layout differs."""
    key = verify(case["header"], case["body"].encode(), [case["signing_key"]], now=case["t"])
    assert key == case["signing_key"]


def test_verify_rejects_stale_tampered_and_malformed() -> None:
    case = VECTORS["request_signature"]["cases"][0]
    canonical = canonicalize_body(case["body"].encode())
    keys = [case["signing_key"]]
    assert verify(case["header"], canonical, keys, now=case["t"] + 301) is None
    assert verify(case["header"], canonical, keys, now=case["t"] - 301) is None
    assert verify(case["header"], b'{"a":1,"b":3}', keys, now=case["t"]) is None
    assert verify("t=abc&s=00", canonical, keys, now=case["t"]) is None
    assert verify(None, canonical, keys, now=case["t"]) is None
    assert verify(case["header"], canonical, ["signkey-test-99"], now=case["t"]) is None


def test_verify_uses_fallback_key() -> None:
    case = VECTORS["request_signature"]["cases"][0]
    canonical = canonicalize_body(case["body"].encode())
    chosen = verify(
        case["header"], canonical, ["signkey-test-deadbeef", case["signing_key"]], now=case["t"]
    )
    assert chosen == case["signing_key"]


@pytest.mark.parametrize("case", VECTORS["bearer_token"]["cases"])
def test_bearer_vectors(case: dict[str, Any]) -> None:
    assert hash_signing_key(case["signing_key"]) == case["hashed"]
    env_prefix = case["signing_key"].rsplit("-", 1)[0] + "-"
    assert bearer_token(case["signing_key"]) == f"Bearer {env_prefix}{case['hashed']}"


@pytest.mark.parametrize("case", VECTORS["event_key_hash"]["cases"])
def test_event_key_hash_vectors(case: dict[str, Any]) -> None:
    assert hash_event_key(case["event_key"]) == case["hash"]


def test_integers_past_2_53_canonicalise_digit_for_digit() -> None:
    assert canonical_json({"n": 2**60}) == b'{"n":1152921504606846976}'
    assert canonical_json([2**70, -(2**60), 2**53 + 1, 1.5, 1.0]) == (
        b"[1180591620717411303424,-1152921504606846976,9007199254740993,1.5,1]"
    )


def test_canonical_form_sorts_keys_by_utf16_and_spells_floats_as_jcs() -> None:
    value = {"\U0001f600": 1, "\uff61": 2, "b": [1e21, 0.1, -0.0], "a": "\u2028\n"}
    assert canonical_json(value) == (
        '{"a":"\u2028\\n","b":[1e+21,0.1,0],"\U0001f600":1,"\uff61":2}'.encode()
    )


KEY = "signkey-test-12345678"


@pytest.mark.parametrize(
    ("signed", "received"),
    [
        (b'{"n":1}', b'{"n":1.0}'),
        (b'{"n":1}', b'{"n": 1e0}'),
        (b'{"n":9007199254740993}', b'{"n":9007199254740992}'),
        (b'{"n":9007199254740993}', b'{"n":9007199254740993.0}'),
        (b'{"n":100}', b'{"n":1E2}'),
    ],
)
def test_a_number_spelt_or_changed_otherwise_does_not_verify(
    signed: bytes, received: bytes
) -> None:
    header = sign(signed, KEY, 1700000000)
    assert verify(header, signed, [KEY], now=1700000000) == KEY
    assert verify(header, received, [KEY], now=1700000000) is None


def test_layout_alone_may_differ_from_what_was_signed() -> None:
    signed = canonical_json({"a": [1, 2.5, 9007199254740993], "b": "\u00e9"})
    header = sign(signed, KEY, 1700000000)
    received = b'{ "b" : "\\u00e9",\n "a": [1, 2.5, 9007199254740993] }'
    assert verify(header, received, [KEY], now=1700000000) == KEY
    assert verify(header, b"not json", [KEY], now=1700000000) is None


@pytest.mark.parametrize("body", [b'{"a": NaN}', b"[Infinity]", b"-Infinity"])
def test_non_json_constants_are_refused(body: bytes) -> None:
    with pytest.raises(ValueError, match="is not JSON"):
        canonicalize_body(body)
