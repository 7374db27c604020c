"""A week of virtual time on `TestEnvironment`: what it costs to test long-running flows.

Three functions on the dev server's engine (in-memory store, virtual clock, in-process calls):

* `onboarding`: 100 runs (10 bursts of 10 sign-ups, one burst every 16 hours), each a step,
  a 12-hour sleep and another step, under a concurrency limit of 2;
* `digest`: debounced by 2 hours on the same events, so one run per burst, with its last event;
* `nightly`: a cron function at 03:00 UTC every day.

The script sends the bursts, moves virtual time to the end of the week (everything due in
between happens, timer by timer), checks that every run completed as it should (exit status
1 if not) and prints the CPU and wall seconds it took.

    python benchmarks/bench_virtual_time.py [--runs 100] [--bursts 10]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from collections import Counter
from typing import Any

from inngest_dsl import Concurrency, Context, Debounce, InngestFunction, sleep, step
from inngest_dsl.testing import TestEnvironment

START = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)  # a Monday
WEEK = dt.timedelta(days=7)
BURST_EVERY = dt.timedelta(hours=16)


class Onboarding(
    InngestFunction, id="onboarding", event="bench/signup", concurrency=Concurrency(limit=2)
):
    @step("welcome")
    def welcome(self, ctx: Context) -> dict[str, int]:
        return {"user": ctx.event.data["user"]}

    sleep("12h")

    @step("nudge")
    def nudge(self, ctx: Context) -> dict[str, bool]:
        return {"nudged": True}


class Digest(InngestFunction, id="digest", event="bench/signup", debounce=Debounce(period="2h")):
    @step("send digest")
    def digest(self, ctx: Context) -> dict[str, int]:
        return {"last_user": ctx.event.data["user"]}


class Nightly(InngestFunction, id="nightly", cron="0 3 * * *"):
    @step("report")
    def report(self, ctx: Context) -> dict[str, str]:
        return {"scheduled": str(ctx.event.data.get("scheduledAt"))}


async def bench(runs: int, bursts: int) -> bool:
    per_burst = runs // bursts
    cpu0, wall0 = time.process_time(), time.perf_counter()
    async with TestEnvironment([Onboarding, Digest, Nightly], now=START) as env:
        user = 0
        for burst in range(bursts):
            await env.advance_to(START + burst * BURST_EVERY)
            events: list[dict[str, Any]] = []
            for _ in range(per_burst):
                events.append({"name": "bench/signup", "data": {"user": user}})
                user += 1
            await env.send(events)
        await env.advance_to(START + WEEK)
        virtual = env.now - START
        found = {fn: await env.runs(fn) for fn in (Onboarding, Digest, Nightly)}
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0

    onboarding, digests, nightly = found[Onboarding], found[Digest], found[Nightly]
    statuses = Counter(run.status for runs_ in found.values() for run in runs_)
    problems = []
    if sorted(run.output.get("user") for run in onboarding if run.output) != list(range(user)):
        problems.append("not every sign-up's onboarding run completed exactly once")
    last_users = [run.output.get("last_user") for run in digests if run.output]
    if sorted(last_users) != [(b + 1) * per_burst - 1 for b in range(bursts)]:
        problems.append(f"the digests ran for {last_users}, not once per burst with its last")
    if len(nightly) != WEEK.days:
        problems.append(f"{len(nightly)} nightly runs in a week, expected {WEEK.days}")
    if set(statuses) != {"Completed"}:
        problems.append(f"runs ended {dict(statuses)}")

    total = sum(len(runs_) for runs_ in found.values())
    print(f"virtual time:   {virtual} ({virtual.total_seconds():,.0f} s)")
    print(
        f"runs:           {total} ({len(onboarding)} onboarding with a 12h sleep under "
        f"concurrency 2, {len(digests)} debounced digests, {len(nightly)} nightly cron)"
    )
    print(f"statuses:       {dict(statuses)}")
    print(f"wall seconds:   {wall:.3f}")
    print(f"CPU seconds:    {cpu:.3f}")
    print(f"per run:        {wall / max(total, 1) * 1e3:.2f} ms wall")
    print(f"speed-up:       {virtual.total_seconds() / wall:,.0f}x real time")
    for problem in problems:
        print(f"WRONG: {problem}")
    print("check:          " + ("OK" if not problems else "WRONG"))
    return not problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="onboarding runs (sign-ups)")
    parser.add_argument("--bursts", type=int, default=10, help="bursts they come in")
    args = parser.parse_args()
    sys.exit(0 if asyncio.run(bench(args.runs, args.bursts)) else 1)


if __name__ == "__main__":
    main()
