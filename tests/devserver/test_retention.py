"""Retention: finished runs older than the window are pruned on the engine's clock; live ones stay.

On the dev server's engine in a `TestEnvironment` (virtual time), with a `Retention` on its
store and clock; and on a dev server on a virtual clock, for `--retain` and `/health`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from inngest_dsl import Context, InngestFunction, step, wait_for_event
from inngest_dsl.devserver.cli import build_parser, retain_setting
from inngest_dsl.devserver.config import DEFAULT_RETAIN, DevServerConfig, parse_retain
from inngest_dsl.devserver.core.retention import Retention, pass_interval
from inngest_dsl.devserver.store import Store
from inngest_dsl.testing import TestEnvironment

from .clocked import virtual_dev_server
from .dsl_env import START

DAY = 86400.0


class Quick(InngestFunction, id="quick", event="ret/quick"):
    @step("work")
    def work(self, ctx: Context) -> dict[str, Any]:
        return {"n": ctx.event.data["n"]}


class Parked(InngestFunction, id="parked", event="ret/parked"):
    confirmed = wait_for_event("ret/confirmed", timeout="30d")


def _counts(store: Store) -> dict[str, int]:
    tables = ("runs", "steps", "events", "event_runs", "dedup")
    return {t: store._one(f"SELECT COUNT(*) FROM {t}")[0] for t in tables}


async def test_finished_runs_past_the_window_go_and_live_runs_stay() -> None:
    async with TestEnvironment([Quick, Parked], now=START) as env:
        retention = Retention(
            env.store, env.clock, 7 * DAY, batch=2, after_pass=env.engine.executor.forget_gone
        )
        retention.start()
        try:
            old = await env.send(
                [{"name": "ret/quick", "id": f"old-{n}", "data": {"n": n}} for n in range(5)]
            )
            [parked_event] = await env.send({"name": "ret/parked"})
            await env.advance("1d")
            [recent_event] = await env.send({"name": "ret/quick", "data": {"n": 9}})
            [parked] = await env.runs(Parked)
            old_runs = [run for run in await env.runs(Quick) if run.output["n"] < 5]
            assert len(old_runs) == 5
            assert all(r.status == "Completed" for r in old_runs)
            await env.advance("5d23h")  # an hour short of the window for the old runs
            assert len(await env.runs(Quick)) == 6

            await env.advance("2h")  # past the window for the first five, not the sixth
            [kept] = await env.runs(Quick)
            assert kept.output == {"n": 9}
            assert (await env.run(parked.run_id)).status == "Running"  # older, but live
            for run in old_runs:
                assert env.store.get_run(run.run_id) is None
                assert env.store.list_steps(run.run_id) == []
            for event_id in old:
                assert env.store.get_event(event_id) is None
            assert env.store.get_event(parked_event) is not None  # its run still waits
            assert env.store.get_event(recent_event) is not None
            assert _counts(env.store) == {
                "runs": 2,
                "steps": 2,  # the kept run's step, the parked run's wait
                "events": 3,  # the two triggers, and the recent run's function.finished
                "event_runs": 2,
                "dedup": 2,
            }
            assert retention.pruned_runs == 5
            assert retention.pruned_events == 10  # the triggers and function.finished events

            # Once pruned, an old event id starts a run again: its claim went with its run.
            await env.send({"name": "ret/quick", "id": "old-0", "data": {"n": 0}})
            assert len(await env.runs(Quick)) == 2
        finally:
            retention.stop()


async def test_a_resolved_wait_leaves_nothing_held_for_later() -> None:
    async with TestEnvironment([Parked], now=START) as env:
        await env.send({"name": "ret/parked"})
        await env.send({"name": "ret/confirmed"})
        [run] = await env.runs(Parked)
        assert run.status == "Completed"
        executor = env.engine.executor
        assert env.store.queue_size() == 0
        assert executor.backlog == 1  # the 30-day expiry's timer, its work already gone
        assert executor.forget_gone() == 1
        assert executor.backlog == 0


async def test_health_counts_only_work_still_to_do(tmp_path: Path) -> None:
    async with virtual_dev_server(tmp_path / "db") as clocked:
        server = clocked.server
        server.store.enqueue("r1", "wake", "s", 0, clocked.fake_clock.now() + DAY)
        item = server.store.enqueue("r2", "wake", "s", 0, clocked.fake_clock.now() + DAY)
        server.engine.executor.push(server.store.queue_items())
        server.store.dequeue(item.id)  # done meanwhile: the timer stays, the work is gone
        async with aiohttp.ClientSession() as session, session.get(f"{server.url}/health") as r:
            body = await r.json()
        assert body["backlog"] == 1
        assert server.engine.retention is not None
        assert server.engine.retention.window == DEFAULT_RETAIN


async def test_retain_forever_keeps_everything(tmp_path: Path) -> None:
    async with virtual_dev_server(tmp_path / "db", retain=None) as clocked:
        assert clocked.server.engine.retention is None


def test_new_database_files_give_freed_pages_back(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "new.db"))
    try:
        assert store._one("PRAGMA auto_vacuum")[0] == 2  # INCREMENTAL
        with store.transaction():
            for n in range(2000):
                store.insert_event(f"e{n}", f"id{n}", "x/y", '{"pad":"' + "x" * 500 + '"}', 0, 0)
        pages, _ = store.file_pages()
        with store.transaction():
            assert store.prune_events(1.0, 5000) == 2000
        _, free = store.file_pages()
        assert free * 2 > pages
        assert store.release_free_pages() > 0
        after, free_after = store.file_pages()
        assert after < pages // 2
        assert free_after <= pages // 8
    finally:
        store.close()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("7d", 7 * DAY), ("12h", 12 * 3600.0), ("90m", 5400.0), ("0", None), ("forever", None)],
)
def test_retain_values(text: str, seconds: float | None) -> None:
    assert parse_retain(text) == seconds
    args = build_parser().parse_args(["dev", "--retain", text])
    assert args.retain == seconds


def test_a_bad_retain_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["dev", "--retain", "soon"])
    assert exited.value.code == 2
    assert "--retain" in capsys.readouterr().err
    with pytest.raises(ValueError, match="forever"):
        parse_retain("-1d")


def test_retain_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INNGEST_DEV_RETAIN", "2d")
    args: argparse.Namespace = build_parser().parse_args(["dev"])
    assert retain_setting(args) == 2 * DAY
    assert DevServerConfig().retain == DEFAULT_RETAIN == 7 * DAY


def test_passes_come_a_tenth_of_the_window_apart_within_bounds() -> None:
    assert pass_interval(7 * DAY) == 600.0
    assert pass_interval(60.0) == 6.0
    assert pass_interval(2.0) == 1.0


def test_a_pruned_event_takes_what_a_debounce_recorded_of_it() -> None:
    store = Store(":memory:")
    try:
        with store.transaction():
            store.insert_event("old", "id-old", "x/y", "{}", 0, 0)
            store.insert_event("new", "id-new", "x/y", "{}", 0, 5 * DAY)
            store.supersede_event("old", "new")
            assert store.prune_events(DAY, 10) == 1
        assert store.superseded_by("old") is None
        assert store.get_event("new") is not None
    finally:
        store.close()
