"""Benchmark of event ingest into the embedded dev server (`POST /e/{key}`), on loopback only.

Two processes: the dev server (`python -m inngest_dsl.devserver dev`, a temporary SQLite
file) and this driver. The events match no function, so this is ingest alone; each response
comes after its events are committed. Measured, several rounds each:

* single events: `--single` one-event POSTs with 20 requests in flight,
* batches: `--batched` events in POSTs of 100,

as the dev server process's own CPU time per event (user + system from `/proc/<pid>/stat`:
steadier than the wall clock on a shared machine) and as events per second on the wall
clock, next to the Go dev server's figures on the same machine.

    python benchmarks/bench_ingest.py [--single 4000] [--batched 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time

import aiohttp
from bench_devserver import cpu_seconds, free_port, post, wait_http

# The Go dev server (`inngest dev`, v1.x) on the same machine, with the same scenarios.
GO_EVENTS_PER_S = {"single": 4200.0, "batched": 21000.0}
TARGET_CPU_US = {"single": 150.0, "batched": 40.0}


async def single(session: aiohttp.ClientSession, url: str, total: int) -> None:
    queue = iter(range(total))

    async def sender() -> None:
        for n in queue:
            await post(session, url, {"name": "bench/ingest", "data": {"n": n}})

    await asyncio.gather(*(sender() for _ in range(20)))


async def batched(session: aiohttp.ClientSession, url: str, total: int) -> None:
    for offset in range(0, total, 100):
        events = [{"name": "bench/batch", "data": {"n": n}} for n in range(offset, offset + 100)]
        await post(session, url, events)


Results = dict[str, list[tuple[float, float]]]


async def drive(args: argparse.Namespace, port: int, pid: int) -> Results:
    base = f"http://127.0.0.1:{port}"
    results: Results = {"single": [], "batched": []}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
        await wait_http(session, f"{base}/health")
        await single(session, f"{base}/e/bench", 200)  # warm-up
        for _ in range(args.rounds):
            for kind, send, total in (
                ("single", single, args.single),
                ("batched", batched, args.batched),
            ):
                cpu, wall = cpu_seconds(pid), time.perf_counter()
                await send(session, f"{base}/e/bench", total)
                cpu, wall = cpu_seconds(pid) - cpu, time.perf_counter() - wall
                results[kind].append((cpu / total * 1e6, total / wall))
        stored = (await (await session.get(f"{base}/")).json())["events"]
    expected = 200 + args.rounds * (args.single + args.batched)
    if stored != expected:
        raise SystemExit(f"{expected} events accepted but {stored} stored")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=4000, help="single-event POSTs a round")
    parser.add_argument("--batched", type=int, default=20000, help="events in batches a round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable, "-m", "inngest_dsl.devserver", "dev", "--port", str(port),
                "--db", os.path.join(tmp, "ingest.db"), "--poll-interval", "3600", "-q",
            ]
        )  # fmt: skip
        try:
            results = asyncio.run(drive(args, port, server.pid))
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the end; medians of {args.rounds} rounds"
    )
    print()
    print(
        "| ingest | dev server CPU µs/event | target | met | events/s (wall) "
        "| Go dev server events/s | vs Go |"
    )
    print("|---|---:|---:|:---:|---:|---:|---:|")
    for kind, label in (("single", "single-event POSTs, 20 in flight"),
                        ("batched", "batches of 100")):  # fmt: skip
        cpu = statistics.median(c for c, _ in results[kind])
        rate = statistics.median(r for _, r in results[kind])
        target = TARGET_CPU_US[kind]
        go = GO_EVENTS_PER_S[kind]
        print(
            f"| {label} | {cpu:,.0f} | <= {target:,.0f} | {'yes' if cpu <= target else 'NO'} "
            f"| {rate:,.0f} | {go:,.0f} | {rate / go:.2f}x |"
        )


if __name__ == "__main__":
    main()
