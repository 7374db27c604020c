"""The typed keys under which the dev server's parts live on its aiohttp application.

`CONFIG` and `CLOCK` are set when the application is built; the others by the cleanup
context that starts and stops each part (see `inngest_dsl.devserver.app`). Handlers read what
they need from `request.app[...]`.
"""

from __future__ import annotations

import aiohttp
from aiohttp import web

from inngest_dsl.devserver.config import DevServerConfig
from inngest_dsl.devserver.core.clock import Clock
from inngest_dsl.devserver.core.engine import Engine
from inngest_dsl.devserver.http.sync import AppSyncer
from inngest_dsl.devserver.store import Store

__all__ = ["CLOCK", "CONFIG", "ENGINE", "SESSION", "STORE", "SYNCER"]

CONFIG = web.AppKey("config", DevServerConfig)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")  # a protocol: no class to check against
STORE = web.AppKey("store", Store)
SESSION = web.AppKey("session", aiohttp.ClientSession)
ENGINE = web.AppKey("engine", Engine)
SYNCER = web.AppKey("syncer", AppSyncer)
