"""A backlog of queued runs: does a run that has started finish promptly, and is memory given
back once the backlog has drained?

The dev server's engine in process (`TestEnvironment`'s engine and in-process calls through
`serve/`, no HTTP), on a SQLite file as `inngest-dsl dev` keeps it (not in memory, where the
stored runs themselves would count as memory held). N events each start a run of a function
of five steps; the script then lets the engine drain the queue and measures:

* from a run's first call (its first step's body) to its finish (its last step's body), wall
  time: the median and the 90th percentile (target: median under 1 s);
* the drain: from the events being in until every run completed, CPU and wall;
* when the first 10% of runs had finished, as a share of the drain;
* the process's RSS before the events were sent and after the drain (target: within 20%).

    python benchmarks/bench_backlog.py [--runs 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import statistics
import sys
import tempfile
import time
from array import array
from pathlib import Path

from inngest_dsl import Context, InngestFunction, step
from inngest_dsl.devserver.store import Store
from inngest_dsl.testing import TestEnvironment, _environment

START = "2026-01-01T00:00:00Z"
# Sized before the baseline is read, so that what the script records is no growth of the server.
first_call = array("d")
finished = array("d")


class FiveSteps(InngestFunction, id="five-steps", event="bench/job"):
    @step("one")
    def one(self, ctx: Context) -> int:
        _once(first_call, ctx.event.data["n"])
        return 1

    @step("two")
    def two(self, ctx: Context) -> int:
        return 2

    @step("three")
    def three(self, ctx: Context) -> int:
        return 3

    @step("four")
    def four(self, ctx: Context) -> int:
        return 4

    @step("five")
    def five(self, ctx: Context) -> int:
        _once(finished, ctx.event.data["n"])
        return 5


def _once(times: array[float], n: int) -> None:
    if n >= 0 and math.isnan(times[n]):
        times[n] = time.perf_counter()


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def bench(runs: int, directory: str) -> bool:
    path = os.path.join(directory, "backlog.db")
    # `TestEnvironment` keeps its store in memory; here it is a file, as the dev server's is.
    _environment.Store = lambda _: Store(path)  # type: ignore[attr-defined]
    async with TestEnvironment([FiveSteps], now=START) as env:
        await env.send({"name": "bench/job", "data": {"n": -1}})  # warm up every code path
        first_call.extend([math.nan] * runs)
        finished.extend([math.nan] * runs)
        gc.collect()
        rss_before = rss_mib()
        for first in range(0, runs, 5000):  # the event API takes 5,000 at most
            batch = range(first, min(first + 5000, runs))
            env.engine.runs.ingest([_event(n) for n in batch])
        queued_at = time.perf_counter()
        cpu = time.process_time()
        await env.settle()
        drain_cpu = time.process_time() - cpu
        drain_wall = time.perf_counter() - queued_at
        completed = env.store.count_runs().get("Completed", 0)
    gc.collect()
    rss_after = rss_mib()
    spans = sorted(end - begin for begin, end in zip(first_call, finished, strict=True))
    ends = sorted(finished)
    tenth = ends[max(len(ends) // 10 - 1, 0)] - queued_at
    median = statistics.median(spans)
    p90 = spans[int(len(spans) * 0.9) - 1]
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; {runs:,} runs")
    print(f"first call to finish, median / p90 (s) {median:9.3f} / {p90:.3f}")
    print(f"drain, CPU / wall (s)                  {drain_cpu:9.2f} / {drain_wall:.2f}")
    print(f"first 10% of runs done after (s)       {tenth:9.2f} ({tenth / drain_wall:.0%} of it)")
    print(f"RSS before / after the drain (MiB)     {rss_before:9.1f} / {rss_after:.1f}")
    growth = rss_after / rss_before - 1
    print(f"  growth: {growth:+.0%} (target within 20%)")
    print(f"runs completed: {completed:,} of {runs + 1:,}")
    ok = completed == runs + 1 and median < 1.0 and growth <= 0.2
    print("targets met" if ok else "TARGET MISSED")
    return ok


def _event(n: int) -> dict[str, object]:
    return {"name": "bench/job", "data": {"n": n}, "id": f"job-{n}", "ts": 1767225600000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        ok = asyncio.run(bench(args.runs, directory))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
