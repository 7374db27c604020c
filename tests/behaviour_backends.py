"""The two places a behaviour case runs: `TestEnvironment`, and the SQLite dev server over HTTP.

Both run the same engine on a `VirtualClock` that starts at the same instant, so a case's
expectations (statuses, outputs, steps, virtual timestamps) must hold on both alike:

* `environment`: `inngest_dsl.testing.TestEnvironment`, an in-memory store, in-process calls;
* `sqlite-http`: the real `DevServer` on a SQLite file, on 127.0.0.1, with the functions
  served by an aiohttp app through `inngest_dsl.aiohttp.serve` on another loopback port,
  synced with `POST /fn/register`, events sent to `POST /e/{key}`, runs read from `/v1/runs`,
  cancelled with `POST /v1/runs/{id}/cancel`; `VirtualTime` moves its clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from inngest_dsl import Inngest
from inngest_dsl.aiohttp import DEFAULT_PATH, serve
from inngest_dsl.devserver import DevServer, DevServerConfig
from inngest_dsl.devserver.core.clock import VirtualClock
from inngest_dsl.serve._bodies import register_body
from inngest_dsl.testing import ServerRun, TestEnvironment
from inngest_dsl.testing._time import VirtualTime

APP_ID = "table"
EVENT_KEY = "table-key"


class Backend(Protocol):
    """What a case's script needs of a place to run."""

    name: str

    async def __aenter__(self) -> Backend: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def send(self, events: Sequence[dict[str, Any]]) -> list[str]:
        """Send events in one request; runs start and resume as far as they can without time
        passing."""

    async def advance(self, duration: str) -> None:
        """Move virtual time on; everything due in between happens."""

    async def runs(self) -> list[ServerRun]:
        """Every run of every function, each with its steps."""

    async def cancel(self, run_id: str) -> None:
        """Cancel a run as a user would, and let what follows happen."""


class EnvironmentBackend:
    """`TestEnvironment`: the engine in memory, calls in-process."""

    name = "environment"

    def __init__(self, functions: Sequence[type], start: dt.datetime, tmp_path: Path) -> None:
        self.env = TestEnvironment(functions, now=start, app_id=APP_ID)

    async def __aenter__(self) -> EnvironmentBackend:
        await self.env.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.env.close()

    async def send(self, events: Sequence[dict[str, Any]]) -> list[str]:
        return await self.env.send(list(events))

    async def advance(self, duration: str) -> None:
        await self.env.advance(duration)

    async def runs(self) -> list[ServerRun]:
        return await self.env.runs()

    async def cancel(self, run_id: str) -> None:
        await self.env.cancel(run_id)


class SqliteHttpBackend:
    """The dev server on a SQLite file and an aiohttp app, both on loopback, on virtual time."""

    name = "sqlite-http"

    def __init__(self, functions: Sequence[type], start: dt.datetime, tmp_path: Path) -> None:
        self.functions = tuple(functions)
        self.clock = VirtualClock(start.timestamp())
        self.server = DevServer(
            DevServerConfig(
                host="127.0.0.1",
                port=0,
                db=str(tmp_path / "dev.db"),
                event_key=EVENT_KEY,
                poll_interval=3600.0,  # the app is registered once, below; no polling
            )
        )
        self.server.clock = self.clock
        self.time: VirtualTime | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._client: Inngest | None = None

    async def __aenter__(self) -> SqliteHttpBackend:
        try:
            await self._start()
        except BaseException:
            await self._close()
            raise
        return self

    async def _start(self) -> None:
        await self.server.start()
        self.time = VirtualTime(self.server.executor, self.clock)
        self._session = aiohttp.ClientSession()
        self._client = Inngest(
            APP_ID,
            is_dev=True,
            event_key=EVENT_KEY,
            api_base_url=self.server.url,
            event_api_base_url=self.server.url,
        )
        app = web.Application()
        served = serve(app, self._client, self.functions)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        app_url = f"http://127.0.0.1:{port}{DEFAULT_PATH}"
        body = register_body(self._client, served.specs, app_url)
        status, reply = await self._request("POST", "/fn/register", body)
        assert status == 200, f"POST /fn/register: {status} {reply}"
        await self.time.settle()

    async def __aexit__(self, *exc: object) -> None:
        await self._close()

    async def _close(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
        await self.server.stop()

    async def _request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        assert self._session is not None
        async with self._session.request(
            method, f"{self.server.url}{path}", json=body
        ) as response:
            return response.status, await response.json()

    async def _settle(self) -> None:
        assert self.time is not None
        await self.time.settle()

    async def send(self, events: Sequence[dict[str, Any]]) -> list[str]:
        status, reply = await self._request("POST", f"/e/{EVENT_KEY}", list(events))
        assert status == 200, f"POST /e/{{key}}: {status} {reply}"
        await self._settle()
        return list(reply["ids"])

    async def advance(self, duration: str) -> None:
        assert self.time is not None
        await self.time.advance(duration)

    async def runs(self) -> list[ServerRun]:
        status, reply = await self._request("GET", "/v1/runs?limit=1000")
        assert status == 200, f"GET /v1/runs: {status} {reply}"
        runs = []
        for summary in reversed(reply["data"]):
            status, detail = await self._request("GET", f"/v1/runs/{summary['run_id']}")
            assert status == 200, f"GET /v1/runs/{summary['run_id']}: {status} {detail}"
            runs.append(ServerRun.from_json(detail["data"]))
        return runs

    async def cancel(self, run_id: str) -> None:
        status, reply = await self._request("POST", f"/v1/runs/{run_id}/cancel")
        assert status == 200, f"POST /v1/runs/{run_id}/cancel: {status} {reply}"
        await self._settle()


BACKENDS: dict[str, type[EnvironmentBackend] | type[SqliteHttpBackend]] = {
    EnvironmentBackend.name: EnvironmentBackend,
    SqliteHttpBackend.name: SqliteHttpBackend,
}
