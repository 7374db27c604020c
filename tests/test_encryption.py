"""EncryptionMiddleware against the official one (`inngest-encryption`, run in-process).

What either side encrypts, the other decrypts: step results, return values, event data
fields and invoke payloads, with string keys, hex keys and fallback keys.
"""

from __future__ import annotations

import secrets
from types import SimpleNamespace
from typing import Any

import inngest
import pytest
from inngest._internal.middleware_lib.middleware import (
    TransformOutputResult,
    TransformOutputStepInfo,
)
from inngest._internal.server_lib import Opcode as PeerOpcode
from inngest_encryption import EncryptionMiddleware as PeerMiddleware

from inngest_dsl import ConfigError, Context, Event, InngestFunction, NonRetriableError, step
from inngest_dsl.encryption import EncryptionMiddleware
from inngest_dsl.middleware import CallInput, CallOutput, StepInfo
from inngest_dsl.testing import CapturingClient, TestEnvironment, run_function

KEY = "correct horse battery staple"
HEX_KEY = secrets.token_hex(32).encode()
VALUES: list[Any] = [
    {"card": "4242", "amount": 12.5, "tags": ["a", "b"], "nested": {"ok": True}},
    [1, "two", None],
    "just a string",
    42,
    None,
]


def peer(key: bytes | str = KEY, **options: Any) -> PeerMiddleware:
    client = inngest.Inngest(app_id="peer", is_production=False)
    return PeerMiddleware(client, None, key, **options)


def call_input(event: Event, steps: dict[str, Any]) -> CallInput:
    return CallInput(
        function_id="app-fn", run_id="run", attempt=0, event=event, events=[event], steps=steps
    )


def peer_ctx(data: dict[str, Any]) -> Any:
    event = SimpleNamespace(data=data)
    return SimpleNamespace(event=event, events=[SimpleNamespace(data=data)])


@pytest.mark.parametrize("key", [KEY, HEX_KEY])
@pytest.mark.parametrize("value", VALUES)
async def test_a_step_result_the_peer_encrypts_we_decrypt(key: bytes | str, value: Any) -> None:
    result = TransformOutputResult(error=None, output=value, step=None)
    peer(key).transform_output(result)
    assert result.output != value
    call = call_input(Event("a/b"), {"step-1": result.output})
    await EncryptionMiddleware(key).transform_input(call)
    assert call.steps == {"step-1": value}


@pytest.mark.parametrize("key", [KEY, HEX_KEY])
@pytest.mark.parametrize("value", VALUES)
async def test_a_step_result_we_encrypt_the_peer_decrypts(key: bytes | str, value: Any) -> None:
    output = CallOutput(data=value, step=StepInfo(id="s", op="StepRun", opts=None))
    await EncryptionMiddleware(key).transform_output(call_input(Event("a/b"), {}), output)
    assert output.data["__STRATEGY__"] == "inngest/libsodium"
    steps = {"step-1": SimpleNamespace(data=output.data)}
    peer(key).transform_input(peer_ctx({}), None, steps)
    assert steps["step-1"].data == value


async def test_event_data_the_peer_sends_we_decrypt_and_the_other_way_round() -> None:
    secret = {"email": "ada@example.com"}
    theirs = inngest.Event(name="user/signup", data={"encrypted": secret, "plan": "pro"})
    peer().before_send_events([theirs])
    assert theirs.data["encrypted"] != secret
    assert theirs.data["plan"] == "pro"  # only the field is encrypted
    call = call_input(Event.from_wire({"name": "user/signup", "data": theirs.data}), {})
    await EncryptionMiddleware(KEY).transform_input(call)
    assert call.event.data == {"encrypted": secret, "plan": "pro"}
    assert call.events[0].data == {"encrypted": secret, "plan": "pro"}

    [ours] = await EncryptionMiddleware(KEY).before_send_events(
        [Event("user/signup", {"encrypted": secret, "plan": "pro"})]
    ) or []
    assert ours.data["encrypted"] != secret
    ctx = peer_ctx(dict(ours.data))
    peer().transform_input(ctx, None, {})
    assert ctx.event.data == {"encrypted": secret, "plan": "pro"}


