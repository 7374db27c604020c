"""Several triggers, cron jitter, race mode and the request ids of a class-DSL app served over
HTTP (aiohttp `serve`) on the dev server, with time on a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from inngest_dsl import (
    Context,
    CronTrigger,
    EventTrigger,
    InngestFunction,
    parallel,
    sleep,
    step,
    wait_for_event,
)
from inngest_dsl.devserver import DevServer
from inngest_dsl.devserver.store.records import RunRecord

from .clocked import ClockedServer, virtual_dev_server
from .conftest import dev_client, dsl_app, send
from .dsl_env import instant


class Review(
    InngestFunction,
    id="review",
    triggers=[
        EventTrigger("doc/submitted", expression="event.data.pages > 0"),
        EventTrigger("doc/resubmitted"),
        CronTrigger("0 9 * * *", jitter="5m"),
    ],
):
    with parallel("decide", mode="race"):
        approved = wait_for_event("doc/approved", timeout="7d", match="data.doc")
        sleep("1h")

    @step("outcome")
    async def outcome(self, ctx: Context) -> dict[str, Any]:
        return {
            "trigger": ctx.event.name,
            "approved": ctx[self.approved] is not None,
            "ids": bool(ctx.run_id and ctx.request_id and ctx.job_id),
        }


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[ClockedServer]:
    async with virtual_dev_server(
        tmp_path / "db", poll_interval=3600.0, cron_random=lambda: 0.5
    ) as clocked, dsl_app(dev_client("dsl", clocked.url), [Review]) as url:
        await clocked.server.syncer.sync(url)
        yield clocked


def _runs(server: DevServer) -> list[RunRecord]:
    return server.store.list_runs(function_id="dsl-review")


async def test_triggers_jitter_and_a_race_over_http(
    served: ClockedServer,
) -> None:
    server, virtual = served.server, served
    config = server.registry.functions["dsl-review"].config
    assert config["triggers"][2] == {"cron": "0 9 * * *", "jitter": "5m"}

    await send(server, {"name": "doc/submitted", "data": {"doc": 1, "pages": 3}})
    await send(server, {"name": "doc/submitted", "data": {"doc": 9, "pages": 0}})  # filtered
    await send(server, {"name": "doc/resubmitted", "data": {"doc": 2}})
    await virtual.run_until(lambda: len(server.store.pauses_for_event("doc/approved")) == 2)
    await send(server, {"name": "doc/approved", "data": {"doc": 1}})
    # The approval wins the race for doc 1 at once; doc 2's hour runs out; then the 9 o'clock
    # schedule fires 2m30s late (half the jitter).
    await virtual.run_until(lambda: len(_runs(server)) == 3, within="10h")
    await virtual.run_until(
        lambda: all(run.status == "Completed" for run in _runs(server)), within="2h"
    )
    outputs = {run.output["trigger"]: run.output for run in _runs(server)}
    assert outputs["doc/submitted"]["approved"] is True
    assert outputs["doc/resubmitted"]["approved"] is False
    assert outputs["inngest/scheduled.timer"]["approved"] is False
    assert all(output["ids"] for output in outputs.values())
    [cron_run] = [r for r in _runs(server) if r.output["trigger"] == "inngest/scheduled.timer"]
    assert cron_run.queued_at == instant("2026-01-01T09:02:30Z").timestamp()
