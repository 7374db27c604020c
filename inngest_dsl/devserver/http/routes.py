"""Every route of the HTTP API, in one table."""

from __future__ import annotations

from aiohttp import web

from inngest_dsl.devserver.http import (
    actions_api,
    apps_api,
    event_api,
    gql_api,
    json_api,
    sdk_api,
)

__all__ = ["api_routes"]


def api_routes() -> list[web.RouteDef]:
    """The event API, the SDK API (`/fn/register`, `/v0`, GraphQL at `/v0/gql`), the `/v1`
    JSON API and `/health`."""
    return [
        web.get("/v1", json_api.index),
        web.get("/health", json_api.health),
        web.post("/e/{key}", event_api.send_events),
        web.post("/fn/register", sdk_api.register),
        web.get("/v0/runs/{run_id}/batch", sdk_api.run_batch),
        web.get("/v0/runs/{run_id}/actions", sdk_api.run_actions),
        web.post("/v0/gql", gql_api.graphql),
        web.get("/v0/gql", gql_api.graphql_get),
        web.get("/v1/events", json_api.list_events),
        web.get("/v1/events/{event_id}", json_api.get_event),
        web.get("/v1/events/{event_id}/runs", json_api.get_event_runs),
        web.get("/v1/runs", json_api.list_runs),
        web.get("/v1/runs/{run_id}", json_api.get_run),
        web.post("/v1/runs/{run_id}/cancel", actions_api.cancel_run),
        web.post("/v1/runs/{run_id}/rerun", actions_api.rerun),
        web.post("/v1/cancellations", actions_api.create_cancellation),
        web.get("/v1/functions", json_api.list_functions),
        web.post("/v1/functions/{function_id}/invoke", actions_api.invoke_function),
        web.get("/v1/apps", apps_api.list_apps),
        web.post("/v1/apps", apps_api.add_app),
        web.post("/v1/apps/resync", apps_api.resync_apps),
        web.delete("/v1/apps", apps_api.remove_app),
    ]
