"""The embedded dev server: `inngest-dsl dev`, a pure-Python Inngest executor on SQLite.

It speaks only the wire protocol, so any Inngest app (this package's or the official SDKs')
runs on it.
"""

from __future__ import annotations

from inngest_dsl.devserver.server import DEFAULT_DB, DevServer, DevServerConfig

__all__ = ["DEFAULT_DB", "DevServer", "DevServerConfig"]
