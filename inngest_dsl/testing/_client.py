"""A client that records the events it is asked to send, for tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import Any

from ulid import ULID

from inngest_dsl.client import Inngest, refuse_running_loop
from inngest_dsl.spec._event import Event, SendableEvents, to_events

__all__ = ["CapturingClient"]


class CapturingClient(Inngest):
    """An `Inngest` client that records sent events instead of sending them over HTTP.

    `send` and `send_sync` validate events exactly as the real client does, run its
    middleware's `before_send_events` / `after_send_events` hooks around the send as it does,
    record them in `sent` (as `Event`s, in order, as given: no `ts` is filled in) and return
    fake event ids (fresh ULIDs, like the event API's). `send_sync` refuses a running event
    loop, as the real one does. Nothing here touches the network, so it works in dev or cloud
    mode alike.
    """

    def __init__(self, app_id: str = "test-app", **settings: Any) -> None:
        settings.setdefault("is_dev", True)
        super().__init__(app_id, **settings)
        self._sent: list[Event] = []
        self._sent_ids: list[str] = []
        # Sync blocks run in worker threads; keep events and ids paired.
        self._lock = threading.Lock()

    @property
    def sent(self) -> list[Event]:
        """Every event sent so far, in order (a copy)."""
        with self._lock:
            return list(self._sent)

    @property
    def sent_ids(self) -> list[str]:
        """The ids returned for `sent`, in the same order."""
        with self._lock:
            return list(self._sent_ids)

    def sent_named(self, name: str) -> list[Event]:
        """The sent events called `name`, in order."""
        return [event for event in self.sent if event.name == name]

    def clear(self) -> None:
        """Forget the events recorded so far."""
        with self._lock:
            self._sent.clear()
            self._sent_ids.clear()

    async def _ids_for(self, batch: list[Event]) -> list[str]:
        """The ids the event API would give `batch` (here: fresh ULIDs, nothing is sent)."""
        return [str(ULID()) for _ in batch]

    async def _record(self, batch: list[Event]) -> list[str]:
        ids = await self._ids_for(batch)
        with self._lock:
            self._sent.extend(batch)
            self._sent_ids.extend(ids)
        return ids

    async def send(self, events: SendableEvents) -> list[str]:
        """Record one event or a list of events; return fake ids, in order."""
        return await self._send_hooked(to_events(events), self._record)

    def send_sync(self, events: SendableEvents) -> list[str]:
        """`send` for code that is not async; refuses a running event loop like the real one."""
        refuse_running_loop()
        return asyncio.run(self.send(events))

    async def api_request(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        """Not available: a capturing client never reaches an Inngest API."""
        raise RuntimeError(
            f"CapturingClient does not call the Inngest API ({method} {path}); "
            "use the inngest_dev_server fixture for tests that need a server"
        )

    def __repr__(self) -> str:
        return f"<CapturingClient app_id={self.app_id!r}, {len(self._sent)} events sent>"