async def test_invoke_payloads_are_encrypted_as_the_peer_does() -> None:
    data = {"encrypted": {"card": "4242"}, "order": 7}
    opts: dict[str, Any] = {"function_id": "app-charge", "payload": {"data": dict(data)}}
    output = CallOutput(data=None, step=StepInfo("charge", "InvokeFunction", opts), has_data=False)
    await EncryptionMiddleware(KEY).transform_output(call_input(Event("a/b"), {}), output)
    ours = opts["payload"]["data"]
    assert ours["order"] == 7

    peer_opts: dict[str, Any] = {"payload": {"data": dict(data)}}
    result = TransformOutputResult(
        error=None,
        output=inngest._internal.types.empty_sentinel,
        step=TransformOutputStepInfo(id="charge", op=PeerOpcode.INVOKE, opts=peer_opts),
    )
    peer().transform_output(result)
    theirs = peer_opts["payload"]["data"]
    # Same shape on both sides; each decrypts the other's.
    assert ours.keys() == theirs.keys()
    ctx = peer_ctx(dict(ours))
    peer().transform_input(ctx, None, {})
    assert ctx.event.data == data
    call = call_input(Event.from_wire({"name": "inngest/function.invoked", "data": theirs}), {})
    await EncryptionMiddleware(KEY).transform_input(call)
    assert call.event.data == data


async def test_whole_data_encrypted_by_another_sdk_is_decrypted_keeping_clear_keys() -> None:
    envelope = peer()._encrypt({"email": "x@y.z"})
    wire = {"name": "a/b", "data": {**envelope, "_inngest": {"source": "invoke"}}}
    call = call_input(Event.from_wire(wire), {})
    await EncryptionMiddleware(KEY).transform_input(call)
    assert call.event.data == {"email": "x@y.z", "_inngest": {"source": "invoke"}}


async def test_fallback_keys_decrypt_what_old_keys_encrypted() -> None:
    old = peer("the old key")._encrypt({"n": 1})
    rotated = EncryptionMiddleware("the new key", fallback_keys=["the old key"])
    assert rotated.decrypt(old) == {"n": 1}
    their_rotated = peer("the new key", fallback_decryption_keys=["the old key"])
    assert their_rotated._decrypt(EncryptionMiddleware("the old key").encrypt({"n": 2})) == {
        "n": 2
    }
    with pytest.raises(NonRetriableError, match="no key"):
        EncryptionMiddleware("another key").decrypt(old)


async def test_decrypt_only_does_not_encrypt() -> None:
    middleware = EncryptionMiddleware(KEY, decrypt_only=True)
    output = CallOutput(data={"n": 1}, step=StepInfo("s", "StepRun", None))
    await middleware.transform_output(call_input(Event("a/b"), {}), output)
    assert output.data == {"n": 1}
    assert middleware.decrypt(peer()._encrypt({"n": 1})) == {"n": 1}


def test_a_bad_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="32 bytes written in hex"):
        EncryptionMiddleware(b"too short")
    with pytest.raises(ConfigError, match="empty"):
        EncryptionMiddleware("")


class Secretive(
    InngestFunction, id="secretive", event="user/signup", middleware=[EncryptionMiddleware(KEY)]
):
    @step("remember")
    def remember(self, ctx: Context) -> dict[str, Any]:
        return {"email": ctx.event.data["encrypted"]["email"], "plan": ctx.event.data["plan"]}

    @step("greet")
    def greet(self, ctx: Context) -> str:
        return f"hello {ctx.data['email']}"


async def test_a_run_keeps_only_ciphertext_on_the_server_and_the_peer_can_read_it() -> None:
    event = inngest.Event(
        name="user/signup", data={"encrypted": {"email": "ada@example.com"}, "plan": "pro"}
    )
    peer().before_send_events([event])
    async with TestEnvironment([Secretive], now="2026-01-01T00:00:00Z") as env:
        await env.send({"name": event.name, "data": event.data})
        [run] = await env.runs(Secretive)
        assert run.status == "Completed", run.raw
        stored = [run.step("remember")["output"], run.step("greet")["output"], run.output]
        assert all(value["__ENCRYPTED__"] is True for value in stored)
        assert "ada@example.com" not in str(run.raw)
        opened = [peer()._decrypt(value) for value in stored]
        assert opened == [
            {"email": "ada@example.com", "plan": "pro"},
            "hello ada@example.com",
            {"email": "ada@example.com", "plan": "pro", "greet": "hello ada@example.com"},
        ]


class Tokenise(InngestFunction, id="tokenise", event="vault/token.requested"):
    @step("token")
    def token(self, ctx: Context) -> dict[str, str]:
        return {"token": ctx.event.data["encrypted"]["card"][-4:]}


async def test_a_test_reads_what_the_server_holds_and_decrypts_it() -> None:
    encryption = EncryptionMiddleware(KEY)
    client = CapturingClient(middleware=[encryption])
    await client.send(Event("vault/token.requested", {"encrypted": {"card": "4242424242424242"}}))
    [sent] = client.sent
    assert sent.data["encrypted"]["__ENCRYPTED__"] is True  # the client's send hook ran

    result = await run_function(Tokenise, sent, client=client)

    assert result.output["__ENCRYPTED__"] is True  # the server only ever holds ciphertext
    assert encryption.decrypt(result.output) == {"token": "4242"}
    assert encryption.decrypt(result.step(Tokenise.token).data) == {"token": "4242"}
