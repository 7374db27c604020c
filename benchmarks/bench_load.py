"""Load on the embedded dev server: 10,000 events, each starting a one-step run.

The dev server (a temporary SQLite file) and a minimal raw-protocol aiohttp app run in this
process, both on 127.0.0.1; the events go to `POST /e/{key}` in batches of 500, one request
after another. Each run makes two calls: the first runs the step (`StepRun`), the second
finishes with its result. Printed:

* ingest: events per second until the last batch was accepted (committed to SQLite);
* completion: runs completed per second, from the first event to the last run's end;
* CPU seconds this process used (dev server and app together) and wall seconds;
* the check: every event started exactly one run, which completed with the event's number,
  and every step ran exactly once (lost and duplicated must both be 0; exit status 1 if not).

    python benchmarks/bench_load.py [--events 10000] [--batch 500] [--timeout 300]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from inngest_dsl.devserver import DevServer, DevServerConfig
from inngest_dsl.devserver.store.records import RunStatus

SDK = {"X-Inngest-SDK": "bench:v1.0.0", "X-Inngest-Req-Version": "2"}
APP = "bench"
FUNCTION = f"{APP}-load"


class App:
    """One function, `load`: a step that returns the event's `n`, then the run's output."""

    def __init__(self) -> None:
        self.executed: Counter[int] = Counter()
        self.url = ""

    async def call(self, request: web.Request) -> web.Response:
        body = await request.json()
        n = body["event"]["data"]["n"]
        if "work" not in body["steps"]:
            self.executed[n] += 1
            op = {"op": "StepRun", "id": "work", "name": "work", "data": n}
            return web.json_response([op], status=206, headers=SDK)
        return web.json_response(body["steps"]["work"]["data"], headers=SDK)

    def registration(self) -> dict[str, Any]:
        step = {
            "id": "step",
            "name": "step",
            "runtime": {"type": "http", "url": f"{self.url}?fnId={FUNCTION}&stepId=step"},
        }
        function = {
            "id": FUNCTION,
            "name": "load",
            "triggers": [{"event": "load/go"}],
            "steps": {"step": step},
        }
        return {"url": self.url, "appName": APP, "sdk": "bench:v1", "functions": [function]}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def bench(events: int, batch: int, timeout: float, db: Path) -> bool:
    app = App()
    web_app = web.Application()
    web_app.router.add_post("/api/inngest", app.call)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    app.url = f"http://127.0.0.1:{runner.addresses[0][1]}/api/inngest"
    config = DevServerConfig(host="127.0.0.1", port=0, db=str(db), poll_interval=3600.0)
    try:
        async with DevServer(config) as server, aiohttp.ClientSession() as session:
            async with session.post(f"{server.url}/fn/register", json=app.registration()) as r:
                assert r.status == 200, await r.text()
            cpu0, wall0 = _cpu(), time.perf_counter()
            accepted = 0
            for start in range(0, events, batch):
                payload = [
                    {"name": "load/go", "data": {"n": n}}
                    for n in range(start, min(start + batch, events))
                ]
                async with session.post(f"{server.url}/e/bench", json=payload) as r:
                    reply = await r.json()
                    assert r.status == 200, reply
                    accepted += len(reply["ids"])
            ingest_wall = time.perf_counter() - wall0
            deadline = wall0 + timeout
            completed = 0
            while time.perf_counter() < deadline:
                completed = server.store.count_runs().get(RunStatus.COMPLETED, 0)
                if completed >= events:
                    break
                await asyncio.sleep(0.01)
            done_wall = time.perf_counter() - wall0
            cpu = _cpu() - cpu0
            runs = server.store.list_runs(limit=events + 1)
    finally:
        await runner.cleanup()

    outputs = Counter(run.output for run in runs if run.status == RunStatus.COMPLETED)
    expected = Counter(range(events))
    lost = sum((expected - outputs).values()) + sum((expected - app.executed).values())
    duplicated = (
        sum((outputs - expected).values())
        + sum((app.executed - expected).values())
        + max(len(runs) - events, 0)
    )
    print(f"events sent:          {events:,} in batches of {batch} ({accepted:,} accepted)")
    print(f"ingest:               {events / ingest_wall:,.0f} events/s ({ingest_wall:.2f} s)")
    print(
        f"runs completed:       {completed:,} in {done_wall:.2f} s from the first event: "
        f"{completed / done_wall:,.0f} runs/s ({2 * completed / done_wall:,.0f} calls/s)"
    )
    print(f"CPU seconds:          {cpu:.2f} (dev server and app, this process)")
    print(f"CPU per run:          {cpu / max(completed, 1) * 1e3:.2f} ms")
    ok = lost == duplicated == 0 and completed == events
    print(f"lost: {lost}   duplicated: {duplicated}   -> {'OK' if ok else 'WRONG'}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after (s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ok = asyncio.run(bench(args.events, args.batch, args.timeout, Path(tmp) / "load.db"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
