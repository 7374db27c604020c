"""HTTP routes of the dev server: event API, sync, the `/v0` SDK API and the `/v1` JSON API.

Every error is a JSON body `{"error": ...}` with a meaningful status, never a traceback.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from inngest_dsl.devserver.events import EventValidationError, ids_from_seed, normalise_events
from inngest_dsl.devserver.functions import RegistrationError, validate_registration
from inngest_dsl.devserver.records import EventRecord, RunRecord, RunStatus, StepRecord
from inngest_dsl.devserver.sync import SyncError
from inngest_dsl.spec import _durations
from inngest_dsl.wire import _signing

if TYPE_CHECKING:
    from inngest_dsl.devserver.server import DevServer

__all__ = ["DEV_SERVER", "build_routes", "error_middleware"]

log = logging.getLogger("inngest_dsl.devserver")

DEV_SERVER: web.AppKey[DevServer] = web.AppKey("dev_server", object)  # type: ignore[arg-type]
MAX_LIMIT = 1000
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")),
        status=status,
        content_type="application/json",
        headers={"X-Inngest-Server-Kind": "dev"},
    )


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return _json({"error": message, "status": status, **extra}, status)


@web.middleware
async def error_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error(exc.status, exc.reason)
    except Exception as exc:
        log.exception("internal error on %s %s", request.method, request.path)
        return _error(500, f"internal error: {type(exc).__name__}")


def _instant(value: float | None) -> str | None:
    if value is None:
        return None
    return _durations.format_instant(datetime.datetime.fromtimestamp(value, datetime.timezone.utc))


def event_json(event: EventRecord) -> dict[str, Any]:
    return {
        "internal_id": event.internal_id,
        "id": event.id,
        "name": event.name,
        "received_at": _instant(event.received_at),
        "event": event.body,
    }


def run_json(run: RunRecord, steps: list[StepRecord] | None = None) -> dict[str, Any]:
    ended = run.ended_at
    started = run.started_at
    body: dict[str, Any] = {
        "run_id": run.run_id,
        "function_id": run.function_id,
        "status": run.status,
        "queued_at": _instant(run.queued_at),
        "started_at": _instant(started),
        "ended_at": _instant(ended),
        "duration_ms": round((ended - (started or run.queued_at)) * 1000, 3) if ended else None,
        "output": run.output,
        "error": run.error,
    }
    if run.correlation_id:
        body["correlation_id"] = run.correlation_id
    if run.reason:
        body["reason"] = run.reason
    if run.priority:
        body["priority"] = run.priority
    if steps is not None:
        body["event"] = run.events[0] if run.events else None
        body["events"] = run.events
        body["steps"] = [step_json(step) for step in steps]
    return body


def step_json(step: StepRecord) -> dict[str, Any]:
    memo = step.memo
    output: Any = None
    if isinstance(memo, dict) and set(memo) <= {"data", "error"} and memo:
        output = memo.get("data")
    elif step.kind == "WaitForEvent":
        output = memo
    return {
        "id": step.step_id,
        "name": step.display_name,
        "kind": step.kind,
        "status": step.status,
        "position": step.position,
        "attempts": step.attempts,
        "started_at": _instant(step.started_at),
        "ended_at": _instant(step.ended_at),
        "opts": step.opts,
        "output": output,
        "error": step.error,
    }


def _limit(request: web.Request, default: int = 100) -> int:
    text = request.query.get("limit", str(default))
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise _BadRequest(f"limit: must be an integer from 1 to {MAX_LIMIT}")
    return int(text)


class _BadRequest(Exception):
    pass


class Api:
    """Request handlers bound to one dev server."""

    def __init__(self, server: DevServer) -> None:
        self.server = server

    def _authorised(self, request: web.Request) -> bool:
        key = self.server.config.signing_key
        if not key:
            return True
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return False
        given = _signing.normalize_key(header[len("Bearer ") :].strip())
        return given in (_signing.hash_signing_key(key), _signing.normalize_key(key))

    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        try:
            return _signing.parse_json(raw)
        except ValueError:
            raise _BadRequest("the body is not valid JSON") from None

    # -- public ------------------------------------------------------------------------------

    async def index(self, request: web.Request) -> web.Response:
        store = self.server.store
        return _json(
            {
                "name": "inngest-dsl dev server",
                "events": store.count_events(),
                "runs": store.count_runs(),
                "functions": len(self.server.registry.functions),
                "apps": [app.url for app in store.list_apps()],
                "endpoints": [
                    "POST /e/{event_key}",
                    "POST /fn/register",
                    "GET /v0/runs/{run_id}/batch",
                    "GET /v0/runs/{run_id}/actions",
                    "GET /v1/events?limit=",
                    "GET /v1/events/{id}",
                    "GET /v1/runs?status=&function_id=&limit=",
                    "GET /v1/runs/{run_id}",
                    "POST /v1/runs/{run_id}/cancel",
                    "GET /v1/functions",
                    "GET /v1/apps",
                    "POST /v1/apps",
                    "GET /health",
                ],
            }
        )

    async def health(self, request: web.Request) -> web.Response:
        executor = self.server.executor
        return _json({"status": "ok", "backlog": executor.backlog, "parked": executor.gates.parked})

    async def send_events(self, request: web.Request) -> web.Response:
        expected = self.server.config.event_key
        key = request.match_info["key"]
        if expected and key != expected:
            return _json({"status": 401, "message": "", "error": "Event key not found"}, 401)
        try:
            events = normalise_events(await self._body(request))
            seed = request.headers.get("X-Inngest-Event-Id-Seed")
            seeded = ids_from_seed(seed, len(events)) if seed else None
        except (EventValidationError, _BadRequest) as exc:
            return _json({"ids": [], "status": 400, "error": str(exc)}, 400)
        ids = await self.server.runs.ingest_grouped(events, seeded)
        return _json({"ids": ids, "status": 200})

    async def register(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, "the Authorization bearer does not match the signing key")
        expected_kind = request.headers.get("X-Inngest-Expected-Server-Kind")
        if expected_kind and expected_kind != "dev":
            return _error(400, f"Expected server kind {expected_kind}, got dev")
        try:
            registration = validate_registration(await self._body(request))
        except (RegistrationError, _BadRequest) as exc:
            return _error(400, str(exc))
        modified = self.server.registry.register(registration, self.server.clock.now())
        if modified:
            log.info(
                "synced app %s (%s): %d functions",
                registration.app_name or "?",
                registration.url,
                len(registration.functions),
            )
        return _json({"ok": True, "modified": modified})

    async def run_batch(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, "the Authorization bearer does not match the signing key")
        run = self.server.store.get_run(request.match_info["run_id"])
        if run is None:
            return _error(404, "run not found")
        return web.Response(body=run.events_json, content_type="application/json")

    async def run_actions(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, "the Authorization bearer does not match the signing key")
        run_id = request.match_info["run_id"]
        if self.server.store.get_run(run_id) is None:
            return _error(404, "run not found")
        memos = self.server.store.memos(run_id)
        body = "{" + ",".join(f'"{step}":{memo}' for step, memo in sorted(memos)) + "}"
        return web.Response(body=body, content_type="application/json")

    # -- JSON API ----------------------------------------------------------------------------

    async def list_events(self, request: web.Request) -> web.Response:
        events = self.server.store.list_events(_limit(request), request.query.get("name"))
        return _json({"data": [event_json(e) for e in events]})

    async def get_event(self, request: web.Request) -> web.Response:
        event = self.server.store.get_event(request.match_info["event_id"])
        if event is None:
            return _error(404, "event not found")
        runs = self.server.store.runs_for_event(event.internal_id)
        return _json({"data": {**event_json(event), "runs": [run_json(r) for r in runs]}})

    async def list_runs(self, request: web.Request) -> web.Response:
        status = request.query.get("status")
        if status is not None:
            status = status.capitalize()
            if status not in RunStatus.ALL:
                return _error(400, f"status: must be one of {', '.join(RunStatus.ALL)}")
        runs = self.server.store.list_runs(
            status, _limit(request), request.query.get("function_id")
        )
        return _json({"data": [run_json(r) for r in runs]})

    async def get_run(self, request: web.Request) -> web.Response:
        run = self.server.store.get_run(request.match_info["run_id"])
        if run is None:
            return _error(404, "run not found")
        return _json({"data": run_json(run, self.server.store.list_steps(run.run_id))})

    async def cancel_run(self, request: web.Request) -> web.Response:
        run_id = request.match_info["run_id"]
        run = self.server.store.get_run(run_id)
        if run is None:
            return _error(404, "run not found")
        with self.server.runs.transaction():
            now = self.server.clock.now()
            self.server.runs.cancel_run(run_id, now, "cancelled through the API")
        refreshed = self.server.store.get_run(run_id)
        return _json({"data": run_json(refreshed or run)})

    async def list_functions(self, request: web.Request) -> web.Response:
        functions = self.server.store.list_functions()
        return _json(
            {
                "data": [
                    {
                        "id": f.id,
                        "name": f.name,
                        "app_url": f.app_url,
                        "url": f.url,
                        "triggers": f.config.get("triggers") or [],
                        "config": f.config,
                    }
                    for f in functions
                ]
            }
        )

    async def list_apps(self, request: web.Request) -> web.Response:
        apps = self.server.store.list_apps()
        return _json(
            {
                "data": [
                    {
                        "url": a.url,
                        "name": a.name,
                        "sdk": a.sdk,
                        "framework": a.framework,
                        "synced_at": _instant(a.synced_at),
                        "error": a.error,
                    }
                    for a in apps
                ]
            }
        )

    async def add_app(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        url = body.get("url") if isinstance(body, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return _error(400, "url: must be the app's http(s) serve URL")
        try:
            await self.server.syncer.sync(url)
        except SyncError as exc:
            return _error(502, str(exc))
        return _json({"ok": True, "url": url})


def build_routes(server: DevServer) -> list[web.RouteDef]:
    api = Api(server)

    def guarded(handler: _Handler) -> _Handler:
        async def wrapper(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except _BadRequest as exc:
                return _error(400, str(exc))

        return wrapper

    return [
        web.get("/v1", guarded(api.index)),
        web.get("/health", guarded(api.health)),
        web.post("/e/{key}", guarded(api.send_events)),
        web.post("/fn/register", guarded(api.register)),
        web.get("/v0/runs/{run_id}/batch", guarded(api.run_batch)),
        web.get("/v0/runs/{run_id}/actions", guarded(api.run_actions)),
        web.get("/v1/events", guarded(api.list_events)),
        web.get("/v1/events/{event_id}", guarded(api.get_event)),
        web.get("/v1/runs", guarded(api.list_runs)),
        web.get("/v1/runs/{run_id}", guarded(api.get_run)),
        web.post("/v1/runs/{run_id}/cancel", guarded(api.cancel_run)),
        web.get("/v1/functions", guarded(api.list_functions)),
        web.get("/v1/apps", guarded(api.list_apps)),
        web.post("/v1/apps", guarded(api.add_app)),
    ]
