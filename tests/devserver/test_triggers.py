"""Several triggers per function and cron jitter on the dev server, over HTTP, on virtual time."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from .clocked import START, virtual_dev_server
from .conftest import APP_ID, done_response, function_config, raw_app, register, send, try_register


def _at(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def test_each_trigger_starts_runs_and_an_event_starts_one(tmp_path: Path) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return done_response(body["event"]["name"])

    async with virtual_dev_server(tmp_path / "db") as clocked, raw_app(handler) as app:
        config = function_config(app, "multi")
        config["triggers"] = [
            {"event": "shop/a", "expression": "event.data.n > 1"},
            {"event": "shop/*"},
            {"event": "shop/b"},
        ]
        await register(clocked.server, app, config)
        await send(clocked.server, [{"name": "shop/a", "data": {"n": 5}}, {"name": "shop/b"}])
        await send(clocked.server, {"name": "other/c"})
        await clocked.settle()
        await clocked.run_until(lambda: clocked.count("Completed") == 2)
        runs = clocked.store.list_runs(function_id=f"{APP_ID}-multi")
    assert sorted(run.output for run in runs) == ["shop/a", "shop/b"]


async def test_cron_jitter_delays_each_run_by_the_injected_fraction(tmp_path: Path) -> None:
    fractions = iter([0.5, 0.25, 0.0, 0.99])

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return done_response(body["event"]["data"])

    async with (
        virtual_dev_server(tmp_path / "db", cron_random=lambda: next(fractions)) as clocked,
        raw_app(handler) as app,
    ):
        config = function_config(app, "tick")
        config["triggers"] = [{"cron": "0 * * * *", "jitter": "2m"}, {"event": "shop/tick"}]
        await register(clocked.server, app, config)
        await clocked.advance_to(START + 3 * 3600)
        await clocked.settle()
        runs = clocked.store.list_runs(function_id=f"{APP_ID}-tick")
    fired = sorted((r.output["scheduledAt"], r.output["fireAt"]) for r in runs)
    assert len(fired) == 3
    delays = [_at(fire) - _at(scheduled) for scheduled, fire in fired]
    assert delays == [60.0, 30.0, 0.0]
    assert all(_at(s) % 3600 == 0 for s, _ in fired)


async def test_registration_refuses_a_jitter_out_of_range(tmp_path: Path) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return done_response(None)

    async with virtual_dev_server(tmp_path / "db") as clocked, raw_app(handler) as app:
        config = function_config(app, "tick", cron="0 * * * *")
        config["triggers"][0]["jitter"] = "10m"
        status, reply = await try_register(clocked, app, config)
    assert status == 400
    assert "jitter" in str(reply)
    assert "between 1s and 5m" in str(reply)


async def test_registration_refuses_one_schedule_twice(tmp_path: Path) -> None:
    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        return done_response(None)

    async with virtual_dev_server(tmp_path / "db") as clocked, raw_app(handler) as app:
        config = function_config(app, "tick")
        config["triggers"] = [{"cron": "0 * * * *"}, {"cron": "0 * * * *", "jitter": "1m"}]
        status, reply = await try_register(clocked, app, config)
    assert status == 400
    assert "duplicate trigger" in str(reply)
