"""Which dev server the client commands talk to: `--url`, else `INNGEST_DEV` (a URL, or `1`
for the default), else `INNGEST_BASE_URL`, else `http://127.0.0.1:8288`."""

from __future__ import annotations

import os
import urllib.parse

from inngest_dsl.devserver.cli.usage import UsageError

__all__ = ["DEFAULT_URL", "server_url"]

DEFAULT_URL = "http://127.0.0.1:8288"


def _url(text: str, source: str) -> str:
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{source}: expected an http(s) URL, got {text!r}")
    return text.rstrip("/")


def server_url(flag: str | None) -> str:
    """The dev server's base URL, without a trailing slash."""
    if flag:
        return _url(flag, "--url")
    dev = os.environ.get("INNGEST_DEV", "").strip()
    if dev and dev.lower() not in ("0", "1", "true", "false"):
        return _url(dev, "INNGEST_DEV")
    base = os.environ.get("INNGEST_BASE_URL", "").strip()
    if base:
        return _url(base, "INNGEST_BASE_URL")
    return DEFAULT_URL
