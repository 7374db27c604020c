"""Benchmark of the embedded dev server (`inngest-dsl dev`), on loopback only.

Three processes: the dev server (`python -m inngest_dsl.devserver dev`, a temporary SQLite db),
a minimal raw-protocol app (this script with `--serve-app PORT`) and this driver. Measures:

* per-step latency: median time between consecutive steps of a 20-step run (run start excluded),
* throughput: 200 runs x 5 steps, started by one batch, until all complete,
* event ingest: 2,000 single-event POSTs with 20 in flight, and 2,000 events in batches of 100,
* lateness of a 1 s sleep (app-side: next call's arrival minus the promised wake time),
* resident memory of the dev server process (VmRSS and peak VmHWM),

and prints a table with the targets and the Go dev server's reference figures.

    python benchmarks/bench_devserver.py [--runs 200] [--steps 5]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import aiohttp
from aiohttp import web

SDK = {"X-Inngest-SDK": "bench:v1.0.0", "X-Inngest-Req-Version": "2"}
APP = "bench"

# The Go dev server (inngest v1.x `inngest dev`) measured with the same scenarios.
GO = {
    "step_ms": 10.8,
    "step_cpu_ms": float("nan"),
    "steps_per_s": 267.0,
    "single_ev_s": 4200.0,
    "batch_ev_s": 21000.0,
    "sleep_late_ms": 4.0,
    "rss_mib": 206.0,
}


# -- the app (separate process) ---------------------------------------------------------------


def serve_app(port: int) -> None:
    """A raw protocol app: `steps-N` functions run N steps inline; `nap` sleeps 1 s."""
    sleeps: dict[str, float] = {}
    lateness: list[float] = []
    arrivals: dict[str, list[float]] = {}
    finished: list[str] = []

    async def call(request: web.Request) -> web.Response:
        body = await request.json()
        fn = request.query["fnId"]
        steps = body["steps"]
        if fn == f"{APP}-steps-20":
            arrivals.setdefault(body["ctx"]["run_id"], []).append(time.perf_counter())
            if len(steps) == 20:
                finished.append(body["ctx"]["run_id"])
        if fn == f"{APP}-nap":
            run_id = body["ctx"]["run_id"]
            if "nap" not in steps:
                sleeps[run_id] = time.time() + 1.0
                nap = {"op": "Sleep", "id": "nap", "name": "1s", "opts": {"duration": "1s"}}
                return web.json_response([nap], status=206, headers=SDK)
            lateness.append(time.time() - sleeps[run_id])
            return web.json_response("woke", headers=SDK)
        total = int(fn.rsplit("-", 1)[1])
        done = len(steps)
        if done < total:
            op = {"op": "StepRun", "id": f"s{done}", "name": f"s{done}", "data": done}
            return web.json_response([op], status=206, headers=SDK)
        return web.json_response(done, headers=SDK)

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(
            {"lateness": lateness, "arrivals": arrivals, "finished": len(finished)}
        )

    app = web.Application()
    app.router.add_post("/api/inngest", call)
    app.router.add_get("/stats", stats)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# -- driver -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process `pid` has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> tuple[float, float]:
    fields: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


async def wait_http(session: aiohttp.ClientSession, url: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            async with session.get(url) as response:
                if response.status < 500:
                    return
        except aiohttp.ClientError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not come up")
        await asyncio.sleep(0.05)


async def post(session: aiohttp.ClientSession, url: str, body: Any) -> Any:
    async with session.post(url, json=body) as response:
        reply = await response.json()
        if response.status != 200:
            raise SystemExit(f"POST {url}: HTTP {response.status}: {reply}")
        return reply


async def get(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as response:
        return await response.json()


def function(app_url: str, name: str, event: str) -> dict[str, Any]:
    fid = f"{APP}-{name}"
    runtime = {"type": "http", "url": f"{app_url}?fnId={fid}&stepId=step"}
    return {
        "id": fid,
        "name": name,
        "triggers": [{"event": event}],
        "steps": {"step": {"id": "step", "name": "step", "runtime": runtime}},
    }


async def until_completed(
    session: aiohttp.ClientSession, base: str, function_id: str, count: int, timeout: float
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        runs = (await get(session, f"{base}/v1/runs?function_id={function_id}&limit=1000"))["data"]
        finished = [r for r in runs if r["status"] in ("Completed", "Failed", "Cancelled")]
        if len(finished) >= count:
            return runs
        if time.monotonic() > deadline:
            raise SystemExit(f"{function_id}: {len(finished)}/{count} runs finished in time")
        await asyncio.sleep(0.02)


def start_processes(tmp: str) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes], int, int]:
    """The app and the dev server, each in its own process, on free loopback ports."""
    app_port, dev_port = free_port(), free_port()
    app_proc = subprocess.Popen([sys.executable, __file__, "--serve-app", str(app_port)])
    dev_proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inngest_dsl.devserver",
            "dev",
            "--port",
            str(dev_port),
            "--db",
            os.path.join(tmp, "bench.db"),
            "--poll-interval",
            "3600",
            "-q",
        ]
    )
    return app_proc, dev_proc, app_port, dev_port


async def drive(
    args: argparse.Namespace, app_port: int, dev_port: int, dev_pid: int
) -> dict[str, float]:
    app_url = f"http://127.0.0.1:{app_port}/api/inngest"
    base = f"http://127.0.0.1:{dev_port}"
    results: dict[str, float] = {}
    lost = 0
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:
        await wait_http(session, f"{base}/health")
        await wait_http(session, f"http://127.0.0.1:{app_port}/stats")
        functions = [
            function(app_url, "steps-20", "bench/twenty"),
            function(app_url, f"steps-{args.steps}", "bench/many"),
            function(app_url, "nap", "bench/nap"),
        ]
        await post(
            session,
            f"{base}/fn/register",
            {"url": app_url, "appName": APP, "functions": functions},
        )

        # Per-step latency: the time between consecutive calls of a 20-step run, one run
        # at a time (each call runs one step; the first call, the run start, is excluded).
        # The dev server's own CPU time over these runs, divided by the calls it made, is
        # the CPU per step (event, run start and finish included); completion is watched on
        # the app, so no polling of the dev server adds to it.
        stats_url = f"http://127.0.0.1:{app_port}/stats"
        cpu_start = cpu_seconds(dev_pid)
        for run in range(args.latency_runs):
            await post(session, f"{base}/e/bench", {"name": "bench/twenty"})
            deadline = time.monotonic() + 60
            while (await get(session, stats_url))["finished"] <= run:
                if time.monotonic() > deadline:
                    raise SystemExit("a 20-step run did not finish in time")
                await asyncio.sleep(0.005)
        cpu_used = cpu_seconds(dev_pid) - cpu_start
        arrivals = (await get(session, stats_url))["arrivals"]
        results["step_cpu_ms"] = cpu_used * 1000 / sum(len(t) for t in arrivals.values())
        latencies = [
            (b - a) * 1000 for times in arrivals.values() for a, b in itertools.pairwise(times)
        ]
        results["step_ms"] = statistics.median(latencies)
        await until_completed(session, base, f"{APP}-steps-20", args.latency_runs, 60)

        # Throughput: N runs x S steps from one batch.
        fid = f"{APP}-steps-{args.steps}"
        started = time.perf_counter()
        await post(session, f"{base}/e/bench", [{"name": "bench/many"}] * args.runs)
        runs = await until_completed(session, base, fid, args.runs, 120)
        elapsed = time.perf_counter() - started
        results["steps_per_s"] = args.runs * args.steps / elapsed
        lost += sum(1 for r in runs if r["status"] != "Completed" or r["output"] != args.steps)
        lost += args.runs - len(runs)

        # Ingest: single events, 20 in flight.
        total = args.events
        queue = iter(range(total))

        async def sender() -> None:
            for n in queue:
                await post(session, f"{base}/e/bench", {"name": "bench/ingest", "data": {"n": n}})

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(20)))
        results["single_ev_s"] = total / (time.perf_counter() - started)

        # Ingest: batches of 100.
        started = time.perf_counter()
        for offset in range(0, total, 100):
            batch = [{"name": "bench/batch", "data": {"n": n}} for n in range(offset, offset + 100)]
            await post(session, f"{base}/e/bench", batch)
        results["batch_ev_s"] = total / (time.perf_counter() - started)
        seen = (await get(session, f"{base}/"))["events"]
        expected = args.latency_runs + 1 + 2 * total
        # Every accepted event is stored, plus one function.finished per run.
        expected += args.latency_runs + args.runs
        lost += max(0, expected - seen)

        # Sleep lateness: several 1 s sleeps.
        for _ in range(args.sleeps):
            await post(session, f"{base}/e/bench", {"name": "bench/nap"})
        await until_completed(session, base, f"{APP}-nap", args.sleeps, 30)
        late = (await get(session, f"http://127.0.0.1:{app_port}/stats"))["lateness"]
        results["sleep_late_ms"] = statistics.median(late) * 1000
        results["sleep_late_max_ms"] = max(late) * 1000

        results["rss_mib"], results["hwm_mib"] = rss_mib(dev_pid)
        results["lost"] = float(lost)
    return results


def table(results: dict[str, float], args: argparse.Namespace) -> str:
    rows = [
        ("per-step latency (20-step run, median)", "step_ms", "ms", "<= 5", lambda v: v <= 5, True),
        ("dev server CPU per step (20-step runs)", "step_cpu_ms", "ms", "<= 0.5",
         lambda v: v <= 0.5, True),
        (f"throughput ({args.runs} runs x {args.steps} steps)", "steps_per_s", "steps/s", ">= 300",
         lambda v: v >= 300, False),
        (f"ingest, single POSTs ({args.events}, 20 in flight)", "single_ev_s", "ev/s", ">= 5,000",
         lambda v: v >= 5000, False),
        (f"ingest, batches of 100 ({args.events})", "batch_ev_s", "ev/s", ">= 20,000",
         lambda v: v >= 20000, False),
        ("1 s sleep lateness (median)", "sleep_late_ms", "ms", "< 10", lambda v: v < 10, True),
        ("resident memory (VmRSS)", "rss_mib", "MiB", "< 150", lambda v: v < 150, True),
    ]  # fmt: skip
    lines = [
        f"| {'measure':<44} | {'result':>14} | {'target':>10} | {'met':^4} | {'Go dev server':>13} "
        f"| {'vs Go':>7} |",
        f"|{'-' * 46}|{'-' * 16}:|{'-' * 11}:|:{'-' * 4}:|{'-' * 14}:|{'-' * 8}:|",
    ]
    for label, key, unit, target, ok, lower_is_better in rows:
        value = results[key]
        go = GO[key]
        ratio = go / value if lower_is_better else value / go
        shown = f"{value:,.2f} {unit}" if value < 10 else f"{value:,.1f} {unit}"
        shown = shown if value < 1000 else f"{value:,.0f} {unit}"
        go_shown = f"{go:,.1f} {unit}" if go < 1000 else f"{go:,.0f} {unit}"
        if go != go:  # not measured for the Go dev server
            go_shown, ratio_shown = "-", "-"
        else:
            ratio_shown = f"{ratio:.2f}x"
        lines.append(
            f"| {label:<44} | {shown:>14} | {target:>10} | {'yes' if ok(value) else 'NO':^4} "
            f"| {go_shown:>13} | {ratio_shown:>7} |"
        )
    lost = int(results["lost"])
    lines.append(
        f"| {'runs/events lost or wrong':<44} | {lost:>14} | {'0':>10} | "
        f"{'yes' if lost == 0 else 'NO':^4} | {'-':>13} | {'-':>7} |"
    )
    lines.append("")
    lines.append(
        f"sleep lateness max {results['sleep_late_max_ms']:.1f} ms; peak RSS (VmHWM) "
        f"{results['hwm_mib']:.1f} MiB. 'vs Go' > 1 means better than the Go dev server."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve-app", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--latency-runs", type=int, default=50)
    parser.add_argument("--sleeps", type=int, default=5)
    args = parser.parse_args()
    if args.serve_app:
        serve_app(args.serve_app)
        return
    with tempfile.TemporaryDirectory() as tmp:
        app_proc, dev_proc, app_port, dev_port = start_processes(tmp)
        try:
            results = asyncio.run(drive(args, app_port, dev_port, dev_proc.pid))
        finally:
            for proc in (dev_proc, app_proc):
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
    print(table(results, args))


if __name__ == "__main__":
    main()
