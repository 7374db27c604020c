"""A minimal protocol app for `inngest-dsl dev --app tests.devserver.cli_app:app`."""

from __future__ import annotations

import os

import aiohttp
from aiohttp import web

SDK = {"X-Inngest-SDK": "cli-test:v1.0.0"}


async def _sync(request: web.Request) -> web.Response:
    url = f"http://127.0.0.1:{request.url.port}/api/inngest"
    config = {
        "id": "cli-hello",
        "name": "Hello",
        "triggers": [{"event": "cli/hello"}],
        "steps": {"step": {"id": "step", "name": "step", "runtime": {"type": "http", "url": url}}},
    }
    body = {"url": url, "appName": "cli", "functions": [config]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{os.environ['INNGEST_DEV']}/fn/register", json=body) as reply,
    ):
        return web.json_response(await reply.json(), status=reply.status, headers=SDK)


async def _call(request: web.Request) -> web.Response:
    body = await request.json()
    return web.json_response({"hello": body["event"]["data"]["name"]}, headers=SDK)


app = web.Application()
app.router.add_put("/api/inngest", _sync)
app.router.add_post("/api/inngest", _call)
