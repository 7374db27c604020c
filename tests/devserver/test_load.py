"""Load: 10,000 events, each starting a one-step run; all complete, none lost or duplicated."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from inngest_dsl.devserver.store.records import RunStatus

from .conftest import (
    done_response,
    function_config,
    op,
    ops_response,
    raw_app,
    register,
    running_dev_server,
    send,
    wait_until,
)

EVENTS = 10_000
BATCH = 500


@pytest.mark.slow
async def test_ten_thousand_events_all_complete_once(tmp_path: Path) -> None:
    executed: Counter[int] = Counter()

    async def handler(step_id: str, body: dict[str, Any]) -> web.Response:
        n = body["event"]["data"]["n"]
        if "work" not in body["steps"]:
            executed[n] += 1
            return ops_response(op("StepRun", "work", data=n))
        return done_response(body["steps"]["work"]["data"])

    started = time.monotonic()
    async with (
        running_dev_server(str(tmp_path / "load.db")) as server,
        raw_app(handler) as app,
    ):
        app.record = False
        await register(server, app, function_config(app, "load", event="load/go"))
        for start in range(0, EVENTS, BATCH):
            batch = [{"name": "load/go", "data": {"n": n}} for n in range(start, start + BATCH)]
            reply = await send(server, batch)
            assert len(reply["ids"]) == BATCH
        await wait_until(
            lambda: server.store.count_runs().get(RunStatus.COMPLETED, 0) == EVENTS, timeout=55
        )
        runs = server.store.list_runs(limit=EVENTS + 1)
    elapsed = time.monotonic() - started
    assert len(runs) == EVENTS
    assert {run.status for run in runs} == {RunStatus.COMPLETED}
    assert sorted(run.output for run in runs) == list(range(EVENTS))
    assert executed == Counter(range(EVENTS))
    assert elapsed < 60
