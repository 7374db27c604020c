"""Signatures: cloud mode refuses unsigned, stale and tampered requests; introspection; probe."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from inngest_dsl import Context, InngestFunction, step
from inngest_dsl.wire._signing import canonical_json, hash_signing_key, sign, verify

from .conftest import (
    APP_ID,
    FALLBACK_KEY,
    KEY,
    OTHER_KEY,
    PATH,
    AiohttpClient,
    call_body,
    make_client,
    post_call,
)

VECTORS = json.loads((Path(__file__).parent.parent / "data" / "vectors.json").read_text())


class Greet(InngestFunction, id="greet", event="app/greet"):
    @step("say hello")
    def hello(self, ctx: Context) -> str:
        return "hello"


async def cloud_client(aiohttp_client: AiohttpClient, **options: Any) -> TestClient[Any, Any]:
    settings: dict[str, Any] = {
        "is_dev": False,
        "signing_key": KEY,
        "signing_key_fallback": FALLBACK_KEY,
        **options,
    }
    return await make_client(aiohttp_client, [Greet], **settings)


def assert_signed_by(reply_headers: dict[str, str], raw: bytes, key: str) -> None:
    assert verify(reply_headers["X-Inngest-Signature"], raw, [key]) == key


# -- calls ---------------------------------------------------------------------------------


async def test_signed_call_is_accepted_and_answer_signed(aiohttp_client: AiohttpClient) -> None:
    client = await cloud_client(aiohttp_client)
    payload = canonical_json(call_body())
    response = await client.post(
        PATH,
        params={"fnId": f"{APP_ID}-greet", "stepId": "step"},
        data=payload,
        headers={"X-Inngest-Signature": sign(payload, KEY)},
    )
    raw = await response.read()
    assert response.status == 206
    assert json.loads(raw)[0]["data"] == "hello"
    assert_signed_by(dict(response.headers), raw, KEY)


async def test_fallback_key_is_accepted(aiohttp_client: AiohttpClient) -> None:
    client = await cloud_client(aiohttp_client)
    reply = await post_call(client, "greet", call_body(), key=FALLBACK_KEY)
    assert reply.status == 206
    assert reply.body[0]["op"] == "StepRun"
    # The answer is signed with the key that verified the request.
    assert_signed_by(reply.headers, reply.raw, FALLBACK_KEY)
    assert verify(reply.headers["X-Inngest-Signature"], reply.raw, [KEY]) is None


@pytest.mark.parametrize(
    ("key", "age", "why"),
    [
        (None, 0, "missing X-Inngest-Signature"),
        (OTHER_KEY, 0, "invalid X-Inngest-Signature"),
        (KEY, 301, "invalid X-Inngest-Signature"),  # stale: older than five minutes
        (KEY, -301, "invalid X-Inngest-Signature"),  # from the future
    ],
    ids=["unsigned", "wrong-key", "expired", "future"],
)
async def test_bad_signatures_are_refused(
    aiohttp_client: AiohttpClient, key: str | None, age: int, why: str
) -> None:
    client = await cloud_client(aiohttp_client)
    reply = await post_call(client, "greet", call_body(), key=key, ts=int(time.time()) - age)
    assert reply.status == 401
    assert reply.body["code"] == "sig_verification_failed"
    assert why in reply.body["error"]
    assert reply.headers["X-Inngest-SDK"].startswith("inngest-dsl:v")


async def test_tampered_body_is_refused(aiohttp_client: AiohttpClient) -> None:
    client = await cloud_client(aiohttp_client)
    signed = canonical_json(call_body())
    tampered = canonical_json(call_body(attempt=1))
    response = await client.post(
        PATH,
        params={"fnId": f"{APP_ID}-greet"},
        data=tampered,
        headers={"X-Inngest-Signature": sign(signed, KEY)},
    )
    assert response.status == 401


@pytest.mark.parametrize(
    ("signed", "delivered"),
    [(b'"n":1}', b'"n":1.0}'), (b'"n":9007199254740993}', b'"n":9007199254740995}')],
)
async def test_a_number_changed_in_transit_is_refused(
    aiohttp_client: AiohttpClient, signed: bytes, delivered: bytes
) -> None:
    """The signature covers the numbers as sent: `1.0` for `1`, or a big integer's last digit
    changed, is a different body, even though both read back alike as float64."""
    client = await cloud_client(aiohttp_client)
    n = json.loads(b"{" + signed)["n"]
    payload = canonical_json(call_body(trigger={"name": "app/greet", "data": {"n": n}}))
    assert signed in payload
    for body, status in ((payload.replace(signed, delivered), 401), (payload, 206)):
        response = await client.post(
            PATH,
            params={"fnId": f"{APP_ID}-greet"},
            data=body,
            headers={"X-Inngest-Signature": sign(payload, KEY)},
        )
        assert response.status == status


async def test_signature_covers_the_canonical_body(aiohttp_client: AiohttpClient) -> None:
    """Key order and whitespace do not matter: the JCS form is what is signed."""
    client = await cloud_client(aiohttp_client)
    body = call_body()
    messy = json.dumps(body, indent=3, sort_keys=False).encode()
    response = await client.post(
        PATH,
        params={"fnId": f"{APP_ID}-greet"},
        data=messy,
        headers={"X-Inngest-Signature": sign(canonical_json(body), KEY)},
    )
    assert response.status == 206


async def test_dev_mode_checks_no_signature(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Greet], signing_key=KEY)
    reply = await post_call(client, "greet", call_body(), key=OTHER_KEY)
    assert reply.status == 206


# -- the published vectors -----------------------------------------------------------------


class _FrozenClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


async def test_vectors_verify_through_the_handler(
    aiohttp_client: AiohttpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each vector's header authenticates its (non-canonical) body at the vector's time."""
    import inngest_dsl.wire._signing as signing

    for case in VECTORS["request_signature"]["cases"]:
        monkeypatch.setattr(signing, "time", _FrozenClock(case["t"] + 10))
        client = await cloud_client(aiohttp_client, signing_key=case["signing_key"])
        if case["body"]:
            response = await client.post(
                PATH,
                params={"probe": "trust"},
                data=case["body"].encode(),
                headers={"X-Inngest-Signature": case["header"]},
            )
            assert response.status == 200
            assert await response.json() is None
        else:
            response = await client.get(PATH, headers={"X-Inngest-Signature": case["header"]})
            assert (await response.json())["authentication_succeeded"] is True
        # A minute past the window, the same header is stale.
        monkeypatch.setattr(signing, "time", _FrozenClock(case["t"] + 301))
        stale = await client.post(
            PATH,
            params={"probe": "trust"},
            data=case["body"].encode(),
            headers={"X-Inngest-Signature": case["header"]},
        )
        assert stale.status == 401


