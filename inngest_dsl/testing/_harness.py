"""Integration tests: the embedded dev server and an app serving the functions, on loopback.

Both listen on free 127.0.0.1 ports; the store is in memory; everything is torn down on close.
The harness talks to the dev server only over its public HTTP API, as any client would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from inngest_dsl.aiohttp import DEFAULT_PATH, serve
from inngest_dsl.client import Inngest
from inngest_dsl.devserver import DevServer, DevServerConfig
from inngest_dsl.spec._event import Event
from inngest_dsl.spec._function import FunctionSpec, spec_of
from inngest_dsl.spec._middleware import Middleware
from inngest_dsl.testing._server_run import ServerRun
from inngest_dsl.wire._signing import bearer_token

__all__ = ["DevServerHarness"]

_FINAL = ("Completed", "Failed", "Cancelled", "Skipped")
_POLL = 0.02
_SHUTDOWN_GRACE = 0.5
"""Seconds the app's in-flight calls get on close before they are cancelled.

aiohttp's default (60 s, waited twice) would make a test that fails while a step body is
stuck, e.g. awaiting an `asyncio.Event` it never gets, hang for two minutes in teardown.
"""


class DevServerHarness:
    """A dev server with an app serving `functions`, synced and ready for events.

    Use `async with DevServerHarness(functions) as server:` (or the `inngest_dev_server`
    fixture). `server.client` is an `Inngest` client pointing at it: hand it to code that
    sends events. `retry_interval` (seconds) replaces the executor's backoff so retries are
    quick. `middleware` is that client's, as `Inngest(..., middleware=[...])`: it runs around
    every call of the served functions and every send of `server.client`.
    """

    def __init__(
        self,
        functions: Iterable[type | FunctionSpec],
        *,
        app_id: str = "test-app",
        retry_interval: float = 0.05,
        middleware: Sequence[Middleware] = (),
    ) -> None:
        self.specs = tuple(f if isinstance(f, FunctionSpec) else spec_of(f) for f in functions)
        if not self.specs:
            raise ValueError("give at least one function to serve")
        self.app_id = app_id
        self.retry_interval = retry_interval
        self.middleware = tuple(middleware)
        self.dev_server: DevServer | None = None
        self._client: Inngest | None = None
        self._app_runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.app_url = ""

    @property
    def url(self) -> str:
        """The dev server's base URL (what `INNGEST_DEV` would be set to)."""
        return self._server().url

    @property
    def client(self) -> Inngest:
        """An `Inngest` client in dev mode whose API and event API are this dev server."""
        if self._client is None:
            raise RuntimeError("the dev server is not started: use `async with` or start()")
        return self._client

    def _server(self) -> DevServer:
        if self.dev_server is None:
            raise RuntimeError("the dev server is not started: use `async with` or start()")
        return self.dev_server

    async def start(self) -> DevServerHarness:
        """Start the dev server, serve the functions, sync the app; returns self."""
        try:
            await self._start()
        except BaseException:
            await self.close()
            raise
        return self

    async def _start(self) -> None:
        probe = Inngest(self.app_id, is_dev=True)
        # A keyed dev server answers its API only to the key's bearer.
        bearer = {"Authorization": bearer_token(probe.signing_key)} if probe.signing_key else None
        self._session = aiohttp.ClientSession(headers=bearer)
        self.dev_server = DevServer(
            DevServerConfig(
                host="127.0.0.1",
                port=0,
                db=":memory:",
                # The app is synced once, below; no discovery or polling.
                poll_interval=3600.0,
                retry_interval=self.retry_interval,
                # Same key as the app's, so signed calls verify if one is configured.
                signing_key=probe.signing_key,
            )
        )
        await self.dev_server.start()
        self._client = Inngest(
            self.app_id,
            is_dev=True,
            api_base_url=self.dev_server.url,
            event_api_base_url=self.dev_server.url,
            middleware=self.middleware,
        )
        app = web.Application()
        serve(app, self._client, self.specs)
        self._app_runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=_SHUTDOWN_GRACE
        )
        await self._app_runner.setup()
        site = web.TCPSite(self._app_runner, "127.0.0.1", 0)
        await site.start()
        port = self._app_runner.addresses[0][1]
        self.app_url = f"http://127.0.0.1:{port}{DEFAULT_PATH}"
        async with self._session.post(
            f"{self.dev_server.url}/v1/apps", json={"url": self.app_url}
        ) as response:
            if response.status != 200:
                raise RuntimeError(
                    f"the dev server could not sync the app at {self.app_url}: "
                    f"HTTP {response.status} {await response.text()}"
                )

    async def close(self) -> None:
        """Stop the app and the dev server and close every HTTP session."""
        if self._app_runner is not None:
            runner, self._app_runner = self._app_runner, None
            await runner.cleanup()  # also closes the client's session
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()
        if self.dev_server is not None:
            server, self.dev_server = self.dev_server, None
            await server.stop()
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def __aenter__(self) -> DevServerHarness:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- using it --------------------------------------------------------------------------

    async def send(
        self,
        event: str | Event | Mapping[str, Any] | Sequence[Event | Mapping[str, Any]],
        data: Mapping[str, Any] | None = None,
    ) -> list[str]:
        """Send events to the dev server; return their ids.

        `send("shop/order.placed", {"order_id": 1})`, or an `Event`, a mapping, or a list.
        """
        if isinstance(event, str):
            return await self.client.send(Event(name=event, data=dict(data or {})))
        if data is not None:
            raise TypeError("data= goes with an event name; put it in the Event or mapping")
        return await self.client.send(event)

    async def _get(self, path: str) -> tuple[int, Any]:
        assert self._session is not None
        async with self._session.get(f"{self.url}{path}") as response:
            return response.status, await response.json()

    async def wait_for_run(
        self,
        event_id: str,
        status: str | None = "Completed",
        timeout: float = 10.0,
        *,
        function: type | FunctionSpec | str | None = None,
    ) -> ServerRun:
        """Wait until the run started by event `event_id` ends; return it.

        `status` is the final status expected (`"Completed"`, `"Failed"`, `"Cancelled"`,
        any case; `None` for any): another one raises `AssertionError` showing the run. If
        the event started runs of several functions, name one with `function=` (a class,
        its spec, or its id within the app).
        """
        expected = _expected_status(status)
        run = await self._poll(
            event_id, function, timeout, "ended", lambda run: run.status in _FINAL
        )
        if expected is not None and run.status != expected:
            raise AssertionError(
                f"the run {run.run_id} of {run.function_id} ended {run.status}, "
                f"expected {expected}\n{_describe(run)}"
            )
        return run

    async def wait_for_step(
        self,
        event_id: str,
        name: str,
        status: str = "Waiting",
        timeout: float = 10.0,
        *,
        function: type | FunctionSpec | str | None = None,
    ) -> ServerRun:
        """Wait until the run started by `event_id` has step `name` in `status`; return the run.

        Typical use: wait for a `wait_for_event` to be armed (`"Waiting"`) before sending the
        event it waits for, since events sent earlier are never matched. Other statuses:
        `"Sleeping"`, `"Completed"`, `"Failed"`.
        """

        def reached(run: ServerRun) -> bool:
            return any(s.get("name") == name and s.get("status") == status for s in run.steps)

        return await self._poll(event_id, function, timeout, f"had step {name!r} {status}", reached)

    async def runs(
        self,
        function: type | FunctionSpec | str | None = None,
        *,
        status: str | None = None,
        limit: int = 100,
    ) -> list[ServerRun]:
        """The runs of `function` (all functions if None), oldest first, each with its steps.

        `function` is a class, its spec, or its id within the app (`"charge-failure"` for
        the `@on_failure` handler of `id="charge"`). `status` keeps only runs in that status
        (`"Queued"`, `"Running"`, `"Skipped"`, ...); `limit` caps how many (newest kept).
        """
        return await self._details(await self._run_summaries(function, status, limit))

    async def wait_for_runs(
        self,
        count: int,
        function: type | FunctionSpec | str | None = None,
        *,
        status: str | None = "Completed",
        timeout: float = 10.0,
    ) -> list[ServerRun]:
        """Wait until at least `count` runs of `function` have ended; return the ended runs.

        For runs whose events you do not hold: debounced, batched, sent by the code under
        test, failure handlers. The runs come oldest first, with their steps. `status` is the
        final status each must end in (`None` for any): a run ending in another one raises
        `AssertionError` showing it. Runs still queued or running are not returned.
        """
        expected = _expected_status(status)
        deadline = time.monotonic() + timeout
        while True:
            summaries = await self._run_summaries(function, None, 1000)
            ended = [s for s in summaries if s["status"] in _FINAL]
            wrong = [s for s in ended if expected is not None and s["status"] != expected]
            if wrong:
                [run] = await self._details(wrong[:1])
                raise AssertionError(
                    f"the run {run.run_id} of {run.function_id} ended {run.status}, "
                    f"expected {expected}\n{_describe(run)}"
                )
            if len(ended) >= count:
                return await self._details(ended)
            if time.monotonic() >= deadline:
                seen = ", ".join(f"{s['run_id']} {s['status']}" for s in summaries) or "none"
                raise AssertionError(
                    f"fewer than {count} runs of {self._function_id(function) or 'any function'} "
                    f"ended within {timeout}s ({len(ended)} did); runs seen: {seen}"
                )
            await asyncio.sleep(_POLL)

    def _function_id(self, function: type | FunctionSpec | str | None) -> str | None:
        """The wire id (`<app_id>-<id>`) of a class, spec or id within the app."""
        if function is None:
            return None
        if isinstance(function, str):
            return f"{self.app_id}-{function}"
        spec = function if isinstance(function, FunctionSpec) else spec_of(function)
        return spec.composite_id(self.app_id)

    async def _run_summaries(
        self, function: type | FunctionSpec | str | None, status: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Run summaries from `/v1/runs`, oldest first."""
        query: dict[str, str] = {"limit": str(limit)}
        wanted = self._function_id(function)
        if wanted is not None:
            query["function_id"] = wanted
        if status is not None:
            query["status"] = status
        assert self._session is not None
        async with self._session.get(f"{self.url}/v1/runs", params=query) as response:
            body = await response.json()
            if response.status != 200:
                raise ValueError(f"listing runs failed: {body.get('error', body)}")
        return list(reversed(body["data"]))  # the API lists newest first

    async def _details(self, summaries: list[dict[str, Any]]) -> list[ServerRun]:
        """The full runs (with steps) of run summaries, in the same order."""
        runs = []
        for summary in summaries:
            _, detail = await self._get(f"/v1/runs/{summary['run_id']}")
            runs.append(ServerRun.from_json(detail["data"]))
        return runs

    async def _poll(
        self,
        event_id: str,
        function: type | FunctionSpec | str | None,
        timeout: float,
        what: str,
        reached: Callable[[ServerRun], bool],
    ) -> ServerRun:
        wanted = self._function_id(function)
        deadline = time.monotonic() + timeout
        while True:
            run = await self._run_of(event_id, wanted)
            if isinstance(run, ServerRun) and reached(run):
                return run
            if time.monotonic() >= deadline:
                seen = _describe(run) if isinstance(run, ServerRun) else run
                raise AssertionError(
                    f"no run started by event {event_id} {what} within {timeout}s; "
                    f"last seen:\n{seen}"
                )
            await asyncio.sleep(_POLL)

    async def _run_of(self, event_id: str, wanted: str | None) -> ServerRun | str:
        """The run the event started, or why there is none yet."""
        status, body = await self._get(f"/v1/events/{event_id}")
        if status == 404:
            return f"event {event_id} not found"
        runs = body["data"]["runs"]
        if wanted is not None:
            runs = [r for r in runs if r["function_id"] == wanted]
        if not runs:
            return f"event {event_id} has started no run" + (f" of {wanted}" if wanted else "")
        if len(runs) > 1:
            ids = ", ".join(r["function_id"] for r in runs)
            raise AssertionError(
                f"event {event_id} started runs of several functions ({ids}); "
                "pick one with function="
            )
        _, detail = await self._get(f"/v1/runs/{runs[0]['run_id']}")
        return ServerRun.from_json(detail["data"])


def _expected_status(status: str | None) -> str | None:
    expected = None if status is None else status.capitalize()
    if expected is not None and expected not in _FINAL:
        raise ValueError(f"status must be one of {', '.join(_FINAL)} or None, got {status!r}")
    return expected


def _describe(run: ServerRun) -> str:
    lines = [
        f"run {run.run_id} of {run.function_id}: {run.status}"
        + (f" ({run.reason})" if run.reason else ""),
        f"output: {run.output!r}",
        f"error: {run.error!r}",
        "steps:",
    ]
    for record in run.steps:
        lines.append(
            f"  {record.get('kind')} {record.get('name')!r}: {record.get('status')} "
            f"after {record.get('attempts')} attempt(s); output={record.get('output')!r} "
            f"error={record.get('error')!r}"
        )
    return "\n".join(lines)
