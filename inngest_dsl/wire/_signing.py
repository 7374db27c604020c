"""Request signatures and API bearer tokens, as pure functions.

Signatures are HMAC-SHA256 over the JCS (RFC 8785) canonical body (integers exact, see
`_canonical`) followed by the timestamp, keyed with the prefix-stripped signing key *as
text*; bearer tokens are SHA-256 of the prefix-stripped key *hex-decoded*. Both quirks match
every Inngest server and SDK.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterable
from typing import Any

from inngest_dsl.wire._canonical import canonical_bytes, layout_only_canonical
from inngest_dsl.wire._json import loads

__all__ = [
    "MAX_SIGNATURE_AGE",
    "bearer_token",
    "canonical_json",
    "canonicalize_body",
    "hash_event_key",
    "hash_signing_key",
    "normalize_key",
    "sign",
    "verify",
]

MAX_SIGNATURE_AGE = 300.0
"""Seconds a request signature stays valid (the 5-minute window)."""

_PREFIX = re.compile(r"^signkey-\w+-")
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{64}")


def normalize_key(signing_key: str) -> str:
    """Strip the `signkey-<env>-` prefix."""
    return _PREFIX.sub("", signing_key)


def canonical_json(value: Any) -> bytes:
    """Serialise a JSON value in JCS canonical form, integers exact (the bytes that get signed)."""
    return canonical_bytes(value)


def canonicalize_body(body: bytes) -> bytes:
    """Canonical form of a received JSON body; empty bodies stay empty.

    Raises `ValueError` if the body is not JSON.
    """
    if not body.strip():
        return b""
    return canonical_json(loads(body))


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
    body: bytes,
    signing_keys: Iterable[str | None],
    *,
    now: float | None = None,
    max_age: float = MAX_SIGNATURE_AGE,
) -> str | None:
    """Return the first key whose signature matches (current key, then fallback), else None.

    The signature is checked over the bytes received. Inngest signs the JCS form of a body and
    the SDKs re-canonicalise before verifying, so a sender may lay the same JSON out otherwise;
    failing the bytes, the signature is checked over the canonical form, but only when that
    changes nothing but layout (whitespace, key order, string escapes), never a number's
    spelling: what verifies is exactly what the function reads. A missing, malformed or stale
    (`max_age` seconds, either direction) header verifies with no key; so does a body that is
    not JSON and does not verify as bytes.
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
    keys = [key for key in signing_keys if key]
    for key in keys:
        if hmac.compare_digest(_mac(body, key, ts), given):
            return key
    try:
        canonical = layout_only_canonical(body)
    except (ValueError, RecursionError):  # not JSON, or nested too deeply to canonicalise
        return None
    if canonical is None or canonical == body:
        return None
    for key in keys:
        if hmac.compare_digest(_mac(canonical, key, ts), given):
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