# -- trust probe ---------------------------------------------------------------------------


async def test_trust_probe(aiohttp_client: AiohttpClient) -> None:
    client = await cloud_client(aiohttp_client)
    unsigned = await client.post(PATH, params={"probe": "trust"})
    assert unsigned.status == 401
    signed = await client.post(
        PATH, params={"probe": "trust"}, headers={"X-Inngest-Signature": sign(b"", KEY)}
    )
    raw = await signed.read()
    assert (signed.status, raw) == (200, b"null")
    assert_signed_by(dict(signed.headers), raw, KEY)


# -- introspection -------------------------------------------------------------------------

SHORT_KEYS = {
    "schema_version",
    "authentication_succeeded",
    "function_count",
    "has_event_key",
    "has_signing_key",
    "has_signing_key_fallback",
    "mode",
}


async def test_introspection_dev_mode(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Greet])
    response = await client.get(PATH)
    assert response.status == 200
    assert response.headers["X-Inngest-Framework"] == "aiohttp"
    assert await response.json() == {
        "schema_version": "2024-05-24",
        "authentication_succeeded": None,
        "function_count": 1,
        "has_event_key": False,
        "has_signing_key": False,
        "has_signing_key_fallback": False,
        "mode": "dev",
    }


async def test_introspection_cloud_mode_unsigned_and_bad(aiohttp_client: AiohttpClient) -> None:
    client = await cloud_client(aiohttp_client, event_key="evkey")
    unsigned = await (await client.get(PATH)).json()
    assert set(unsigned) == SHORT_KEYS
    assert (unsigned["mode"], unsigned["authentication_succeeded"]) == ("cloud", None)
    assert (unsigned["has_signing_key"], unsigned["has_signing_key_fallback"]) == (True, True)
    assert unsigned["has_event_key"] is True
    bad = await client.get(PATH, headers={"X-Inngest-Signature": sign(b"", OTHER_KEY)})
    bad_body = await bad.json()
    assert set(bad_body) == SHORT_KEYS
    assert bad_body["authentication_succeeded"] is False


