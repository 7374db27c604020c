"""Flow control state lives in the store: a SIGKILLed dev server resumes all of it."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from .conftest import APP_ID, done_response, function_config, raw_app
from .dev_process import dev_process, poll, request_json

pytestmark = [pytest.mark.slow, pytest.mark.realtime]


async def test_pending_batch_debounce_and_queued_runs_survive_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "dev.db"
    generation = {"now": 1}
    reopened = asyncio.Event()
    in_flight: Counter[str] = Counter()
    most: Counter[str] = Counter()
    throttle_starts: list[tuple[int, float]] = []

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        event = body["event"]
        kind = event["data"]["kind"]
        if kind == "limited" and generation["now"] == 1:
            # Holds the only slot until the server is killed; never answered.
            await reopened.wait()
            return web.Response(status=503)
        if kind == "throttled":
            throttle_starts.append((generation["now"], time.time()))
        in_flight[kind] += 1
        most[kind] = max(most[kind], in_flight[kind])
        await asyncio.sleep(0.05)
        in_flight[kind] -= 1
        return done_response({"kind": kind, "n": [e["data"]["n"] for e in body["events"]]})

    async with raw_app(handler) as app:
        register_body = {
            "url": app.url,
            "appName": APP_ID,
            "functions": [
                function_config(
                    app, "batch", event="f/batch", batchEvents={"maxSize": 10, "timeout": "2500ms"}
                ),
                function_config(app, "debounce", event="f/debounce", debounce={"period": "2500ms"}),
                function_config(app, "limited", event="f/limited", concurrency=[{"limit": 1}]),
                function_config(
                    app, "throttled", event="f/throttled", throttle={"limit": 1, "period": "2s"}
                ),
            ],
        }
        async with dev_process(db) as (process, url):
            await request_json("POST", f"{url}/fn/register", register_body)
            events = [
                *(
                    {"name": f"f/{kind}", "data": {"kind": kind, "n": n}}
                    for n in range(3)
                    for kind in ("batch", "debounce", "limited", "throttled")
                ),
            ]
            await request_json("POST", f"{url}/e/key", events)

            async def settled() -> bool:
                runs = (await request_json("GET", f"{url}/v1/runs?limit=100"))["data"]
                done = [r for r in runs if r["status"] == "Completed"]
                # 3 limited, 3 throttled; limit 1 plus the default burst of 1 start at once
                return len(runs) == 6 and len(done) == 2

            await poll(settled, timeout=10)
            runs = (await request_json("GET", f"{url}/v1/runs?limit=100"))["data"]
            assert {r["function_id"] for r in runs} == {"raw-limited", "raw-throttled"}
            process.send_signal(signal.SIGKILL)
            await process.wait()
        generation["now"] = 2
        reopened.set()

        async with dev_process(db) as (_, url):

            async def all_done() -> list[dict[str, Any]] | None:
                runs = (await request_json("GET", f"{url}/v1/runs?limit=100"))["data"]
                done = [r for r in runs if r["status"] == "Completed"]
                return runs if len(runs) == 8 and len(done) == 8 else None

            runs = await poll(all_done, timeout=20)

    outputs = Counter((r["output"]["kind"], tuple(r["output"]["n"])) for r in runs)
    assert outputs == {
        ("batch", (0, 1, 2)): 1,
        ("debounce", (2,)): 1,
        ("limited", (0,)): 1,
        ("limited", (1,)): 1,
        ("limited", (2,)): 1,
        ("throttled", (0,)): 1,
        ("throttled", (1,)): 1,
        ("throttled", (2,)): 1,
    }
    assert most["limited"] == 1
    started = [at for _, at in sorted(throttle_starts, key=lambda pair: pair[1])]
    assert len(started) == 3
    # The throttle's state survived: the restart did not hand out a fresh token early.
    assert started[2] - started[0] >= 1.9
