"""Request signatures and API bearer tokens, as pure functions.

Signatures are HMAC-SHA256 over the JCS (RFC 8785) canonical body followed by the timestamp,
keyed with the prefix-stripped signing key *as text*; bearer tokens are SHA-256 of the
prefix-stripped key *hex-decoded*. Both quirks match every Inngest server and SDK.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterable
from typing import Any

import rfc8785

__all__ = [
    "MAX_SIGNATURE_AGE",
    "bearer_token",
    "canonical_json",
    "canonicalize_body",
    "hash_event_key",
    "hash_signing_key",
    "normalize_key",
    "parse_json",
    "sign",
    "verify",
]

MAX_SIGNATURE_AGE = 300.0
"""Seconds a request signature stays valid (the 5-minute window)."""

_PREFIX = re.compile(r"^signkey-\w+-")
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_SAFE_INTEGER = 2**53


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes | str) -> Any:
    """`json.loads`, refusing the `NaN` / `Infinity` constants JSON does not have, and
    raising `ValueError` for JSON nested too deeply to parse."""
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _as_server_numbers(value: Any) -> Any:
    # The server reads JSON numbers as float64 before canonicalising, so integers past 2**53
    # reach us as what float64 printed; treating them as floats gives the same JCS text.
    if isinstance(value, dict):
        return {k: _as_server_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_server_numbers(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _SAFE_INTEGER:
        return float(value)
    return value


def normalize_key(signing_key: str) -> str:
    """Strip the `signkey-<env>-` prefix."""
    return _PREFIX.sub("", signing_key)


def canonical_json(value: Any) -> bytes:
    """Serialise a JSON value in JCS canonical form (the bytes that get signed).

    Integers beyond 2**53 are written as the server writes them: as float64 numbers.
    """
    try:
        return bytes(rfc8785.dumps(value))
    except rfc8785.IntegerDomainError:
        return bytes(rfc8785.dumps(_as_server_numbers(value)))


def canonicalize_body(body: bytes) -> bytes:
    """Canonical form of a received JSON body; empty bodies stay empty.

    Raises `ValueError` if the body is not JSON.
    """
    if not body.strip():
        return b""
    return canonical_json(parse_json(body))


def _mac(canonical_body: bytes, signing_key: str, ts: int) -> str:
    key = normalize_key(signing_key).encode()
    return hmac.new(key, canonical_body + str(ts).encode(), hashlib.sha256).hexdigest()


def sign(canonical_body: bytes, signing_key: str, ts: int | None = None) -> str:
    """The `X-Inngest-Signature` value for an already canonical body."""
    when = int(time.time()) if ts is None else ts
    return f"t={when}&s={_mac(canonical_body, signing_key, when)}"


def _parse(header: str) -> tuple[int, str] | None:
    fields: dict[str, str] = {}
    for part in header.split("&"):
        name, sep, value = part.partition("=")
        if sep:
            fields[name.strip()] = value.strip()
    try:
        ts, signature = int(fields["t"]), fields["s"]
    except (KeyError, ValueError):
        return None
    return (ts, signature) if _HEX_SIGNATURE.fullmatch(signature) else None


def verify(
    header: str | None,
    canonical_body: bytes,
    signing_keys: Iterable[str | None],
    *,
    now: float | None = None,
    max_age: float = MAX_SIGNATURE_AGE,
) -> str | None:
    """Return the first key whose signature matches (current key, then fallback), else None.

    A missing, malformed or stale (`max_age` seconds, either direction) header verifies with
    no key.
    """
    if not header:
        return None
    parsed = _parse(header)
    if parsed is None:
        return None
    ts, given = parsed
    current = time.time() if now is None else now
    if abs(current - ts) > max_age:
        return None
    for key in signing_keys:
        if key and hmac.compare_digest(_mac(canonical_body, key, ts), given):
            return key
    return None


def hash_signing_key(signing_key: str) -> str:
    """SHA-256 of the hex-decoded, prefix-stripped key (no prefix), as introspection shows it."""
    raw = normalize_key(signing_key)
    try:
        material = bytes.fromhex(raw)
    except ValueError:
        material = raw.encode()
    return hashlib.sha256(material).hexdigest()


def bearer_token(signing_key: str) -> str:
    """`Authorization` value for calls to the Inngest API: the hashed key, prefix kept."""
    prefix = _PREFIX.match(signing_key)
    return f"Bearer {prefix.group(0) if prefix else ''}{hash_signing_key(signing_key)}"


def hash_event_key(event_key: str) -> str:
    """SHA-256 of the event key text, as introspection shows it."""
    return hashlib.sha256(event_key.encode()).hexdigest()
