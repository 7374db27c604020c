"""The embedded dev server: `inngest-dsl dev`, a pure-Python Inngest executor on SQLite.

It speaks only the wire protocol, so any Inngest app (this package's or the official SDKs')
runs on it. Its names load on first use, so the `inngest-dsl` command starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inngest_dsl.devserver.config import DEFAULT_DB, DevServerConfig
    from inngest_dsl.devserver.server import DevServer

__all__ = ["DEFAULT_DB", "DevServer", "DevServerConfig"]


def __getattr__(name: str) -> Any:
    if name in ("DEFAULT_DB", "DevServerConfig"):
        from inngest_dsl.devserver import config

        return getattr(config, name)
    if name == "DevServer":
        from inngest_dsl.devserver.server import DevServer

        return DevServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
