"""Armed waits at scale: what matching events against 10,000 waits costs.

On the dev server's engine in memory (`TestEnvironment`: in-process calls, virtual clock),
one function waits for `bench/confirmed` with `match="data.id"`:

* arming: N runs start and each reaches its wait (N waits armed);
* ingest cost: 200 `bench/confirmed` events that match no wait, each ingested on its own,
  first with no wait armed, then with the N waits armed (target: within 2x);
* resolving: N matching events, each ingested on its own (as N requests would be), resume
  every wait (target: under 5 s for 10,000), then the runs finish.

Prints process CPU time and wall time of each phase; exit status 1 if a target is missed or a
run did not complete.

    python benchmarks/bench_waits.py [--waits 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from inngest_dsl import Context, InngestFunction, step, wait_for_event
from inngest_dsl.devserver.core.events import normalise_events
from inngest_dsl.testing import TestEnvironment

START = "2026-01-01T00:00:00Z"
PROBES = 200


class Order(InngestFunction, id="order", event="bench/order"):
    confirmed = wait_for_event("bench/confirmed", timeout="7d", match="data.id")

    @step("ship")
    def ship(self, ctx: Context) -> dict[str, bool]:
        return {"confirmed": ctx[self.confirmed] is not None}


def _timed(work: Callable[[], object]) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return time.process_time() - cpu, time.perf_counter() - wall


def _one_by_one(env: TestEnvironment, events: list[dict[str, Any]]) -> Callable[[], None]:
    ingest = env.engine.runs.ingest

    def work() -> None:
        for event in events:
            ingest(normalise_events([event]))

    return work


def _confirmations(ids: range) -> list[dict[str, Any]]:
    return [{"name": "bench/confirmed", "data": {"id": f"order-{n}"}} for n in ids]


async def bench(waits: int) -> bool:
    async with TestEnvironment([Order], now=START) as env:
        misses = _confirmations(range(waits, waits + PROBES))
        idle = _timed(_one_by_one(env, misses[: PROBES // 2]))

        async def arm() -> None:
            for first in range(0, waits, 1000):  # the event API takes 5,000 at most
                orders = range(first, min(first + 1000, waits))
                await env.send(
                    [{"name": "bench/order", "data": {"id": f"order-{n}"}} for n in orders]
                )

        cpu, wall = time.process_time(), time.perf_counter()
        await arm()
        arming = time.process_time() - cpu, time.perf_counter() - wall
        armed = env.store._all("SELECT COUNT(*) FROM pauses")[0][0]
        loaded = _timed(_one_by_one(env, misses[PROBES // 2 :]))

        resolving = _timed(_one_by_one(env, _confirmations(range(waits))))
        cpu, wall = time.process_time(), time.perf_counter()
        await env.settle()
        finishing = time.process_time() - cpu, time.perf_counter() - wall
        completed = len(await env.runs(Order, status="Completed"))

    per_idle = [value / (PROBES // 2) * 1000 for value in idle]
    per_loaded = [value / (PROBES // 2) * 1000 for value in loaded]
    ratio = per_loaded[0] / per_idle[0]
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"waits armed: {armed:,} (arming took {arming[0]:.2f} s CPU, {arming[1]:.2f} s wall)")
    rows = [
        ("one event, no wait armed (ms)", per_idle),
        (f"one event, {waits:,} waits armed (ms)", per_loaded),
        (f"{waits:,} events resolving the waits (s)", resolving),
        (f"then the {waits:,} runs finish (s)", finishing),
    ]
    print(f"{'':42} {'CPU':>9} {'wall':>9}")
    for label, (cpu_value, wall_value) in rows:
        print(f"{label:42} {cpu_value:9.3f} {wall_value:9.3f}")
    print(f"ratio of one event's CPU, armed vs none: {ratio:.2f}x (target <= 2x)")
    print(f"runs completed: {completed:,} of {waits:,}")
    target = 5.0 * waits / 10_000
    ok = completed == waits and armed == waits and ratio <= 2.0 and resolving[0] < target
    print("targets met" if ok else "TARGET MISSED")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waits", type=int, default=10_000)
    args = parser.parse_args()
    sys.exit(0 if asyncio.run(bench(args.waits)) else 1)


if __name__ == "__main__":
    main()
