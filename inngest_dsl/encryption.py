"""End-to-end encryption of step results and event data, as Inngest's official SDKs do it.

```python
from inngest_dsl import Inngest
from inngest_dsl.encryption import EncryptionMiddleware

client = Inngest(app_id="shop", middleware=[EncryptionMiddleware("a long secret")])
```

Compatible with the `inngest-encryption` package (the official Python SDK's middleware) and
the JS SDK's libsodium strategy: the same envelope (`{"__ENCRYPTED__": true, "__STRATEGY__":
"inngest/libsodium", "data": "<base64>"}`), the same cipher (XSalsa20-Poly1305, libsodium's
`secretbox`, through PyNaCl) and the same key: a string key is hashed with BLAKE2b to 32 bytes,
a `bytes` key is 32 bytes written in hex. What either side encrypts, the other decrypts.

Encrypted: every step's result and the function's return value; in events sent (by the
client, or by a function's send steps) and in an invoked function's data, the field named
`event_encryption_field` (`"encrypted"`), so put what is secret under it:
`{"name": "user/signup", "data": {"encrypted": {"email": ...}, "plan": "pro"}}`. Other fields
stay in the clear: expressions (`match=`, `if_=`, triggers) read them. Decrypted, before a
call: step results, and the event data's encrypted field (or the whole data, encrypted by
another SDK). Needs PyNaCl: `pip install 'inngest-dsl[encryption]'`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from inngest_dsl._public import present
from inngest_dsl.errors import ConfigError, NonRetriableError
from inngest_dsl.spec._event import Event
from inngest_dsl.spec._middleware import CallInput, CallOutput, Middleware

__all__ = ["EncryptionMiddleware"]

ENCRYPTED: Final = "__ENCRYPTED__"
STRATEGY: Final = "__STRATEGY__"
LIBSODIUM: Final = "inngest/libsodium"
DEFAULT_FIELD: Final = "encrypted"


def _box(key: bytes | str) -> Any:
    try:
        import nacl.encoding
        import nacl.hash
        import nacl.secret
    except ImportError:  # pragma: no cover - depends on the installation
        raise ConfigError(
            "EncryptionMiddleware needs PyNaCl: pip install 'inngest-dsl[encryption]'"
        ) from None
    if isinstance(key, str):
        if not key:
            raise ConfigError("the encryption key must not be empty")
        key = nacl.hash.generichash(
            key.encode("utf-8"), digest_size=nacl.secret.SecretBox.KEY_SIZE
        )  # hex, as the official middleware derives it
    try:
        return nacl.secret.SecretBox(key, encoder=nacl.encoding.HexEncoder)
    except Exception as exc:
        raise ConfigError(
            f"a bytes encryption key must be 32 bytes written in hex (64 characters): {exc}"
        ) from None


def is_encrypted(value: object) -> bool:
    """Whether `value` is an envelope of this strategy."""
    return (
        isinstance(value, Mapping)
        and value.get(ENCRYPTED) is True
        and value.get(STRATEGY) == LIBSODIUM
    )


class EncryptionMiddleware(Middleware):
    """Encrypts step results, return values and event data fields; decrypts them on the way in.

    `key` is the secret (a string, or 32 bytes in hex); `fallback_keys` decrypt what older
    keys encrypted, while rotating; `decrypt_only=True` decrypts without encrypting (for
    turning encryption off); `event_encryption_field` names the field of event data that is
    encrypted.
    """

    def __init__(
        self,
        key: bytes | str,
        *,
        fallback_keys: Sequence[bytes | str] = (),
        decrypt_only: bool = False,
        event_encryption_field: str = DEFAULT_FIELD,
    ) -> None:
        self._box = _box(key)
        self._boxes = [self._box, *(_box(k) for k in fallback_keys)]
        self.decrypt_only = decrypt_only
        self.event_encryption_field = event_encryption_field

    # -- the envelope --------------------------------------------------------------------

    def encrypt(self, value: Any) -> dict[str, Any]:
        """`value` (JSON) sealed in an envelope; an envelope is left as it is."""
        if is_encrypted(value):
            return dict(value)
        import nacl.encoding

        sealed = self._box.encrypt(
            json.dumps(value).encode(), encoder=nacl.encoding.Base64Encoder
        )
        return {ENCRYPTED: True, STRATEGY: LIBSODIUM, "data": sealed.decode()}

    def decrypt(self, value: Any) -> Any:
        """The JSON an envelope holds (trying each key); anything else unchanged."""
        if not is_encrypted(value) or not isinstance(value.get("data"), str):
            return value
        import nacl.encoding

        for box in self._boxes:
            try:
                opened = box.decrypt(value["data"].encode(), encoder=nacl.encoding.Base64Encoder)
            except Exception:
                continue
            return json.loads(opened.decode())
        raise NonRetriableError("cannot decrypt: no key given to EncryptionMiddleware fits")

    def _decrypt_data(self, data: Mapping[str, Any]) -> dict[str, Any]:
        if is_encrypted(data):
            # Whole data encrypted; other keys (an invoke's `_inngest`) are in the clear.
            opened = self.decrypt(data)
            if not isinstance(opened, Mapping):
                raise NonRetriableError("decrypted event data is not an object")
            clear = {k: v for k, v in data.items() if k not in (ENCRYPTED, STRATEGY, "data")}
            return {**clear, **opened}
        # The expected field first, else the first encrypted field found (another producer
        # may use another field).
        keys = sorted(data, key=lambda k: k != self.event_encryption_field)
        for key in keys:
            if is_encrypted(data[key]):
                return {**data, key: self.decrypt(data[key])}
        return dict(data)

    def _decrypt_event(self, event: Event[Any]) -> Event[Any]:
        if not isinstance(event.data, Mapping):
            return event
        return attrs.evolve(event, data=self._decrypt_data(event.data))

    # -- the hooks -----------------------------------------------------------------------

    async def transform_input(self, call: CallInput) -> None:
        """Decrypt step results and the events' encrypted data."""
        for hashed, value in call.steps.items():
            if is_encrypted(value):
                call.steps[hashed] = self.decrypt(value)
            elif isinstance(value, Mapping) and isinstance(value.get("data"), Mapping):
                # A wait's event: its encrypted field, as for the trigger's.
                call.steps[hashed] = {**value, "data": self._decrypt_data(value["data"])}
        call.event = self._decrypt_event(call.event)
        call.events = [self._decrypt_event(e) for e in call.events]

    async def transform_output(self, call: CallInput, output: CallOutput) -> None:
        """Encrypt a step's result or the return value, and an invoke's data field."""
        if self.decrypt_only:
            return
        if output.has_data:
            output.data = self.encrypt(output.data)
        step = output.step
        if step is not None and step.op == "InvokeFunction" and step.opts is not None:
            payload = step.opts.get("payload")
            data = payload.get("data") if isinstance(payload, dict) else None
            if isinstance(data, dict) and self.event_encryption_field in data:
                field = self.event_encryption_field
                payload["data"] = {**data, field: self.encrypt(data[field])}  # type: ignore[index]

    async def before_send_events(self, events: list[Event[Any]]) -> list[Event[Any]] | None:
        """Encrypt the encrypted field of each event's data."""
        if self.decrypt_only:
            return None
        field = self.event_encryption_field
        sealed: list[Event[Any]] = []
        for event in events:
            data = event.data
            if isinstance(data, Mapping) and data.get(field) is not None:
                event = attrs.evolve(event, data={**data, field: self.encrypt(data[field])})
            sealed.append(event)
        return sealed


present(__name__, globals())
