"""What the serve handler says about itself: introspection, sync bodies, the app's URL.

Pure functions of the client, the served specs, a URL and the name of the web framework
serving them (`X-Inngest-Framework`); the handler does the I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from inngest_dsl._version import __version__
from inngest_dsl.client import Inngest
from inngest_dsl.engine._failure import with_failure_specs
from inngest_dsl.spec._function import FunctionSpec
from inngest_dsl.wire._json import to_json
from inngest_dsl.wire._registration import function_config
from inngest_dsl.wire._signing import hash_event_key, hash_signing_key

__all__ = [
    "FRAMEWORK",
    "INTROSPECTION_SCHEMA",
    "app_url",
    "function_configs",
    "in_band_body",
    "introspection",
    "register_body",
]

FRAMEWORK = "aiohttp"
INTROSPECTION_SCHEMA = "2024-05-24"
CAPABILITIES = {"in_band_sync": "v1", "trust_probe": "v1"}


def app_url(request_url: str, serve_origin: str | None, serve_path: str | None) -> str:
    """The app's public URL: the request's origin and path, with serve overrides applied.

    The request's query is dropped: `deployId` is not part of the app's URL, and a caller's
    `probe=`, `fnId=` or `stepId=` must never end up in the URL Inngest calls.
    """
    parts = urlsplit(request_url)
    origin = serve_origin or f"{parts.scheme}://{parts.netloc}"
    return f"{origin}{serve_path or parts.path}"


def function_configs(specs: Sequence[FunctionSpec], app_id: str, url: str) -> list[dict[str, Any]]:
    """The registration entries of every served function, nulls stripped.

    A function with an `@on_failure` handler is followed by its companion, `<id>-failure`.
    """
    return [
        to_json(function_config(spec, app_id, url)) for spec in with_failure_specs(specs, app_id)
    ]


def introspection(
    client: Inngest,
    function_count: int,
    authenticated: bool | None,
    framework: str = FRAMEWORK,
) -> dict[str, Any]:
    """The GET body (§4): the short form unless the request's signature verified."""
    body: dict[str, Any] = {
        "schema_version": INTROSPECTION_SCHEMA,
        "authentication_succeeded": authenticated,
        "function_count": function_count,
        "has_event_key": client.event_key is not None,
        "has_signing_key": client.signing_key is not None,
        "has_signing_key_fallback": client.signing_key_fallback is not None,
        "mode": "dev" if client.is_dev else "cloud",
    }
    if not authenticated:
        return body
    fallback = client.signing_key_fallback
    body.update(
        api_origin=f"{client.api_base_url}/",
        app_id=client.app_id,
        capabilities=dict(CAPABILITIES),
        env=client.env,
        event_api_origin=f"{client.event_api_base_url}/",
        event_key_hash=hash_event_key(client.event_key) if client.event_key else None,
        framework=framework,
        sdk_language="py",
        sdk_version=__version__,
        serve_origin=client.serve_origin,
        serve_path=client.serve_path,
        signing_key_hash=hash_signing_key(client.signing_key) if client.signing_key else None,
        signing_key_fallback_hash=hash_signing_key(fallback) if fallback else None,
    )
    return body


def register_body(
    client: Inngest, specs: Sequence[FunctionSpec], url: str, framework: str = FRAMEWORK
) -> dict[str, Any]:
    """The out-of-band sync request to `POST {api}/fn/register` (§5.2).

    `appVersion` is there when the client has an `app_version`.
    """
    body: dict[str, Any] = {
        "url": url,
        "v": "0.1",
        "deployType": "ping",
        "sdk": client.sdk_header,
        "appName": client.app_id,
    }
    if client.app_version is not None:
        body["appVersion"] = client.app_version
    body.update(
        framework=framework,
        capabilities=dict(CAPABILITIES),
        functions=function_configs(specs, client.app_id, url),
    )
    return body


def in_band_body(
    client: Inngest, specs: Sequence[FunctionSpec], url: str, framework: str = FRAMEWORK
) -> dict[str, Any]:
    """The answer to a signed in-band sync `PUT` (§5.3)."""
    return {
        "app_id": client.app_id,
        "appVersion": client.app_version,
        "env": client.env,
        "framework": framework,
        "functions": function_configs(specs, client.app_id, url),
        "inspection": introspection(client, len(specs), authenticated=True, framework=framework),
        "platform": None,
        "sdk_author": "inngest-dsl",
        "sdk_language": "py",
        "sdk_version": __version__,
        "url": url,
    }
