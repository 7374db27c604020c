"""Many events at once: every event's run completes exactly once, none lost or duplicated.

How fast the dev server gets through such a load is a figure, not a test: see
`benchmarks/bench_load.py`. This checks only the outcome, on the dev server's engine in a
`TestEnvironment` (in-memory store, virtual clock, in-process calls).
"""

from __future__ import annotations

from collections import Counter

from inngest_dsl import Context, InngestFunction, step
from inngest_dsl.testing import TestEnvironment

EVENTS = 2_000
BATCH = 500

executed: Counter[int] = Counter()


class Load(InngestFunction, id="load", event="load/go"):
    @step("work")
    async def work(self, ctx: Context) -> int:
        n = int(ctx.event.data["n"])
        executed[n] += 1
        return n


async def test_every_event_of_a_large_load_completes_its_run_exactly_once() -> None:
    executed.clear()
    async with TestEnvironment([Load], now="2026-01-01T00:00:00Z") as env:
        ids: list[str] = []
        for start in range(0, EVENTS, BATCH):
            batch = [{"name": "load/go", "data": {"n": n}} for n in range(start, start + BATCH)]
            ids += await env.send(batch)
        runs = await env.runs(Load)

    assert len(set(ids)) == EVENTS
    assert len(runs) == EVENTS
    assert {run.status for run in runs} == {"Completed"}
    assert sorted(run.output["work"] for run in runs) == list(range(EVENTS))
    assert executed == Counter(range(EVENTS))
