"""Retention: the dev server's SQLite file and memory after 50,000 runs, pruned or kept forever.

The dev server's engine in this process (`TestEnvironment`: virtual clock, calls in-process
through the serve handler) on a SQLite *file* (the environment's in-memory store is swapped
for `Store(path)`), so that the file's size can be read. A five-step function runs once per
event; the events come in hourly bursts spread over `--days` of virtual time (a steady load).
The same load runs twice, each in a fresh child process: with retention (`--retain`, the dev
server's default 7d, pruning on the engine's clock as `inngest-dsl dev` does) and without.

Printed, every tenth of the runs: virtual day, runs done, runs kept in the store, the size of
the database file (and of its WAL), the process's resident memory, and its CPU seconds.

    python benchmarks/bench_retention.py [--runs 50000] [--days 25] [--retain 7d]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import inngest_dsl.testing._environment as environment_module
from inngest_dsl import Context, InngestFunction, step
from inngest_dsl.devserver.config import parse_retain
from inngest_dsl.devserver.core.retention import Retention
from inngest_dsl.devserver.store import Store
from inngest_dsl.testing import TestEnvironment

START = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
HOUR = 3600.0


class FiveSteps(InngestFunction, id="five-steps", event="bench/order"):
    @step("validate")
    def validate(self, ctx: Context) -> dict[str, Any]:
        return {"order": ctx.event.data["order"], "valid": True}

    @step("price")
    def price(self, ctx: Context) -> dict[str, int]:
        return {"total": 100 + ctx.event.data["order"] % 50}

    @step("charge")
    def charge(self, ctx: Context) -> dict[str, str]:
        return {"charge": f"ch_{ctx.event.data['order']}"}

    @step("ship")
    def ship(self, ctx: Context) -> dict[str, str]:
        return {"label": f"L-{ctx.event.data['order']}"}

    @step("notify")
    def notify(self, ctx: Context) -> dict[str, bool]:
        return {"notified": True}


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _size_mb(path: str) -> float:
    return os.path.getsize(path) / 2**20 if os.path.exists(path) else 0.0


async def child(runs: int, days: float, retain: float | None, db: str) -> None:
    """One load: prints a JSON line per checkpoint."""
    environment_module.Store = lambda _path: Store(db)  # type: ignore[attr-defined,assignment,misc]
    hours = max(int(days * 24), 1)
    per_hour = -(-runs // hours)
    checkpoint_every = max(runs // 10, 1)
    cpu0 = time.process_time()
    async with TestEnvironment([FiveSteps], now=START) as env:
        retention = None
        if retain is not None:
            retention = Retention(
                env.store, env.clock, retain, after_pass=env.engine.executor.forget_gone
            )
            retention.start()
        sent = 0
        next_checkpoint = checkpoint_every
        hour = 0
        while sent < runs:
            await env.advance_to(START.timestamp() + hour * HOUR)
            burst = min(per_hour, runs - sent)
            await env.send(
                [{"name": "bench/order", "data": {"order": sent + i}} for i in range(burst)]
            )
            sent += burst
            hour += 1
            if sent >= next_checkpoint or sent == runs:
                next_checkpoint += checkpoint_every
                await env.settle()
                counts = env.store.count_runs()
                print(
                    json.dumps(
                        {
                            "day": (env.clock.now() - START.timestamp()) / 86400,
                            "runs": sent,
                            "kept": sum(counts.values()),
                            "completed": counts.get("Completed", 0),
                            "db_mb": _size_mb(db),
                            "wal_mb": _size_mb(db + "-wal"),
                            "rss_mb": _rss_mb(),
                            "cpu_s": time.process_time() - cpu0,
                        }
                    ),
                    flush=True,
                )
        if retention is not None:
            retention.stop()


def _run_child(args: argparse.Namespace, retain: str, folder: str) -> list[dict[str, Any]]:
    db = str(Path(folder) / f"{retain}.db")
    command = [
        sys.executable,
        __file__,
        "--child",
        "--runs",
        str(args.runs),
        "--days",
        str(args.days),
        "--retain",
        retain,
        "--db",
        db,
    ]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _table(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    print("| day | runs done | runs kept | DB MB | WAL MB | RSS MB | CPU s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['day']:.1f} | {r['runs']:,} | {r['kept']:,} | {r['db_mb']:.1f} | "
            f"{r['wal_mb']:.1f} | {r['rss_mb']:.0f} | {r['cpu_s']:.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50_000)
    parser.add_argument("--days", type=float, default=25.0)
    parser.add_argument("--retain", default="7d")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.runs, args.days, parse_retain(args.retain), args.db))
        return
    load = os.getloadavg()[0]
    print(
        f"{args.runs:,} runs of a five-step function over {args.days:g} virtual days "
        f"(load average {load:.1f} at start)"
    )
    with tempfile.TemporaryDirectory() as folder:
        kept = _run_child(args, args.retain, folder)
        forever = _run_child(args, "forever", folder)
    _table(f"retain {args.retain}", kept)
    _table("retain forever", forever)
    a, b = kept[-1], forever[-1]
    middle = kept[len(kept) // 2]
    print(
        f"\nafter {a['runs']:,} runs: DB {a['db_mb']:.1f} MB vs {b['db_mb']:.1f} MB "
        f"({b['db_mb'] / max(a['db_mb'], 1e-9):.1f}x smaller with retention), "
        f"RSS {a['rss_mb']:.0f} MB vs {b['rss_mb']:.0f} MB, CPU {a['cpu_s']:.0f} s vs "
        f"{b['cpu_s']:.0f} s; with retention the file went from {middle['db_mb']:.1f} MB "
        f"(run {middle['runs']:,}) to {a['db_mb']:.1f} MB under the same steady load"
    )


if __name__ == "__main__":
    main()
