"""Numbers reach a Cloud-mode app exactly as sent, under a signature over those exact bytes.

A keyed dev server and a Cloud-mode app (it verifies every call) talk real HTTP on loopback;
time is a virtual clock the test moves. An integer past 2**53 used to be signed over its
float64 approximation by one side and digit for digit by the other, so the run failed with 401.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from inngest_dsl import Context, InngestFunction, step
from inngest_dsl.devserver.store.records import RunStatus
from inngest_dsl.wire import _signing

from .clocked import ClockedServer, virtual_dev_server
from .conftest import cloud_client, dsl_app, send

KEY = "signkey-test-12345678"
BIG = 2**53 + 1


class Echo(InngestFunction, id="echo", event="num/echo"):
    @step("echo")
    def echo(self, ctx: Context) -> dict[str, Any]:
        return {"n": ctx.event.data["n"], "kind": type(ctx.event.data["n"]).__name__}


@asynccontextmanager
async def keyed_pair(tmp_path: Path) -> AsyncIterator[tuple[ClockedServer, str]]:
    async with (
        dsl_app(cloud_client("num", KEY), [Echo]) as url,
        virtual_dev_server(tmp_path / "db", signing_key=KEY, poll_interval=3600.0) as clocked,
    ):
        await clocked.server.syncer.sync(url)
        yield clocked, url


async def test_an_integer_past_2_53_reaches_the_function_exactly(tmp_path: Path) -> None:
    async with keyed_pair(tmp_path) as (clocked, _):
        bearer = {"Authorization": _signing.bearer_token(KEY)}  # a keyed server wants it
        await send(clocked.server, [{"name": "num/echo", "data": {"n": BIG}}], headers=bearer)
        run = await clocked.finished_run("num-echo", within="1m")
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.output == {"n": BIG, "kind": "int"}
