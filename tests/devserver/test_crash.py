"""Durability: SIGKILL the dev server mid-run, restart it on the same db, lose nothing."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from .conftest import APP_ID, done_response, function_config, op, ops_response, raw_app
from .dev_process import dev_process, poll, request_json

pytestmark = [pytest.mark.slow, pytest.mark.realtime]


async def test_sigkill_during_sleep_wait_and_after_accepting_events(tmp_path: Path) -> None:
    db = tmp_path / "dev.db"
    executions: Counter[tuple[str, str]] = Counter()
    generation = {"now": 1}
    reopened = asyncio.Event()

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        called_in = generation["now"]
        run_id = body["ctx"]["run_id"]
        steps = body["steps"]
        kind = body["event"]["data"]["kind"]
        if kind == "burst" and called_in == 1:
            # Calls the first server makes for the burst never execute anything: their server
            # is killed while they wait, so every burst step runs after the restart.
            await reopened.wait()
            return web.Response(status=503)
        for name in ("a", "pause", "b"):
            if name in steps:
                continue
            if name == "pause" and kind == "sleep":
                return ops_response(op("Sleep", "pause", opts={"duration": "1500ms"}))
            if name == "pause" and kind in ("wait", "expire"):
                timeout = "60s" if kind == "wait" else "1500ms"
                opts = {"event": "crash/resume", "timeout": timeout}
                return ops_response(op("WaitForEvent", "pause", name="crash/resume", opts=opts))
            if name == "pause":
                continue
            executions[(run_id, name)] += 1
            return ops_response(op("StepRun", name, data=f"{name}-{run_id}"))
        return done_response({"kind": kind, "pause": steps.get("pause")})

    async with raw_app(handler) as app:
        register_body = {
            "url": app.url,
            "appName": APP_ID,
            "functions": [function_config(app, "crash", event="crash/start")],
        }
        async with dev_process(db) as (process, url):
            await request_json("POST", f"{url}/fn/register", register_body)
            await request_json(
                "POST",
                f"{url}/e/key",
                [{"name": "crash/start", "data": {"kind": k}} for k in ("sleep", "wait", "expire")],
            )

            async def all_paused() -> bool:
                runs = (await request_json("GET", f"{url}/v1/runs"))["data"]
                if len(runs) != 3:
                    return False
                details = [await request_json("GET", f"{url}/v1/runs/{r['run_id']}") for r in runs]
                statuses = {s["status"] for d in details for s in d["data"]["steps"]}
                return statuses == {"Completed", "Sleeping", "Waiting"} and all(
                    len(d["data"]["steps"]) == 2 for d in details
                )

            await poll(all_paused)
            burst = await request_json(
                "POST",
                f"{url}/e/key",
                [{"name": "crash/start", "data": {"kind": "burst", "n": i}} for i in range(20)],
            )
            assert len(burst["ids"]) == 20
            process.send_signal(signal.SIGKILL)
            await process.wait()
        generation["now"] = 2
        reopened.set()
        await asyncio.sleep(1.6)  # the expiring wait's deadline passes while the server is down

        async with dev_process(db) as (_, url):
            await request_json("POST", f"{url}/e/key", {"name": "crash/resume", "data": {"ok": 1}})

            async def all_done() -> list[dict[str, Any]] | None:
                runs = (await request_json("GET", f"{url}/v1/runs?limit=100"))["data"]
                finished = [r for r in runs if r["status"] == "Completed"]
                return runs if len(runs) == 23 and len(finished) == 23 else None

            runs = await poll(all_done, timeout=30)

    outputs = Counter(r["output"]["kind"] for r in runs)
    assert outputs == {"sleep": 1, "wait": 1, "expire": 1, "burst": 20}
    by_kind = {r["output"]["kind"]: r["output"] for r in runs}
    assert by_kind["sleep"]["pause"] is None
    assert by_kind["expire"]["pause"] is None
    assert by_kind["wait"]["pause"]["data"] == {"ok": 1}
    run_ids = {r["run_id"] for r in runs}
    assert set(executions) == {(run_id, step) for run_id in run_ids for step in ("a", "b")}
    assert set(executions.values()) == {1}, executions
