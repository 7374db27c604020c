"""The client's settings: each from a constructor argument, else its `INNGEST_*` variable,
else the mode's default.

URL precedence, highest first: the constructor argument, the specific
`INNGEST_API_BASE_URL` / `INNGEST_EVENT_API_BASE_URL`, `INNGEST_BASE_URL`, a URL given as
`INNGEST_DEV` (dev mode only), then the default (`http://127.0.0.1:8288` in dev mode;
`https://api.inngest.com` and `https://inn.gs` in cloud mode).
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import attrs

from inngest_dsl.errors import ConfigError

__all__ = ["CLOUD_API_URL", "CLOUD_EVENT_API_URL", "DEV_SERVER_URL", "Settings", "resolve"]

DEV_SERVER_URL = "http://127.0.0.1:8288"
CLOUD_API_URL = "https://api.inngest.com"
CLOUD_EVENT_API_URL = "https://inn.gs"

_BRANCH_ENV_VARS = (
    "INNGEST_ENV",
    "RAILWAY_GIT_BRANCH",
    "RENDER_GIT_BRANCH",
    "VERCEL_GIT_COMMIT_REF",
)
_FALSY = frozenset({"", "0", "false"})


def _env(name: str) -> str | None:
    """The variable's value, or None when unset or blank."""
    value = os.environ.get(name, "").strip()
    return value or None


def _is_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _base_url(setting: str, value: str) -> str:
    if not _is_url(value):
        raise ConfigError(
            f"{setting} must be an http(s) URL such as {DEV_SERVER_URL}, got {value!r}"
        )
    return value.rstrip("/")


def _serve_origin(value: str) -> str:
    # An origin given without a scheme is a public host name: assume https.
    origin = value if "://" in value else f"https://{value}"
    if not _is_url(origin):
        raise ConfigError(
            f"serve_origin must be an origin such as https://example.com, got {value!r}"
        )
    return origin.rstrip("/")


def _serve_path(value: str) -> str:
    return value if value.startswith("/") else f"/{value}"


def _first(*candidates: str | None) -> str | None:
    return next((c for c in candidates if c), None)


@attrs.frozen
class Settings:
    """Everything the client resolved from its arguments and the environment."""

    app_id: str
    is_dev: bool
    event_key: str | None
    signing_key: str | None
    signing_key_fallback: str | None
    env: str | None
    api_base_url: str
    event_api_base_url: str
    serve_origin: str | None
    serve_path: str | None
    app_version: str | None = None


def _app_version(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"app_version must be a string, got {type(value).__name__}")
    return value.strip() or None


def resolve(
    app_id: str,
    *,
    event_key: str | None,
    signing_key: str | None,
    signing_key_fallback: str | None,
    env: str | None,
    is_dev: bool | None,
    api_base_url: str | None,
    event_api_base_url: str | None,
    serve_origin: str | None,
    serve_path: str | None,
    app_version: str | None = None,
) -> Settings:
    """The settings of a client for `app_id`; `ConfigError` for one that cannot work."""
    if not isinstance(app_id, str) or not app_id.strip():
        raise ConfigError(f"app_id must be a non-empty string, got {app_id!r}")
    dev_var = _env("INNGEST_DEV")
    dev = is_dev if is_dev is not None else (dev_var or "").lower() not in _FALSY
    dev_url = dev_var if dev and dev_var and _is_url(dev_var) else None
    default_api, default_events = (
        (DEV_SERVER_URL, DEV_SERVER_URL) if dev else (CLOUD_API_URL, CLOUD_EVENT_API_URL)
    )
    shared = _env("INNGEST_BASE_URL")
    api = _first(api_base_url, _env("INNGEST_API_BASE_URL"), shared, dev_url) or default_api
    events = (
        _first(event_api_base_url, _env("INNGEST_EVENT_API_BASE_URL"), shared, dev_url)
        or default_events
    )
    origin = _first(serve_origin, _env("INNGEST_SERVE_ORIGIN"))
    path = _first(serve_path, _env("INNGEST_SERVE_PATH"))
    return Settings(
        app_id=app_id,
        is_dev=dev,
        event_key=_first(event_key, _env("INNGEST_EVENT_KEY")),
        signing_key=_first(signing_key, _env("INNGEST_SIGNING_KEY")),
        signing_key_fallback=_first(signing_key_fallback, _env("INNGEST_SIGNING_KEY_FALLBACK")),
        env=_first(env, *(_env(name) for name in _BRANCH_ENV_VARS)),
        api_base_url=_base_url("api_base_url", api),
        event_api_base_url=_base_url("event_api_base_url", events),
        serve_origin=_serve_origin(origin) if origin else None,
        serve_path=_serve_path(path) if path else None,
        app_version=_app_version(app_version),
    )