async def test_introspection_authenticated(aiohttp_client: AiohttpClient) -> None:
    client = await cloud_client(
        aiohttp_client, event_key="test", serve_origin="https://shop.example.com"
    )
    response = await client.get(PATH, headers={"X-Inngest-Signature": sign(b"", KEY)})
    raw = await response.read()
    body = json.loads(raw)
    assert body["authentication_succeeded"] is True
    assert body["app_id"] == APP_ID
    assert body["framework"] == "aiohttp"
    assert body["sdk_language"] == "py"
    assert body["capabilities"] == {"in_band_sync": "v1", "trust_probe": "v1"}
    assert body["signing_key_hash"] == hash_signing_key(KEY)
    assert body["signing_key_fallback_hash"] == hash_signing_key(FALLBACK_KEY)
    assert body["event_key_hash"] == VECTORS["event_key_hash"]["cases"][0]["hash"]
    assert body["serve_origin"] == "https://shop.example.com"
    assert body["api_origin"] == "https://api.inngest.com/"
    assert_signed_by(dict(response.headers), raw, KEY)


async def test_body_jcs_cannot_represent_is_a_400(aiohttp_client: AiohttpClient) -> None:
    client = await cloud_client(aiohttp_client)
    response = await client.post(
        PATH,
        params={"fnId": f"{APP_ID}-greet"},
        data=b'{"n": 1e400}',
        headers={"X-Inngest-Signature": sign(b'{"n": 1e400}', KEY)},
    )
    assert response.status == 400
    assert (await response.json())["code"] == "body_invalid"


@pytest.mark.parametrize("signature", ["s=é", "s=zz", "s=" + "A" * 64, ""])
async def test_malformed_signature_field_is_refused_not_a_crash(
    aiohttp_client: AiohttpClient, signature: str
) -> None:
    client = await cloud_client(aiohttp_client)
    payload = canonical_json(call_body())
    header = f"t={int(time.time())}&{signature}"
    response = await client.post(
        PATH,
        params={"fnId": f"{APP_ID}-greet"},
        data=payload,
        headers={"X-Inngest-Signature": header},
    )
    assert response.status == 401
    introspection = await client.get(PATH, headers={"X-Inngest-Signature": header})
    assert introspection.status == 200
    assert (await introspection.json())["authentication_succeeded"] is False


async def test_signed_body_with_integers_past_2_53_is_accepted(
    aiohttp_client: AiohttpClient,
) -> None:
    """The server canonicalises such numbers as float64; so must the signature check."""
    client = await cloud_client(aiohttp_client)
    body = call_body()
    body["event"]["data"] = {"big": 1152921504606847000}  # 2**60 as float64 prints it
    # What the server signs: JCS of its float64 reading; for this body, sorted compact JSON.
    server_bytes = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    reply_raw = await client.post(
        PATH,
        params={"fnId": f"{APP_ID}-greet"},
        data=server_bytes,
        headers={"X-Inngest-Signature": sign(server_bytes, KEY)},
    )
    assert reply_raw.status == 206


async def test_nan_in_a_call_body_is_a_400(aiohttp_client: AiohttpClient) -> None:
    client = await make_client(aiohttp_client, [Greet])
    response = await client.post(
        PATH,
        params={"fnId": f"{APP_ID}-greet"},
        data=b'{"event": {"name": "app/greet"}, "steps": {}, "ctx": {"attempt": NaN}}',
    )
    assert response.status == 400
    assert (await response.json())["code"] == "body_invalid"
