"""What `inngest-dsl dev` can be told: `DevServerConfig`, and where its state lives by default."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import attrs

from inngest_dsl.spec import _cron

if TYPE_CHECKING:  # the command reads the defaults here without loading the engine
    from inngest_dsl.devserver.core.cron import NextFire

__all__ = ["DEFAULT_DB", "DevServerConfig"]

DEFAULT_DB = ".inngest-dsl/dev.db"


@attrs.frozen
class DevServerConfig:
    """Everything `inngest-dsl dev` can be told. `port=0` picks a free port."""

    host: str = "127.0.0.1"
    port: int = 8288
    db: str = DEFAULT_DB
    app_urls: Sequence[str] = ()
    signing_key: str | None = None
    event_key: str | None = None
    retry_interval: float | None = None
    poll_interval: float = 5.0
    concurrency: int = 64
    call_timeout: float = 300.0
    next_fire: NextFire = _cron.next_fire
    cron_random: Callable[[], float] = random.random
