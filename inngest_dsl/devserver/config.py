"""What `inngest-dsl dev` can be told: `DevServerConfig`, and where its state lives by default."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import attrs

from inngest_dsl.spec import _cron, _durations

if TYPE_CHECKING:  # the command reads the defaults here without loading the engine
    from inngest_dsl.devserver.core.cron import NextFire

__all__ = ["DEFAULT_DB", "DEFAULT_RETAIN", "DevServerConfig", "parse_retain"]

DEFAULT_DB = ".inngest-dsl/dev.db"

DEFAULT_RETAIN = 7 * 24 * 3600.0
"""Seconds a finished run is kept by default (`--retain 7d`)."""

_FOREVER = frozenset(("0", "forever", "off", "never"))


def parse_retain(text: str) -> float | None:
    """`--retain`: a time string (`"7d"`, `"12h"`) in seconds, or None for `0` / `forever`.

    Raises `ValueError` naming what is wrong.
    """
    if text.strip().lower() in _FOREVER:
        return None
    try:
        return _durations.parse_duration(text).total_seconds()
    except ValueError as exc:
        raise ValueError(f"{exc}; or 0 / forever to keep runs forever") from None


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
    retain: float | None = DEFAULT_RETAIN
    """Seconds finished runs are kept before they are pruned; None keeps them forever."""
